/* Shared memory as of the stop. Pages of shared memory (shared anonymous
 * memory, memfds and deleted files mapped shared, and the untouched pages of
 * a memfd or tmpfs file mapped private, which are the file's) change as soon
 * as any process of the computation runs again, and a forked writer's
 * copy-on-write snapshot does not hold them. So the pages this process stores
 * are copied while every process is stopped (between the SUSPENDED and
 * DRAINED barriers), and the writer stores them from the copy.
 *
 * rt_snap_note() records the runs of a region to copy (its resident pages, or
 * all of them); rt_snap_copy() copies every run into one private buffer. The
 * buffer is made before the stop, while the program still runs
 * (rt_snap_prepare: as large as the copy would be now, its pages allocated
 * and zeroed then), so that the stop costs little more than memcpy; it is
 * grown at the stop if more is needed. It is never part of an image (mem.c
 * and dirty.c leave it out), and it is unmapped once the writer has its own
 * copy-on-write view of it (rt_snap_release). A checkpoint that ends the
 * program (--kill) copies nothing: no process runs before every image is
 * written, so the writer reads the noted runs where they are. */
#include "runtime/snap.h"
#include "runtime/arena.h"
#include "runtime/fds.h"
#include "runtime/mem.h"
#include "runtime/write_pipe.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define RUNS_MAX (1u << 20)
#define PIECE (4u << 20) /* what a copying thread takes at a time */

static struct {
	struct rt_snap_run *runs;
	uint32_t nruns;
	uint64_t size;	 /* bytes noted */
	int live;	 /* nothing copied: no process runs before the image is written */
	int copied;	 /* the runs are in buf */
	uint8_t *buf;	 /* the copy (shared anonymous memory of this process only) */
	uint64_t len;	 /* its length */
	uint64_t last;	 /* bytes copied at the last checkpoint */
	int checkpoints; /* checkpoints taken by this process */
} snap;

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

void rt_snap_reset(void)
{
	snap.runs = NULL;
	snap.nruns = 0;
	snap.size = 0;
	snap.live = 0;
	snap.copied = 0;
}

static int add_run(uint64_t start, uint64_t end, int readable, char *err, size_t errlen)
{
	if (!snap.runs && !(snap.runs = rt_alloc(RUNS_MAX * sizeof(*snap.runs))))
		return errf(err, errlen, "out of checkpoint memory");
	if (snap.nruns && snap.runs[snap.nruns - 1].end == start &&
	    snap.runs[snap.nruns - 1].readable == (uint32_t)readable) {
		snap.runs[snap.nruns - 1].end = end;
	} else {
		if (snap.nruns >= RUNS_MAX)
			return errf(err, errlen, "pid %d: too many runs of shared pages", getpid());
		snap.runs[snap.nruns++] = (struct rt_snap_run){start, end, snap.size, readable};
	}
	snap.size += end - start;
	return 0;
}

