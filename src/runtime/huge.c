/* Huge pages for a pause that does not grow with memory. A forked writer's
 * fork copies one page-table entry per 4 KiB page of private memory, and the
 * read of /proc/self/smaps at the stop walks them too: about 20 ms per GiB
 * here, with every thread held. A 2 MiB transparent huge page is one entry.
 *
 * So before the stop, while the program still runs, every 2 MiB-aligned
 * extent of private anonymous memory whose 512 pages are all present, none
 * the shared zero page or swapped, all mapped by this process alone (a page
 * shared with a forked relative would be copied, and memory use grow) and
 * not already huge, is collapsed into a huge page (MADV_COLLAPSE, Linux
 * 6.1+). Contents, addresses and memory use stay the same; a fork then copies
 * one entry per 2 MiB, and the program's first write to it while the writer
 * holds its snapshot splits only that entry (a 4 KiB copy, as before).
 *
 * Collapsing copies the memory once (about 0.25 s per GiB here, 3 s when the
 * VM's host has not backed the new pages yet); what the program writes while
 * a writer holds a snapshot is split again and collapsed at the next
 * checkpoint. At most BUDGET_MS are spent before the stop; the rest is
 * collapsed right after the checkpoint by a pass like those ahead of a
 * checkpoint (below), until done or until the coordinator sends anything: the
 * next checkpoint finds it done, or goes on with it. A program that rewrites most of its memory
 * while each image is written would have it all collapsed again every time for nothing: when less
 * than half of what was huge after the last collapse is still huge, this checkpoint collapses
 * nothing (the next one tries again). Not done when nothing forks (--kill, STASIS_NO_FORK), nor
 * with dirty-page tracking (incremental images), whose unit would become 2 MiB; STASIS_NO_HUGE=1
 * turns it off. Best effort: an extent the kernel refuses stays as it is. */
#include "runtime/huge.h"
#include "runtime/arena.h"
#include "runtime/dirty.h"
#include "runtime/state.h"
#include "runtime/pagescan.h"
#include "runtime/write_pipe.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define HUGE (2ull << 20)
#define SMALL_PER_HUGE (HUGE / 4096)
#define MAPS_MAX (16u << 20)
#define SCAN_VEC 1024
#define BUDGET_MS 2000
#define PM_PRESENT (1ull << 63)
#define PM_EXCLUSIVE (1ull << 56)
#define REGIONS_MAX 65536

static uint64_t huge_after_last; /* bytes huge right after the last collapse */

