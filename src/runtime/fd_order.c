/* A process's descriptors in the order of their open file descriptions: by the
 * file each names (one stat each), then by description, then by number. The
 * descriptors of one description (dups, or inherited ones in another process)
 * then form a run, its lowest first, and two sorted lists merge in one pass.
 *
 * kcmp(KCMP_FILE) orders open file descriptions (it compares their kernel
 * addresses, obfuscated by one per-boot bijection: a total order, the same
 * from every process): sorting takes O(n log n) kcmp calls where comparing
 * every pair takes n^2 (10000 descriptors of one file: 18 s). */
#include "runtime/fd_order.h"
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/state.h"
#include "runtime/write_pipe.h"

#include <errno.h>
#include <sched.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PARALLEL_MIN 2048 /* descriptors: fewer are sorted by one thread */

static int kcmp_errno; /* the first kcmp failure that is not a closed descriptor */

int rt_fdesc_errno(int reset)
{
	int e = __atomic_load_n(&kcmp_errno, __ATOMIC_RELAXED);
	if (reset)
		__atomic_store_n(&kcmp_errno, 0, __ATOMIC_RELAXED);
	return e;
}

/* kcmp(KCMP_FILE) as the kernel returns it, -errno on failure: errno is the
 * creating thread's on the sort's helper, which must not touch it. */
static long kcmp_file(uint32_t pa, uint32_t pb, int a, int b)
{
	register long r10 __asm__("r10") = a;
	register long r8 __asm__("r8") = b;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_kcmp), "D"((long)pa), "S"((long)pb), "d"((long)KCMP_FILE),
			   "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* kcmp as -1, 0, 1; a descriptor closed meanwhile (a runtime's own) compares
 * as unequal, by number. */
static int kcmp_order(uint32_t pa, int a, uint32_t pb, int b)
{
	long r = kcmp_file(pa, pb, a, b);
	int none = 0;
	if (r < 0 && r != -EBADF)
		__atomic_compare_exchange_n(&kcmp_errno, &none, (int)-r, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	if (r == 0 && (pa != pb || a == b))
		return 0;
	if (r == 1 || r == 2)
		return r == 1 ? -1 : 1;
	return (a > b) - (a < b);
}

static int cmp_file(const struct rt_fdesc *a, const struct rt_fdesc *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return (a->ino > b->ino) - (a->ino < b->ino);
}

int rt_fdesc_cmp(uint32_t pa, const struct rt_fdesc *a, uint32_t pb, const struct rt_fdesc *b)
{
	int c = cmp_file(a, b);
	return c ? c : kcmp_order(pa, a->fd, pb, b->fd);
}

/* Within one process: file, description, fd (dups are consecutive, lowest first). */
static int cmp_in(uint32_t pid, const struct rt_fdesc *a, const struct rt_fdesc *b)
{
	if (a->fd == b->fd)
		return 0;
	int c = rt_fdesc_cmp(pid, a, pid, b);
	return c ? c : (a->fd > b->fd) - (a->fd < b->fd);
}

/* Two descriptors of pid name one open file description (kcmp_order keeps
 * them apart, by number, to sort them). */
static int same_desc(uint32_t pid, const struct rt_fdesc *a, const struct rt_fdesc *b)
{
	return !cmp_file(a, b) && kcmp_file(pid, pid, a->fd, b->fd) == 0;
}

/* Merge sort (bottom-up, into scratch from the runtime's arena, never the
 * application's malloc): about n log2 n kcmp calls, half of a heapsort's. */
static void merge_runs(const struct rt_fdesc *src, struct rt_fdesc *dst, uint32_t lo, uint32_t mid,
		       uint32_t hi, uint32_t pid)
{
	uint32_t i = lo, j = mid, k = lo;
	while (i < mid && j < hi)
		dst[k++] = cmp_in(pid, &src[j], &src[i]) < 0 ? src[j++] : src[i++];
	while (i < mid)
		dst[k++] = src[i++];
	while (j < hi)
		dst[k++] = src[j++];
}

static void sort_range(struct rt_fdesc *v, struct rt_fdesc *tmp, uint32_t n, uint32_t pid)
{
	struct rt_fdesc *src = v, *dst = tmp;
	for (uint32_t w = 1; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = lo + w < n ? lo + w : n,
				 hi = lo + 2 * w < n ? lo + 2 * w : n;
			merge_runs(src, dst, lo, mid, hi, pid);
		}
		struct rt_fdesc *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/* Half of a list, sorted on a helper thread. */
struct half {
	struct rt_fdesc *v, *tmp;
	uint32_t n, pid;
};

static void sort_half(void *arg)
{
	struct half *h = arg;
	sort_range(h->v, h->tmp, h->n, h->pid);
}

static int cpus(void)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

/* A large list is sorted in two halves at once, on this thread and a bare
 * helper (write_pipe.h), then merged: kcmp calls are half the time on two
 * cores (10000 descriptors of one file: 120000 of them). */
static void sort_descs(struct rt_fdesc *v, struct rt_fdesc *tmp, uint32_t n, uint32_t pid)
{
	struct rt_helper helper;
	struct half hi = {v + n / 2, tmp + n / 2, n - n / 2, pid};
	if (n >= PARALLEL_MIN && !rt_one_thread() && cpus() > 1 &&
	    rt_helper_start(&helper, sort_half, &hi) == 0) {
		sort_range(v, tmp, n / 2, pid);
		rt_helper_join(&helper);
		merge_runs(v, tmp, 0, n / 2, n, pid);
		memcpy(v, tmp, n * sizeof(*v));
	} else {
		sort_range(v, tmp, n, pid);
	}
	for (uint32_t k = 0; k < n; k++) /* runs of one description: dups are neighbours */
		v[k].first = k && same_desc(pid, &v[k - 1], &v[k]) ? v[k - 1].first : k;
}

int rt_fds_sorted(uint32_t pid, struct rt_fdesc *out, int *fds, int max)
{
	char path[64];
	int self_fd = -1, self = pid == (uint32_t)getpid();
	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	int n = self ? rt_list_own_fds(fds, max, &self_fd) : rt_list_numeric(path, fds, max, NULL);
	struct rt_fdesc *tmp = n > 0 ? rt_alloc(n * sizeof(*tmp)) : NULL;
	if (n < 0)
		return -1;
	if (n > 0 && !tmp) {
		errno = ENOMEM;
		return -1;
	}
	int got = 0;
	for (int k = 0; k < n; k++) {
		struct stat st;
		if (fds[k] == self_fd || (self && fds[k] == rt.coord_fd))
			continue;
		snprintf(path, sizeof(path), "/proc/%u/fd/%d", pid, fds[k]);
		if ((self ? fstat(fds[k], &st) : stat(path, &st)) < 0) /* ours: no /proc lookup */
			continue;
		out[got++] = (struct rt_fdesc){.fd = fds[k], .ino = st.st_ino, .dev = st.st_dev};
	}
	sort_descs(out, tmp, got, pid);
	return got;
}

uint32_t rt_fdesc_next_run(const struct rt_fdesc *v, uint32_t k, uint32_t n)
{
	uint32_t run = v[k].first;
	while (k < n && v[k].first == run)
		k++;
	return k;
}
