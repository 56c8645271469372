/* progress.c: bytes of memory written by the checkpoint being taken, in a
 * shared page so that a forked writer's count is seen by the checkpoint
 * thread, which reports it to the coordinator (MSG_PROGRESS) four times a
 * second. */
#ifndef STASIS_RUNTIME_PROGRESS_H
#define STASIS_RUNTIME_PROGRESS_H

#include <stdint.h>

struct rt_progress {
	uint64_t done, total;
};
extern struct rt_progress *rt_prog;
int rt_progress_init(void);
void rt_progress_begin(uint64_t total);
void rt_progress_add(uint64_t bytes);
void rt_progress_report(int force);
uint64_t rt_smaps_anon_bytes(const char *smaps);

#endif
