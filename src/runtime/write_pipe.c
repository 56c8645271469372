/* The image writer's helper thread: while the checkpoint thread (or the forked
 * writer) walks memory and writes chunks, a second thread compresses the
 * chunks queued ahead (image/chunk.c). It is a bare clone(): no glibc thread,
 * so nothing here takes a lock that a held application thread may own, and it
 * shares the creating thread's TLS, which it never touches. It exists only
 * while memory is written, with every signal blocked, and is invisible to the
 * program (it is gone before the program's threads run again or the writer
 * child exits). STASIS_WRITE_THREADS=1 turns it off. */
#include "runtime/write_pipe.h"
#include "runtime/arena.h"
#include "runtime/state.h"
#include "runtime/libc.h"
#include "image/image.h"
#include "common/log.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#define HELPER_STACK (256u << 10)
#define HELPER_FLAGS                                                                               \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_CHILD_CLEARTID)

/* clone(2) with flags onto a new stack, where the child calls fn(arg) and then
 * exits (only itself). Returns the child's tid or -errno. */
static long clone_thread(long flags, void *stack_top, uint32_t *ctid, void (*fn)(void *), void *arg)
{
	void **sp = (void **)(((uintptr_t)stack_top & ~(uintptr_t)15) - 16);
	long ret;
	sp[0] = arg;
	sp[1] = (void *)fn;
	register long r10 __asm__("r10") = (long)ctid;
	register long r8 __asm__("r8") = 0;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t" /* the child: the end of its call chain */
			 "pop %%rdi\n\t"
			 "pop %%rax\n\t"
			 "call *%%rax\n\t"
			 "mov $60, %%eax\n\t" /* exit(0): this thread only */
			 "xor %%edi, %%edi\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"((long)SYS_clone), "D"(flags), "S"(sp), "d"(0L), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static void helper_main(void *w)
{
	img_pipe_helper(w);
}

int rt_one_thread(void)
{
	const char *v = getenv("STASIS_WRITE_THREADS");
	return v && atoi(v) == 1;
}

static int helper_wanted(const struct img_writer *w)
{
	return w->cctx && !rt_one_thread();
}

/* The pipe's slots and the helper's zstd context, from the arena. */
static struct img_pipe *pipe_alloc(const struct img_writer *w)
{
	size_t ws = ZSTD_estimateCCtxSize(w->level);
	struct img_pipe *p = rt_alloc(sizeof(*p));
	void *work = rt_alloc(ws);
	if (!p || !work)
		return NULL;
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < IMG_PIPE_SLOTS; i++)
		if (!(p->slot[i].zbuf = rt_alloc(w->zbuf_size)))
			return NULL;
	p->cctx = ZSTD_initStaticCCtx(work, ws);
	return p->cctx ? p : NULL;
}

/* fn(arg) on a bare thread made with flags, every signal blocked. -1 with
 * errno if none could be made. */
static int start_thread(struct rt_helper *h, long flags, void (*fn)(void *), void *arg)
{
	sigset_t all, old;
	char *stack = rt_alloc(HELPER_STACK);
	memset(h, 0, sizeof(*h));
	if (!stack)
		return errno = ENOMEM, -1;
	h->ctid = 1; /* the kernel clears it when the helper is gone */
	sigfillset(&all);
	REAL(syscall)(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
	long tid = clone_thread(flags, stack + HELPER_STACK, &h->ctid, fn, arg);
	REAL(syscall)(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
	if (tid < 0)
		return errno = (int)-tid, -1;
	h->running = 1;
	h->tid = tid;
	return 0;
}

int rt_helper_start(struct rt_helper *h, void (*fn)(void *), void *arg)
{
	return start_thread(h, HELPER_FLAGS, fn, arg);
}

void rt_helper_join(struct rt_helper *h)
{
	uint32_t v;
	while (h->running && (v = __atomic_load_n(&h->ctid, __ATOMIC_ACQUIRE)) != 0)
		REAL(syscall)(SYS_futex, (long)&h->ctid, FUTEX_WAIT, v, 0, 0, 0);
	h->running = 0;
}

void rt_pipe_start(struct img_writer *w, struct rt_helper *h)
{
	struct img_pipe *p = helper_wanted(w) ? pipe_alloc(w) : NULL;
	memset(h, 0, sizeof(*h));
	if (!p)
		return; /* one thread does it all, as without a helper */
	img_writer_pipe(w, p);
	if (rt_helper_start(h, helper_main, w) < 0) {
		img_writer_pipe(w, NULL);
		return;
	}
	debug("pid %d: image writer helper thread %ld compresses beside thread %d", getpid(),
	      h->tid, (int)rt_gettid());
}

int rt_pipe_end(struct img_writer *w, struct rt_helper *h)
{
	if (!h->running)
		return 0;
	img_pipe_stop(w);
	rt_helper_join(h);
	int rc = img_writer_flush(w); /* what the helper left, on this thread */
	img_writer_pipe(w, NULL);
	return rc;
}

/* Run fn(arg) on a bare clone of this thread that has a copy of the descriptor
 * table instead of sharing it (no CLONE_FILES), every signal blocked, and wait
 * until it is gone. What it opens while the program's threads run takes no
 * number from the program: an open() on the shared table takes the lowest free
 * number, which a thread of the program may be about to dup2() onto (dash and
 * bash close fd 1 before they dup2 a redirection onto it: the dup2 fails with
 * EBUSY, or replaces the runtime's descriptor, which the runtime then closes).
 * Returns 0, or -1 with errno if no thread could be made (fn did not run). */
int rt_run_private_files(void (*fn)(void *), void *arg)
{
	struct rt_helper h;
	if (start_thread(&h, HELPER_FLAGS & ~(long)CLONE_FILES, fn, arg) < 0)
		return -1;
	rt_helper_join(&h);
	return 0;
}
