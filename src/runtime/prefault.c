/* After a restart, the memory mapped from the image file (restore/mapimg.c)
 * comes into the program's page tables ahead of it: the checkpoint thread,
 * idle otherwise, populates it (MADV_POPULATE_READ: page-cache pages mapped,
 * nothing copied; a write still copies its page) on the core the program
 * does not use, 8 MiB at a time, while the program runs. The program then
 * takes no page fault on memory it reads, where it took one per 16 pages
 * (64 MiB: 13 ms of faults on its own path).
 *
 * Which ranges are image mappings is read from /proc/self/maps while the
 * program's threads are still held (rt_prefault_plan: a descriptor opened
 * then takes no number the program may be about to use); rt_prefault_run
 * populates after they are released and stops as soon as the coordinator
 * sends anything (a checkpoint waits for 8 MiB at most). */
#include "runtime/prefault.h"
#include "runtime/mapped.h"
#include "runtime/state.h"
#include "common/log.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define RANGES_MAX 256
#define PIECE (8ull << 20)

static uint64_t ranges[RANGES_MAX][2];
static int nranges;

static void note_line(const char *line, void *arg)
{
	uint64_t s, e;
	int prot;
	(void)arg;
	if (nranges < RANGES_MAX && rt_image_mapping(line, &s, &e, &prot) && (prot & PROT_READ)) {
		ranges[nranges][0] = s;
		ranges[nranges++][1] = e;
	}
}

void rt_prefault_plan(void)
{
	nranges = 0;
	if (rt.restart.nmapped)
		rt_maps_lines(note_line, NULL);
}

static int coordinator_speaks(void)
{
	struct pollfd p = {.fd = rt.coord_fd, .events = POLLIN};
	return poll(&p, 1, 0) != 0;
}

void rt_prefault_run(void)
{
	struct timespec t0, t1;
	uint64_t done = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nranges; i++)
		for (uint64_t a = ranges[i][0]; a < ranges[i][1]; a += PIECE) {
			if (coordinator_speaks())
				goto out;
			uint64_t len = ranges[i][1] - a < PIECE ? ranges[i][1] - a : PIECE;
			/* a range the program has unmapped or changed meanwhile fails: skip it */
			if (syscall(SYS_madvise, a, len, MADV_POPULATE_READ) == 0)
				done += len;
		}
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (nranges)
		debug("pid %d: %llu MiB mapped from the image populated in %.1f ms", getpid(),
		      (unsigned long long)(done >> 20),
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	nranges = 0;
}
