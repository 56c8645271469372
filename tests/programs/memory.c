/* memory: every kind of mapping across checkpoint/restart.
 *
 *   memory VERIFY_FILE        (files memory.private, memory.shared in the cwd)
 *
 * heap (brk and malloc) that keeps growing after restart, a thread's stack
 * contents, main-stack recursion deeper after restart than before, a 32 GiB
 * PROT_NONE reservation with a small committed part, a MAP_NORESERVE region,
 * read-only pages (writes must still fault), mremap'd regions (grown and
 * moved), MAP_SHARED|MAP_ANONYMOUS, private and shared file mappings,
 * MADV_DONTNEED'd pages, and the vDSO clocks.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define PG 4096UL
#define MiB (1024UL * 1024)
#define GiB (1024UL * MiB)

static uint8_t pat(uintptr_t i, unsigned seed)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)seed * 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

static void fill(void *p, size_t n, unsigned seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pat(i, seed);
}

/* index of the first byte that differs from the pattern, or -1 */
static long check(const void *p, size_t n, unsigned seed)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(i, seed))
			return (long)i;
	return -1;
}

static long check_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return (long)i;
	return -1;
}

#define CHECK_PAT(p, n, seed, what)                                                                \
	do {                                                                                       \
		long at_ = check((p), (n), (seed));                                                \
		zd_check(at_ < 0, "%s: byte %ld differs", (what), at_);                            \
	} while (0)

/* ---- faults: does a write/read at addr raise SIGSEGV? ---- */
static sigjmp_buf fault_jmp;
static volatile int faulted;

static void on_segv(int sig)
{
	(void)sig;
	faulted = 1;
	siglongjmp(fault_jmp, 1);
}

static int write_faults(volatile uint8_t *addr)
{
	faulted = 0;
	if (!sigsetjmp(fault_jmp, 1))
		*addr = 0x5a;
	return faulted;
}

static int read_faults(volatile uint8_t *addr)
{
	faulted = 0;
	if (!sigsetjmp(fault_jmp, 1))
		(void)*addr;
	return faulted;
}

/* ---- /proc/self/maps ---- */
static int maps_line(void *addr, uintptr_t *start, uintptr_t *end, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &s, &e, p) != 3)
			continue;
		if ((uintptr_t)addr >= s && (uintptr_t)addr < e) {
			*start = s;
			*end = e;
			memcpy(perms, p, 5);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static int is_mapped(void *addr)
{
	unsigned char v;
	return mincore((void *)((uintptr_t)addr & ~(PG - 1)), PG, &v) == 0;
}

/* ---- recursion on the main stack ---- */
__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
	volatile uint8_t frame[1024];
	for (unsigned i = 0; i < sizeof(frame); i += 64)
		frame[i] = (uint8_t)(depth + i);
	unsigned r = depth ? recurse(depth - 1) : 0;
	for (unsigned i = 0; i < sizeof(frame); i += 64)
		r += frame[i] == (uint8_t)(depth + i);
	return r;
}

/* ---- a thread with data on its stack ---- */
static atomic_int stack_go, stack_ready;
static volatile long stack_result = -2;

static void *stack_thread(void *arg)
{
	uint8_t local[96 * 1024];
	(void)arg;
	fill(local, sizeof(local), 77);
	__asm__ volatile("" ::"r"(local) : "memory");
	atomic_store(&stack_ready, 1);
	while (!atomic_load(&stack_go))
		zd_sleep_ms(5);
	__asm__ volatile("" ::"r"(local) : "memory");
	stack_result = check(local, sizeof(local), 77);
	/* and the thread's stack still takes a deep call */
	unsigned r = recurse(2000); /* ~2 MiB of an 8 MiB thread stack */
	if (r != 2001 * 16)
		stack_result = -3;
	return NULL;
}

static int64_t ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void check_clocks(const char *when)
{
	struct timespec v, s;
	struct timeval tv;
	clock_gettime(CLOCK_REALTIME, &v);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &s);
	zd_check(llabs(ns(v) - ns(s)) < 1000000000LL,
		 "%s: vDSO CLOCK_REALTIME %lld differs from the syscall's %lld", when,
		 (long long)ns(v), (long long)ns(s));
	clock_gettime(CLOCK_MONOTONIC, &v);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s);
	zd_check(llabs(ns(v) - ns(s)) < 1000000000LL,
		 "%s: vDSO CLOCK_MONOTONIC %lld differs from the syscall's %lld", when,
		 (long long)ns(v), (long long)ns(s));
	gettimeofday(&tv, NULL);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &s);
	zd_check(llabs((int64_t)tv.tv_sec - s.tv_sec) <= 1, "%s: gettimeofday %ld, syscall %ld",
		 when, (long)tv.tv_sec, (long)s.tv_sec);
	time_t t = time(NULL);
	zd_check(llabs((int64_t)t - s.tv_sec) <= 1, "%s: time() %ld, syscall %ld", when, (long)t,
		 (long)s.tv_sec);
	/* the clock moves */
	clock_gettime(CLOCK_MONOTONIC, &v);
	zd_sleep_ms(10);
	clock_gettime(CLOCK_MONOTONIC, &s);
	zd_check(ns(s) - ns(v) >= 9000000, "%s: CLOCK_MONOTONIC advanced %lld ns in 10 ms", when,
		 (long long)(ns(s) - ns(v)));
}

