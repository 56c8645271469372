/* The restore blob: freestanding, raw syscalls, no libc. It runs in the
 * restored process after the restorer has premapped every region, and swaps
 * the address space: unmap the restorer, move the vDSO and every region to its
 * final address, set the mm fields, clone the threads with their exact TIDs and
 * TLS, and resume every thread at its save point. Any failure is logged to the
 * given fd and ends the process: there is nothing left to go back to. */
#include "restore/blob/blob.h"
#include "restore/blob/abi.h"

#include <stddef.h>
#include <stdint.h>

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define PR_SET_MM 35
#define PR_SET_MM_MAP 14
#define ARCH_SET_FS 0x1002
#define RSEQ_FLAG_UNREGISTER 1

#define CLONE_VM 0x00000100
#define CLONE_FS 0x00000200
#define CLONE_FILES 0x00000400
#define CLONE_SIGHAND 0x00000800
#define CLONE_THREAD 0x00010000
#define CLONE_SYSVSEM 0x00040000
#define CLONE_SETTLS 0x00080000

struct clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
	    set_tid_size, cgroup;
};

long blob_clone_thread(struct clone_args *args, uint64_t size, const struct img_context *ctx);
void blob_resume(const struct img_context *ctx) __attribute__((noreturn));
void blob_main(struct blob_plan *p) __attribute__((noreturn, used));

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* ssize_t write(int fd, const void *buf, size_t count); */
static long sys_write(int fd, const void *buf, uint64_t n)
{
	return sys6(NR_write, fd, (long)buf, n, 0, 0, 0);
}

/* int munmap(void *addr, size_t length); */
static long sys_munmap(uint64_t addr, uint64_t len)
{
	return sys6(NR_munmap, addr, len, 0, 0, 0, 0);
}

/* void *mremap(void *old, size_t old_size, size_t new_size, int flags, void *new); */
static long sys_mremap(uint64_t old, uint64_t len, uint64_t dst)
{
	return sys6(NR_mremap, old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst, 0);
}

/* int prctl(int option, unsigned long arg2, ...); */
static long sys_prctl(long opt, long a2, long a3, long a4)
{
	return sys6(NR_prctl, opt, a2, a3, a4, 0, 0);
}