int rt_snap_note(uint64_t start, uint64_t end, int readable, int all, char *err, size_t errlen)
{
	if (all)
		return add_run(start, end, readable, err, errlen);
	size_t pages = (end - start) / 4096;
	unsigned char *vec = rt_alloc(pages);
	if (!vec || mincore((void *)start, end - start, vec) < 0)
		return errf(err, errlen, "pid %d: mincore of %#" PRIx64 "-%#" PRIx64 ": %s",
			    getpid(), start, end, vec ? strerror(errno) : "out of memory");
	for (size_t i = 0; i < pages;) {
		size_t j = i;
		while (j < pages && (vec[j] & 1))
			j++;
		if (j > i && add_run(start + i * 4096, start + j * 4096, readable, err, errlen) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

/* A buffer of at least size bytes, its pages allocated now if populate.
 * Shared anonymous memory: fork copies none of its page tables (the writer
 * faults its pages in as it reads them), so it adds nothing to the pause. */
static int make_buffer(uint64_t size, int populate)
{
	uint64_t len = (size + 4095) & ~4095ull;
	if (len <= snap.len)
		return 0;
	rt_snap_release(); /* too small: a shared mapping cannot grow */
	void *p = fault_hit(FAULT_RT_SNAP)
		      ? MAP_FAILED
		      : mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	snap.buf = p; /* first: a child the program forks now lets go of it */
	snap.len = len;
	if (populate)
		madvise(p, len, MADV_POPULATE_WRITE); /* best effort: else they fault at the copy */
	return 0;
}

/* Before the stop, with the program running: a buffer for the copy the stop
 * would take now (smaps and the plan walk, dry: nothing is copied or kept).
 * A process that copied nothing at its last checkpoint skips it. */
void rt_snap_prepare(void)
{
	char err[256];
	struct rt_vmas scratch;
	struct rt_strtab tab = {0};
	struct rt_files files = {0};
	snap.checkpoints++;
	if (snap.checkpoints > 1 && !snap.last)
		return;
	char *smaps = rt_read_smaps(err, sizeof(err));
	if (!smaps ||
	    rt_plan_memory(&scratch, &tab, &files, smaps, RT_PLAN_ESTIMATE, err, sizeof(err)) < 0)
		return; /* the stop then does it all */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (snap.size && make_buffer(snap.size, 1) < 0)
		debug("pid %d: no buffer for %" PRIu64 " KiB of shared memory: %s", getpid(),
		      snap.size >> 10, strerror(errno));
	else if (snap.size)
		debug("pid %d: a buffer for %" PRIu64 " KiB of shared memory made in %.1f ms",
		      getpid(), snap.size >> 10, ms_since(&t0));
	rt_snap_reset();
}

int rt_snap_contains(uint64_t start, uint64_t end)
{
	uint64_t b = (uint64_t)(uintptr_t)snap.buf;
	return snap.buf && start < b + snap.len && end > b;
}

/* A run without PROT_READ goes through /proc/self/mem. */
static int copy_unreadable(const struct rt_snap_run *r)
{
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ssize_t n = mem < 0 ? -1 : pread_full(mem, snap.buf + r->off, r->end - r->start, r->start);
	if (mem >= 0)
		close(mem);
	return n == (ssize_t)(r->end - r->start) ? 0 : -1;
}

/* Copy the readable runs piece by piece, the pieces taken in turn by every
 * thread that runs this (a helper that gets no CPU leaves them to the other). */
static void copy_pieces(void *arg)
{
	uint64_t *next = arg;
	uint32_t k = 0;
	for (;;) {
		uint64_t off = __atomic_fetch_add(next, PIECE, __ATOMIC_RELAXED);
		uint64_t end = off + PIECE < snap.size ? off + PIECE : snap.size;
		if (off >= snap.size)
			return;
		while (k < snap.nruns &&
		       snap.runs[k].off + (snap.runs[k].end - snap.runs[k].start) <= off)
			k++; /* pieces come in order for each thread: runs are sorted by off */
		for (uint32_t i = k; i < snap.nruns && snap.runs[i].off < end; i++) {
			const struct rt_snap_run *r = &snap.runs[i];
			uint64_t a = r->off > off ? r->off : off;
			uint64_t b = r->off + (r->end - r->start);
			b = b < end ? b : end;
			if (r->readable && a < b)
				memcpy(snap.buf + a, (const void *)(r->start + (a - r->off)),
				       b - a);
		}
	}
}

int rt_snap_copy(int live, char *err, size_t errlen)
{
	struct rt_helper h;
	uint64_t next = 0;
	snap.live = live;
	snap.last = live ? snap.last : snap.size;
	if (!snap.size || live)
		return 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (make_buffer(snap.size, 0) < 0)
		goto fail;
	for (uint32_t i = 0; i < snap.nruns; i++)
		if (!snap.runs[i].readable && copy_unreadable(&snap.runs[i]) < 0)
			goto fail;
	/* memory bandwidth: two threads copy 1 GiB in 60 ms here, one in 110 */
	int two = !rt_one_thread() && snap.size >= 2 * PIECE &&
		  rt_helper_start(&h, copy_pieces, &next) == 0;
	copy_pieces(&next);
	if (two)
		rt_helper_join(&h);
	snap.copied = 1;
	debug("pid %d: %" PRIu64 " KiB of shared memory copied in %.1f ms", getpid(),
	      snap.size >> 10, ms_since(&t0));
	return 0;
fail:
	return errf(err, errlen,
		    "pid %d: cannot copy the %" PRIu64 " KiB of shared memory it stores: %s; "
		    "the program goes on: free some memory, or checkpoint with --kill (which "
		    "copies nothing)",
		    getpid(), snap.size >> 10, strerror(errno));
}

int rt_snap_lookup(uint64_t start, uint64_t end, const struct rt_snap_run **runs, uint32_t *n,
		   const uint8_t **copy)
{
	uint32_t lo = 0, hi = snap.nruns;
	*copy = snap.copied ? snap.buf : NULL;
	if (!snap.copied && !snap.live)
		return -1;
	while (lo < hi) { /* the first run ending after start */
		uint32_t mid = (lo + hi) / 2;
		if (snap.runs[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t k = lo;
	while (k < snap.nruns && snap.runs[k].start < end)
		k++;
	*runs = snap.runs + lo;
	*n = k - lo;
	return 0;
}

void rt_snap_release(void)
{
	if (snap.buf)
		munmap(snap.buf, snap.len);
	snap.buf = NULL;
	snap.len = 0;
	snap.copied = 0;
}

void rt_snap_forget(void)
{
	/* a restarted process: the buffer was never part of its image */
	snap.buf = NULL;
	snap.len = 0;
	rt_snap_reset();
}
