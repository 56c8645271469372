/* huge.c: before the stop, while the program runs, collapse its fully
 * present private anonymous memory into huge pages (a shorter fork and
 * smaps), for at most 2 s; after a checkpoint, the rest, until done or until
 * the coordinator sends anything: rt_huge_hold with the threads held opens
 * what rt_huge_idle(1) reads on the checkpoint thread once they run
 * (idle(0): only close); rt_huge_forget in a restarted process (those
 * numbers are not its own). Ahead of a checkpoint, on the checkpoint thread
 * while it waits for the coordinator: rt_huge_ahead_reset when the thread
 * starts plans the first pass; rt_huge_ahead(fd) waits until the next pass is
 * due or fd speaks: 1 when it ran that pass (call again), 0 when fd is to be
 * read (or no pass is planned). */
#ifndef STASIS_RUNTIME_HUGE_H
#define STASIS_RUNTIME_HUGE_H

void rt_huge_prepare(void);
void rt_huge_hold(void);
void rt_huge_idle(int run);
void rt_huge_forget(void);
void rt_huge_ahead_reset(void);
int rt_huge_ahead(int coord_fd);

#endif