static uint64_t slen(const char *s)
{
	uint64_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void log_str(int fd, const char *s)
{
	sys_write(fd, s, slen(s));
}

static void log_hex(int fd, uint64_t v)
{
	char b[19];
	b[0] = '0';
	b[1] = 'x';
	for (int i = 0; i < 16; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	b[18] = ' ';
	sys_write(fd, b, sizeof(b));
}

__attribute__((noreturn)) static void fail(struct blob_plan *p, const char *what, uint64_t a,
					   long err)
{
	log_str(p->log_fd, "stasis: error: ");
	log_str(p->log_fd, what);
	log_str(p->log_fd, " at ");
	log_hex(p->log_fd, a);
	log_str(p->log_fd, "errno ");
	log_hex(p->log_fd, (uint64_t)-err);
	log_str(p->log_fd, "\n");
	sys6(NR_kill, 1, BLOB_ABORT_SIGNAL, 0, 0, 0, 0); /* the restart fails as a whole */
	sys6(NR_exit_group, 1, 0, 0, 0, 0, 0);
	__builtin_unreachable();
}

static void *at(struct blob_plan *p, uint64_t off)
{
	return (char *)p + off;
}

static void unmap_restorer(struct blob_plan *p)
{
	struct blob_range *r = at(p, p->unmap_off);
	for (uint32_t i = 0; i < p->nunmap; i++) {
		long e = sys_munmap(r[i].addr, r[i].len);
		if (e < 0)
			fail(p, "cannot unmap the restorer", r[i].addr, e);
	}
}

/* The vDSO and vvar pages may overlap their own destinations: move them away
 * first, then into place. */
static void move_specials(struct blob_plan *p)
{
	struct blob_move *m = at(p, p->special_off);
	uint64_t tmp = p->tmp_addr;
	for (uint32_t i = 0; i < p->nspecial; i++) {
		long e = sys_mremap(m[i].src, m[i].len, tmp);
		if (e < 0)
			fail(p, "cannot move the vdso", m[i].src, e);
		m[i].src = tmp;
		tmp += m[i].len;
	}
	for (uint32_t i = 0; i < p->nspecial; i++) {
		long e = sys_mremap(m[i].src, m[i].len, m[i].dst);
		if (e < 0)
			fail(p, "cannot move the vdso", m[i].dst, e);
	}
}

static void move_regions(struct blob_plan *p)
{
	struct blob_move *m = at(p, p->moves_off);
	for (uint32_t i = 0; i < p->nmoves; i++) {
		long e = sys_mremap(m[i].src, m[i].len, m[i].dst);
		if (e < 0 || (uint64_t)e != m[i].dst)
			fail(p, "cannot move a memory region", m[i].dst, e);
	}
	if (p->scratch_len)
		sys_munmap(p->scratch_addr, p->scratch_len);
}

static void clone_threads(struct blob_plan *p)
{
	struct blob_thread *t = at(p, p->threads_off);
	for (uint32_t i = 0; i < p->nthreads; i++) {
		if (t[i].main)
			continue;
		uint64_t tid = t[i].tid;
		struct clone_args a = {
		    .flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			     CLONE_SYSVSEM | CLONE_SETTLS,
		    .stack = t[i].stack_top - BLOB_THREAD_STACK,
		    .stack_size = BLOB_THREAD_STACK,
		    .tls = t[i].fs_base,
		    .set_tid = (uint64_t)(uintptr_t)&tid,
		    .set_tid_size = 1,
		};
		long e = blob_clone_thread(&a, sizeof(a), &t[i].ctx);
		if (e < 0)
			fail(p, "cannot create thread (clone3 set_tid) for tid", tid, e);
	}
}

/* Every signal blocked, glibc's own two as well (the restorer's mask, set
 * through glibc, lets 32 and 33 through). The threads cloned below inherit
 * it, and each takes its own mask back when it returns from the checkpoint
 * signal's handler; a signal sent before, e.g. by a POSIX timer the runtime
 * creates again, waits until then. Let through to the SIGEV_THREAD helper
 * (runtime/timer_thread.c), whose timer signal is ignored, the signal was
 * discarded, and Linux 6.13+ keeps a timer whose signal was ignored stopped
 * until the signal is no longer ignored: it never ticked again. */
static void block_every_signal(void)
{
	uint64_t all = ~0ull;
	sys6(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&all, 0, sizeof(all), 0, 0);
}

void blob_main(struct blob_plan *p)
{
	struct blob_thread *t = at(p, p->threads_off);
	block_every_signal();
	if (p->rseq_addr)
		sys6(NR_rseq, p->rseq_addr, p->rseq_len, RSEQ_FLAG_UNREGISTER, p->rseq_sig, 0, 0);
	unmap_restorer(p);
	if (p->fault == 1) /* fault injection (common/fault.h): only the blob is left */
		fail(p, "injected fault (rst-blob)", 0, -5 /* EIO */);
	if (p->fault == 2)
		sys6(NR_kill, sys6(NR_getpid, 0, 0, 0, 0, 0, 0), 19 /* SIGSTOP */, 0, 0, 0, 0);
	move_specials(p);
	move_regions(p);
	p->mm.auxv = (uint64_t)(uintptr_t)p->auxv;
	long e = sys_prctl(PR_SET_MM, PR_SET_MM_MAP, (long)&p->mm, sizeof(p->mm));
	if (e < 0)
		fail(p, "cannot restore the mm fields (prctl PR_SET_MM_MAP)", p->mm.brk, e);
	sys6(NR_close_range, p->close_from, ~0u, 0, 0, 0, 0);
	clone_threads(p);
	for (uint32_t i = 0; i < p->nthreads; i++) {
		if (!t[i].main)
			continue;
		sys6(NR_arch_prctl, ARCH_SET_FS, t[i].fs_base, 0, 0, 0, 0);
		blob_resume(&t[i].ctx);
	}
	fail(p, "no main thread in the plan", 0, 0);
}
