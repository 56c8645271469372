/* snapcopy: what it costs to capture shared memory as of a stop, two ways.
 *
 *   snapcopy [MIB] [RUNS]     (default 256 MiB, 5 runs; prints medians in ms)
 *
 * Copy while stopped: the resident pages of a MAP_SHARED|MAP_ANONYMOUS region
 * copied into private memory (fresh anonymous pages, with or without
 * MADV_HUGEPAGE or MADV_POPULATE_WRITE first; pages allocated before the
 * clock starts, as the runtime prepares them before the stop; a memfd written
 * with write(2); one or two threads).
 * userfaultfd write-protect: registering the shared region and protecting it
 * (what the stop would cost), and a first write to a protected page handled by
 * a thread that copies the page and lifts the protection (what the program
 * pays afterwards, per page). The same registration for private memory, for
 * comparison with the fork of a forked checkpoint.
 * Build: cc -O2 bench/snapcopy.c -o snapcopy -lpthread (not part of the
 * runtime; docs/performance.md, "Consistent snapshots", has its figures).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static size_t len;
static char *src;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

struct part {
	char *dst;
	const char *src;
	size_t len;
};

static void *copy_part(void *arg)
{
	struct part *p = arg;
	memcpy(p->dst, p->src, p->len);
	return NULL;
}

/* advice -1: the pages are allocated before the clock starts (what the
 * runtime does before the stop), in shared anonymous memory like its buffer */
