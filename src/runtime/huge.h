/* huge.c: before the stop, while the program runs, collapse its fully
 * present private anonymous memory into huge pages (a shorter fork and
 * smaps), for at most 2 s (rt_huge_prepare). Ahead of a checkpoint, on the
 * checkpoint thread while it waits for the coordinator: rt_huge_ahead_reset
 * when the thread starts (or the process was restarted) plans the first
 * pass; rt_huge_ahead(fd) waits until the next pass is due or fd speaks: 1
 * when it ran that pass (call again), 0 when fd is to be read (or no pass is
 * planned). rt_huge_after_checkpoint: the next pass is due at once (what the
 * 2 s before the stop left, and what the program split since). */
#ifndef STASIS_RUNTIME_HUGE_H
#define STASIS_RUNTIME_HUGE_H

void rt_huge_prepare(void);
void rt_huge_ahead_reset(void);
int rt_huge_ahead(int coord_fd);
void rt_huge_after_checkpoint(void);

#endif