#define NSMALL 3000

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);

	/* heap: many small brk blocks and one big mmap'ed block */
	static uint8_t *small[NSMALL];
	static size_t small_len[NSMALL];
	for (int i = 0; i < NSMALL; i++) {
		small_len[i] = 16 + (i * 37) % 2000;
		small[i] = malloc(small_len[i]);
		fill(small[i], small_len[i], 1000 + i);
	}
	size_t big_len = 32 * MiB;
	uint8_t *big = malloc(big_len);
	fill(big, big_len, 5);

	/* stack thread */
	pthread_t st;
	pthread_create(&st, NULL, stack_thread, NULL);

	/* main stack: recursion before */
	unsigned r = recurse(512);
	zd_check(r == 513 * 16, "recursion before: %u", r);

	/* 32 GiB PROT_NONE reservation, 1 MiB of it committed */
	size_t res_len = 32 * GiB;
	uint8_t *res =
	    mmap(NULL, res_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) {
		zd_fail("mmap 32 GiB PROT_NONE: %s", strerror(errno));
		return zd_finish();
	}
	uint8_t *res_used = res + 4 * GiB;
	mprotect(res_used, MiB, PROT_READ | PROT_WRITE);
	fill(res_used, MiB, 6);

	/* MAP_NORESERVE 1 GiB, a few pages touched */
	size_t nr_len = GiB;
	uint8_t *nr = mmap(NULL, nr_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (size_t off = 0; off < nr_len; off += 64 * MiB)
		fill(nr + off, PG, 7 + off / MiB);

	/* read-only pages */
	uint8_t *ro =
	    mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(ro, 8 * PG, 8);
	mprotect(ro, 8 * PG, PROT_READ);
	zd_check(write_faults(ro + 3 * PG + 5), "before: write to read-only page did not fault");

	/* mremap: grow (may move), then move to a fixed new place */
	uint8_t *mr =
	    mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(mr, 4 * PG, 9);
	mr = mremap(mr, 4 * PG, 64 * PG, MREMAP_MAYMOVE);
	fill(mr + 4 * PG, 60 * PG, 10);
	uint8_t *target = mmap(NULL, 128 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(target, 128 * PG);
	uint8_t *old_mr = mr;
	mr = mremap(mr, 64 * PG, 64 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, target + 32 * PG);
	if (mr == MAP_FAILED) {
		zd_fail("mremap fixed: %s", strerror(errno));
		return zd_finish();
	}

	/* MAP_SHARED | MAP_ANONYMOUS */
	size_t sh_len = 2 * MiB;
	uint8_t *sh = mmap(NULL, sh_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(sh, sh_len, 11);

	/* private file mapping: 16 pages from the file, pages 2 and 9 modified */
	size_t pf_len = 16 * PG;
	uint8_t *filebuf = malloc(pf_len);
	fill(filebuf, pf_len, 12);
	int pfd = open("memory.private", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (pfd < 0 || write(pfd, filebuf, pf_len) != (ssize_t)pf_len) {
		zd_fail("memory.private: %s", strerror(errno));
		return zd_finish();
	}
	uint8_t *pf = mmap(NULL, pf_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, pfd, 0);
	close(pfd);
	fill(pf + 2 * PG, PG, 13);
	fill(pf + 9 * PG, PG, 14);

	/* shared file mapping: written before the checkpoint and after restart */
	size_t sf_len = 8 * PG;
	int sfd = open("memory.shared", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (sfd < 0 || ftruncate(sfd, sf_len) < 0) {
		zd_fail("memory.shared: %s", strerror(errno));
		return zd_finish();
	}
	uint8_t *sf = mmap(NULL, sf_len, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	close(sfd);
	fill(sf, 4 * PG, 15);

	/* MADV_DONTNEED: pages 4-7 of 16 read as zero */
	uint8_t *dn =
	    mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(dn, 16 * PG, 16);
	madvise(dn + 4 * PG, 4 * PG, MADV_DONTNEED);
	zd_check(check_zero(dn + 4 * PG, 4 * PG) < 0, "before: MADV_DONTNEED'd pages not zero");

	check_clocks("before");
	while (!atomic_load(&stack_ready))
		zd_sleep_ms(1);
	void *brk_before = sbrk(0);

	zd_ready();
	zd_wait();

	/* brk where it was, then the heap contents */
	void *brk_after = sbrk(0);
	zd_check(brk_after == brk_before, "program break %p, was %p", brk_after, brk_before);
	for (int i = 0; i < NSMALL; i++) {
		long at = check(small[i], small_len[i], 1000 + i);
		if (at >= 0) {
			zd_fail("heap block %d (%zu bytes at %p): byte %ld differs", i,
				small_len[i], (void *)small[i], at);
			break;
		}
	}
	CHECK_PAT(big, big_len, 5, "32 MiB malloc block");

	/* thread stack */
	atomic_store(&stack_go, 1);
	pthread_join(st, NULL);
	zd_check(stack_result == -1, "thread stack: %s (%ld)",
		 stack_result == -3 ? "deep call failed" : "contents differ at byte", stack_result);

	/* reservation: same place and size, PROT_NONE, committed part intact, usable */
	uintptr_t s, e;
	char perms[5];
	if (!maps_line(res, &s, &e, perms))
		zd_fail("32 GiB reservation at %p is gone", (void *)res);
	else
		zd_check(s <= (uintptr_t)res && e == (uintptr_t)res_used && !strcmp(perms, "---p"),
			 "reservation: %lx-%lx %s, want %p-%p ---p", (unsigned long)s,
			 (unsigned long)e, perms, (void *)res, (void *)res_used);
	if (!maps_line(res_used + MiB, &s, &e, perms))
		zd_fail("upper part of the reservation is gone");
	else
		zd_check(s == (uintptr_t)res_used + MiB && e >= (uintptr_t)res + res_len &&
			     !strcmp(perms, "---p"),
			 "upper reservation: %lx-%lx %s", (unsigned long)s, (unsigned long)e,
			 perms);
	zd_check(read_faults(res + 5 * PG), "reading the PROT_NONE reservation did not fault");
	CHECK_PAT(res_used, MiB, 6, "committed part of the reservation");
	uint8_t *more = res + 16 * GiB;
	if (mprotect(more, 64 * MiB, PROT_READ | PROT_WRITE) < 0)
		zd_fail("committing more of the reservation: %s", strerror(errno));
	else {
		fill(more, 64 * MiB, 17);
		CHECK_PAT(more, 64 * MiB, 17, "newly committed reservation");
	}

	/* MAP_NORESERVE */
	for (size_t off = 0; off < nr_len; off += 64 * MiB) {
		long at = check(nr + off, PG, 7 + off / MiB);
		zd_check(at < 0, "MAP_NORESERVE page at +%zu MiB: byte %ld differs", off / MiB, at);
		zd_check(check_zero(nr + off + PG, PG) < 0,
			 "MAP_NORESERVE untouched page not zero");
	}
	fill(nr + 3 * PG, PG, 18);
	CHECK_PAT(nr + 3 * PG, PG, 18, "MAP_NORESERVE written after restart");

	/* read-only */
	CHECK_PAT(ro, 8 * PG, 8, "read-only pages");
	zd_check(write_faults(ro + 3 * PG + 5), "write to read-only page did not fault");
	zd_check(maps_line(ro, &s, &e, perms) && !strcmp(perms, "r--p"),
		 "read-only pages mapped %s", perms);

	/* mremap'd */
	CHECK_PAT(mr, 4 * PG, 9, "mremap'd region (original pages)");
	CHECK_PAT(mr + 4 * PG, 60 * PG, 10, "mremap'd region (grown pages)");
	zd_check(!is_mapped(old_mr), "the old place of the moved region is mapped again");
	zd_check(maps_line(mr, &s, &e, perms) && s == (uintptr_t)mr && e == (uintptr_t)mr + 64 * PG,
		 "mremap'd region maps as %lx-%lx, want %p-%p", (unsigned long)s, (unsigned long)e,
		 (void *)mr, (void *)(mr + 64 * PG));

	/* shared anonymous */
	CHECK_PAT(sh, sh_len, 11, "MAP_SHARED|MAP_ANONYMOUS");
	zd_check(maps_line(sh, &s, &e, perms) && perms[3] == 's',
		 "MAP_SHARED|MAP_ANONYMOUS is mapped %s, not shared", perms);

	/* private file mapping */
	for (int p = 0; p < 16; p++) {
		long at = p == 2				      ? check(pf + p * PG, PG, 13)
			  : p == 9				      ? check(pf + p * PG, PG, 14)
			  : memcmp(pf + p * PG, filebuf + p * PG, PG) ? 0
								      : -1;
		zd_check(at < 0, "private file mapping page %d: byte %ld differs", p, at);
	}
	zd_check(maps_line(pf, &s, &e, perms) && perms[3] == 'p', "private file mapping is %s",
		 perms);
	pfd = open("memory.private", O_RDONLY);
	uint8_t *disk = malloc(pf_len);
	zd_check(pfd >= 0 && pread(pfd, disk, pf_len, 0) == (ssize_t)pf_len &&
		     !memcmp(disk, filebuf, pf_len),
		 "memory.private changed on disk (private writes leaked into the file)");
	close(pfd);

	/* shared file mapping: contents, then writes after restart reach the file */
	CHECK_PAT(sf, 4 * PG, 15, "shared file mapping");
	fill(sf + 4 * PG, 4 * PG, 19);
	sf[0] = 0xee;
	msync(sf, sf_len, MS_SYNC);
	sfd = open("memory.shared", O_RDONLY);
	if (sfd < 0 || pread(sfd, disk, sf_len, 0) != (ssize_t)sf_len)
		zd_fail("memory.shared: cannot read back");
	else {
		zd_check(disk[0] == 0xee,
			 "a write to the shared file mapping after restart is not in the file");
		CHECK_PAT(disk + 4 * PG, 4 * PG, 19,
			  "memory.shared on disk (written after restart)");
		disk[0] = pat(0, 15); /* the byte rewritten after restart */
		CHECK_PAT(disk, 4 * PG, 15,
			  "memory.shared on disk (written before the checkpoint)");
	}
	close(sfd);

	/* MADV_DONTNEED */
	CHECK_PAT(dn, 4 * PG, 16, "pages before the MADV_DONTNEED range");
	zd_check(check_zero(dn + 4 * PG, 4 * PG) < 0, "MADV_DONTNEED'd pages are not zero");
	for (size_t i = 8 * PG; i < 16 * PG; i++)
		if (dn[i] != pat(i, 16)) {
			zd_fail("pages after the MADV_DONTNEED range: byte %zu differs", i);
			break;
		}

	/* vDSO clocks */
	check_clocks("after restart");

	/* recursion deeper than before: the main stack grows down */
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	unsigned depth = 6000; /* ~6 MiB of frames */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 8 * MiB)
		depth = (rl.rlim_cur - 2 * MiB) / 1100;
	r = recurse(depth);
	zd_check(r == (depth + 1) * 16, "deep recursion after restart: %u", r);

	/* the heap keeps growing: malloc 128 MiB in pieces, and brk 16 MiB */
	enum { NGROW = 512 };
	static uint8_t *grow[NGROW];
	for (int i = 0; i < NGROW; i++) {
		grow[i] = malloc(256 * 1024);
		if (!grow[i]) {
			zd_fail("malloc after restart failed at %d MiB", i / 4);
			break;
		}
		memset(grow[i], i & 0xff, 256 * 1024);
	}
	for (int i = 0; i < NGROW && grow[i]; i++)
		if (grow[i][0] != (i & 0xff) || grow[i][256 * 1024 - 1] != (i & 0xff)) {
			zd_fail("heap block %d grown after restart is corrupt", i);
			break;
		}
	uint8_t *b0 = sbrk(0);
	uint8_t *nb = sbrk(16 * MiB);
	if (nb == (void *)-1)
		zd_fail("sbrk(16 MiB) after restart: %s", strerror(errno));
	else {
		zd_check(nb == b0, "sbrk returned %p, break was %p", (void *)nb, (void *)b0);
		fill(nb, 16 * MiB, 20);
		CHECK_PAT(nb, 16 * MiB, 20, "brk area grown after restart");
		zd_check(sbrk(0) == b0 + 16 * MiB, "break did not move by 16 MiB");
	}
	/* and small mallocs still work next to the old blocks */
	for (int i = 0; i < NSMALL; i += 2)
		free(small[i]);
	for (int i = 0; i < NSMALL; i += 2) {
		small[i] = malloc(small_len[i]);
		fill(small[i], small_len[i], 3000 + i);
	}
	for (int i = 1; i < NSMALL; i += 2)
		if (check(small[i], small_len[i], 1000 + i) >= 0) {
			zd_fail("heap block %d corrupt after new allocations", i);
			break;
		}
	return zd_finish();
}