struct collapse {
	int pagemap;
	struct page_region *vec;
	uint64_t *entries;    /* one extent's pagemap entries */
	uint64_t done, tried; /* bytes collapsed, bytes asked */
	struct timespec t0;
	int budget_ms; /* 0: until the coordinator speaks */
	int out_of_time;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int time_is_up(const struct collapse *c)
{
	struct pollfd p = {.fd = rt.coord_fd, .events = POLLIN};
	if (c->budget_ms)
		return ms_since(&c->t0) > c->budget_ms;
	return poll(&p, 1, 0) != 0;
}

/* Every page of the extent at a is mapped by this process alone. */
static int exclusive(struct collapse *c, uint64_t a)
{
	size_t len = SMALL_PER_HUGE * sizeof(uint64_t);
	if (pread_full(c->pagemap, c->entries, len, (a / 4096) * sizeof(uint64_t)) != (ssize_t)len)
		return 0;
	for (size_t k = 0; k < SMALL_PER_HUGE; k++)
		if ((c->entries[k] & (PM_PRESENT | PM_EXCLUSIVE)) != (PM_PRESENT | PM_EXCLUSIVE))
			return 0;
	return 1;
}

/* The extents of [s, e) (a run of eligible pages) that are whole. */
static void collapse_run(struct collapse *c, uint64_t s, uint64_t e)
{
	for (uint64_t a = (s + HUGE - 1) & ~(HUGE - 1); a + HUGE <= e && !c->out_of_time;
	     a += HUGE) {
		if (!exclusive(c, a))
			continue;
		c->tried += HUGE;
		if (madvise((void *)(uintptr_t)a, HUGE, MADV_COLLAPSE) == 0)
			c->done += HUGE;
		c->out_of_time = time_is_up(c);
	}
}

/* Bytes of [start, end) that are huge pages already; with go, collapse the
 * extents whose pages are present, not the zero page, not swapped, not huge. */
static uint64_t scan_region(struct collapse *c, uint64_t start, uint64_t end, int go)
{
	uint64_t huge = 0;
	struct pm_scan_arg a = {
	    .size = sizeof(a),
	    .start = start,
	    .end = end,
	    .vec = (uint64_t)(uintptr_t)c->vec,
	    .vec_len = SCAN_VEC,
	    .category_mask = PAGE_IS_PRESENT | PAGE_IS_PFNZERO | PAGE_IS_SWAPPED,
	    .category_inverted = PAGE_IS_PFNZERO | PAGE_IS_SWAPPED,
	    .return_mask = PAGE_IS_HUGE,
	};
	while (a.start < a.end && !c->out_of_time) {
		long n = ioctl(c->pagemap, PAGEMAP_SCAN, &a);
		if (n < 0)
			break;
		for (long i = 0; i < n; i++) {
			const struct page_region *r = &c->vec[i];
			if (r->categories & PAGE_IS_HUGE)
				huge += r->end - r->start;
			else if (go)
				collapse_run(c, r->start, r->end);
		}
		a.start = pagescan_next(&a, c->vec, n);
	}
	return huge;
}

/* Private anonymous memory of the program (not the runtime's arena) with
 * room for a whole extent: a line of /proc/self/maps, NUL-terminated. */
static int candidate(const char *line, uint64_t *s, uint64_t *e)
{
	unsigned long long start, end, off, ino;
	char perms[8];
	unsigned maj, min;
	int n = 0;
	uint64_t as, ae;
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
		   &ino, &n) < 7)
		return 0;
	const char *path = line + n;
	if (strncmp(perms, "rw-p", 4) || ino || (path[0] && strcmp(path, "[heap]")))
		return 0;
	rt_arena_contains(0, &as, &ae);
	if (start < ae && end > as)
		return 0;
	*s = (start + HUGE - 1) & ~(HUGE - 1);
	*e = end & ~(HUGE - 1);
	return *s < *e;
}

/* The candidate regions of /proc/self/maps, as [start, end) pairs of whole
 * extents; the count, or -1. */
static int read_regions(int fd, uint64_t (*out)[2], int max)
{
	char *maps = rt_alloc(MAPS_MAX);
	ssize_t len = fd < 0 || !maps ? -1 : pread_full(fd, maps, MAPS_MAX - 1, 0);
	if (len < 0 || len >= MAPS_MAX - 1)
		return -1;
	maps[len] = 0;
	int n = 0;
	for (char *line = maps; *line && n < max;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0; /* a line without a name must not run into the next */
		n += candidate(line, &out[n][0], &out[n][1]);
		line = nl ? nl + 1 : line + strlen(line);
	}
	return n;
}

struct outcome {
	int n, go, out_of_time, err;
	uint64_t huge, huge_before, done, tried;
	double ms;
};

static void report(const struct outcome *o, const char *when)
{
	if (o->n < 0)
		debug("pid %d: no huge pages %s: %s", getpid(), when, strerror(o->err));
	else if (!o->go)
		debug("pid %d: %" PRIu64 " of %" PRIu64 " MiB of huge pages left since the last "
		      "collapse: none collapsed %s",
		      getpid(), o->huge >> 20, o->huge_before >> 20, when);
	else if (o->tried)
		debug("pid %d: %" PRIu64 " of %" PRIu64 " MiB collapsed into huge pages %s in "
		      "%.1f ms%s",
		      getpid(), o->done >> 20, o->tried >> 20, when, o->ms,
		      o->out_of_time ? " (interrupted: the rest later)" : "");
	else
		debug("pid %d: %" PRIu64 " MiB in huge pages, nothing to collapse %s", getpid(),
		      o->huge >> 20, when);
}

static int turned_off(void)
{
	const char *off = secure_getenv("STASIS_NO_HUGE");
	return (off && *off && strcmp(off, "0")) || rt_dirty_fd() >= 0;
}

/* maps_fd and pagemap_fd: /proc/self/maps and /proc/self/pagemap, opened
 * by the caller (and left open). 0 when it did nothing (turned off). */
