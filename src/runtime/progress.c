/* Progress of the memory write, reported to the coordinator. */
#include "runtime/progress.h"
#include "runtime/state.h"
#include "common/proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct rt_progress *rt_prog;
static struct timespec last;

int rt_progress_init(void)
{
	void *p = mmap(rt_prog, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | (rt_prog ? MAP_FIXED : 0), -1, 0);
	if (p == MAP_FAILED)
		return -1;
	rt_prog = p;
	return 0;
}

void rt_progress_begin(uint64_t total)
{
	rt_prog->done = 0;
	rt_prog->total = total;
	clock_gettime(CLOCK_MONOTONIC, &last);
}

void rt_progress_add(uint64_t bytes)
{
	__atomic_add_fetch(&rt_prog->done, bytes, __ATOMIC_RELAXED);
	if (!rt.writer_child)
		rt_progress_report(0);
}

/* From the checkpoint thread only (it owns the coordinator socket). */
void rt_progress_report(int force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (now.tv_sec - last.tv_sec) + (now.tv_nsec - last.tv_nsec) / 1e9;
	if (!force && dt < 0.25)
		return;
	last = now;
	struct proto_progress p = {.done = __atomic_load_n(&rt_prog->done, __ATOMIC_RELAXED),
				   .total = rt_prog->total};
	if (p.done > p.total)
		p.total = p.done;
	proto_send(rt.coord_fd, MSG_PROGRESS, &p, sizeof(p), NULL, 0);
}

/* What a checkpoint will store, about: the anonymous pages of every region. */
uint64_t rt_smaps_anon_bytes(const char *smaps)
{
	uint64_t kb = 0;
	for (const char *p = strstr(smaps, "\nAnonymous:"); p; p = strstr(p + 1, "\nAnonymous:"))
		kb += strtoull(p + 11, NULL, 10);
	return kb * 1024;
}