static double anon_copy(int advice, int threads)
{
	char *dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 (advice < 0 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return -1;
	if (advice < 0)
		madvise(dst, len, MADV_POPULATE_WRITE);
	double t0 = now_ms();
	if (advice > 0)
		madvise(dst, len, advice);
	if (threads == 1) {
		memcpy(dst, src, len);
	} else {
		pthread_t t;
		struct part a = {dst, src, len / 2}, b = {dst + len / 2, src + len / 2, len / 2};
		pthread_create(&t, NULL, copy_part, &b);
		copy_part(&a);
		pthread_join(t, NULL);
	}
	double t = now_ms() - t0;
	munmap(dst, len);
	return t;
}

struct wpart {
	int fd;
	const char *src;
	size_t len;
};

static void *write_part(void *arg)
{
	struct wpart *p = arg;
	for (size_t off = 0; off < p->len;) {
		size_t n = p->len - off > (8u << 20) ? 8u << 20 : p->len - off;
		ssize_t got = pwrite(p->fd, p->src + off, n, off);
		if (got <= 0)
			return (void *)-1;
		off += got;
	}
	return NULL;
}

/* threads memfds, each written by its own thread */
static double memfd_copy(int threads)
{
	double t0 = now_ms();
	struct wpart a = {memfd_create("snap", MFD_CLOEXEC), src, len / threads};
	struct wpart b = {threads > 1 ? memfd_create("snap", MFD_CLOEXEC) : -1, src + len / 2,
			  len / 2};
	pthread_t t;
	if (threads > 1)
		pthread_create(&t, NULL, write_part, &b);
	write_part(&a);
	if (threads > 1)
		pthread_join(t, NULL);
	double ms = now_ms() - t0;
	close(a.fd);
	if (b.fd >= 0)
		close(b.fd);
	return ms;
}

static int uffd_open(uint64_t features)
{
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = {.api = UFFD_API, .features = features};
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static double wp_region(int fd, char *p, size_t n)
{
	double t0 = now_ms();
	struct uffdio_register r = {.range = {(uintptr_t)p, n}, .mode = UFFDIO_REGISTER_MODE_WP};
	struct uffdio_writeprotect w = {.range = {(uintptr_t)p, n},
					.mode = UFFDIO_WRITEPROTECT_MODE_WP};
	if (ioctl(fd, UFFDIO_REGISTER, &r) < 0 || ioctl(fd, UFFDIO_WRITEPROTECT, &w) < 0)
		return -1;
	return now_ms() - t0;
}

struct handler {
	int fd;
	char *copy;
	int faults;
	volatile int stop;
};

static void *handle(void *arg)
{
	struct handler *h = arg;
	struct uffd_msg m;
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	while (!h->stop) {
		if (poll(&pfd, 1, 10) <= 0 || read(h->fd, &m, sizeof(m)) != sizeof(m) ||
		    m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t a = m.arg.pagefault.address & ~4095ull;
		memcpy(h->copy + (a - (uintptr_t)src), (void *)a, 4096);
		struct uffdio_writeprotect w = {.range = {a, 4096}, .mode = 0};
		ioctl(h->fd, UFFDIO_WRITEPROTECT, &w);
		h->faults++;
	}
	return NULL;
}

/* The protection, then the program writing one word in each of `pages` pages. */
static void uffd_shared(int runs, double *reg, double *per_fault)
{
	double r[64], f[64];
	int n = 0;
	for (int i = 0; i < runs; i++) {
		int fd = uffd_open(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
		if (fd < 0)
			break;
		r[n] = wp_region(fd, src, len);
		struct handler h = {fd, malloc(len), 0, 0};
		pthread_t t;
		pthread_create(&t, NULL, handle, &h);
		size_t pages = len / 4096 < 16384 ? len / 4096 : 16384;
		double t0 = now_ms();
		for (size_t k = 0; k < pages; k++)
			src[k * 4096] ^= 1;
		f[n++] = (now_ms() - t0) * 1000 / pages;
		struct uffdio_register un = {.range = {(uintptr_t)src, len}};
		ioctl(fd, UFFDIO_UNREGISTER, &un.range);
		h.stop = 1;
		pthread_join(t, NULL);
		close(fd);
		free(h.copy);
	}
	*reg = n ? median(r, n) : -1;
	*per_fault = n ? median(f, n) : -1;
}

static double uffd_private(int runs)
{
	double r[64];
	int n = 0;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 7, len);
	for (int i = 0; i < runs; i++) {
		int fd = uffd_open(0);
		if (fd < 0)
			break;
		r[n++] = wp_region(fd, p, len);
		close(fd);
	}
	munmap(p, len);
	return n ? median(r, n) : -1;
}

static double fork_private(int runs)
{
	double r[64];
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 7, len);
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		r[i] = now_ms() - t0;
		waitpid(c, NULL, 0);
	}
	munmap(p, len);
	return median(r, runs);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (runs < 1 || runs > 64)
		runs = 5;
	len = mib << 20;
	src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return perror("mmap"), 1;
	for (size_t i = 0; i < len; i += 8)
		*(uint64_t *)(src + i) = i * 0x9e3779b97f4a7c15ull;
	struct {
		const char *name;
		int advice, threads, memfd;
	} ways[] = {
	    {"memcpy to fresh anonymous pages", 0, 1, 0},
	    {"same, MADV_HUGEPAGE", MADV_HUGEPAGE, 1, 0},
	    {"same, MADV_POPULATE_WRITE first", MADV_POPULATE_WRITE, 1, 0},
	    {"memcpy, two threads", 0, 2, 0},
	    {"memcpy, two threads, MADV_HUGEPAGE", MADV_HUGEPAGE, 2, 0},
	    {"memcpy into pages allocated before", -1, 1, 0},
	    {"same, two threads", -1, 2, 0},
	    {"write(2) into a memfd", 0, 1, 1},
	    {"write(2) into two memfds, two threads", 0, 2, 1},
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("shared anonymous memory: %zu MiB resident, medians of %d runs\n", mib, runs);
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		double v[64];
		for (int i = 0; i < runs; i++)
			v[i] = ways[w].memfd ? memfd_copy(ways[w].threads)
					     : anon_copy(ways[w].advice, ways[w].threads);
		printf("  copy while stopped, %-38s %8.1f ms\n", ways[w].name, median(v, runs));
	}
	double reg, fault;
	uffd_shared(runs, &reg, &fault);
	if (reg < 0)
		printf("  userfaultfd write-protect of shmem: not available (%s)\n",
		       strerror(errno));
	else
		printf("  userfaultfd: register + write-protect  %8.2f ms; a first write to a "
		       "protected page, copied by a handler thread: %.1f us\n",
		       reg, fault);
	printf("private anonymous memory, %zu MiB written:\n", mib);
	printf("  userfaultfd register + write-protect %8.2f ms\n", uffd_private(runs));
	printf("  fork()                               %8.2f ms\n", fork_private(runs));
	return 0;
}