static int collapse_all(int budget_ms, int maps_fd, int pagemap_fd, struct outcome *o)
{
	if (turned_off())
		return 0;
	struct collapse c = {.pagemap = pagemap_fd, .budget_ms = budget_ms};
	uint64_t(*regions)[2] = rt_alloc(REGIONS_MAX * sizeof(*regions));
	c.vec = rt_alloc(SCAN_VEC * sizeof(*c.vec));
	c.entries = rt_alloc(SMALL_PER_HUGE * sizeof(uint64_t));
	int n = regions && c.vec && c.entries && c.pagemap >= 0
		    ? read_regions(maps_fd, regions, REGIONS_MAX)
		    : -1;
	*o = (struct outcome){.n = n, .err = errno, .huge_before = huge_after_last};
	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	for (int i = 0; i < n; i++)
		o->huge += scan_region(&c, regions[i][0], regions[i][1], 0);
	o->go = n > 0 && o->huge >= huge_after_last / 2;
	for (int i = 0; o->go && i < n && !c.out_of_time; i++)
		scan_region(&c, regions[i][0], regions[i][1], 1);
	o->done = c.done;
	o->tried = c.tried;
	o->out_of_time = c.out_of_time;
	o->ms = ms_since(&c.t0);
	huge_after_last = o->huge + (o->go ? c.done : 0);
	return 1;
}

static void collapse_now(int budget_ms, const char *when, int maps_fd, int pagemap_fd)
{
	struct outcome o;
	if (collapse_all(budget_ms, maps_fd, pagemap_fd, &o))
		report(&o, when);
}

void rt_huge_prepare(void)
{
	int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	collapse_now(BUDGET_MS, "before the stop", maps, pagemap);
	if (maps >= 0)
		close(maps);
	if (pagemap >= 0)
		close(pagemap);
}

/* Ahead of a checkpoint: a process's first checkpoint would otherwise find its
 * memory in 4 KiB pages, and the time before the stop (BUDGET_MS) is too short
 * for gigabytes. So while the checkpoint thread waits for the coordinator, the
 * same pass runs AHEAD_FIRST_MS after the process joined, then again at
 * doubling intervals up to AHEAD_MAX_MS (memory the program fills later), each
 * until done or until the coordinator speaks. It runs on a helper with its own
 * copy of the descriptor table (what it opens takes no number of the
 * program's), which first closes its copies of the program's descriptors: a
 * pipe or socket the program closes meanwhile must not stay open here. */
#define AHEAD_FIRST_MS 1000
#define AHEAD_MAX_MS 60000

static long long ahead_due; /* now_ms() of the next pass */
static int ahead_step;	    /* ms between the last pass and the next */
static const char *ahead_when = "ahead of a checkpoint";
static struct outcome ahead_outcome;

void rt_huge_ahead_reset(void)
{
	ahead_due = now_ms() + AHEAD_FIRST_MS;
	ahead_step = AHEAD_FIRST_MS;
	ahead_when = "ahead of a checkpoint";
}

void rt_huge_after_checkpoint(void)
{
	ahead_due = now_ms();
	ahead_when = "after the checkpoint";
}

static void ahead_pass(void *arg)
{
	int keep = *(int *)arg; /* the coordinator's connection: the pass stops when it speaks */
	if (keep > 0)
		syscall(SYS_close_range, 0, keep - 1, 0);
	syscall(SYS_close_range, keep + 1, ~0U, 0);
	int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	collapse_all(0, maps, pagemap, &ahead_outcome);
	/* the table is this helper's own: it goes with it */
}

int rt_huge_ahead(int coord_fd)
{
	if (coord_fd < 0 || !ahead_due || turned_off())
		return 0; /* the checkpoint thread waits for the coordinator alone */
	long long wait = ahead_due - now_ms();
	struct pollfd p = {.fd = coord_fd, .events = POLLIN};
	if (poll(&p, 1, wait > 0 ? (int)(wait < INT_MAX ? wait : INT_MAX) : 0) != 0)
		return 0; /* the coordinator speaks (or poll failed): read it first */
	if (rt_run_private_files(ahead_pass, &coord_fd) == 0)
		report(&ahead_outcome, ahead_when);
	ahead_when = "ahead of a checkpoint";
	rt_arena_reset(); /* no checkpoint runs: the arena held only the pass */
	ahead_step = ahead_step * 2 < AHEAD_MAX_MS ? ahead_step * 2 : AHEAD_MAX_MS;
	ahead_due = now_ms() + ahead_step;
	return 1;
}
