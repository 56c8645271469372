/* huge.c: before the stop, while the program runs, collapse its fully
 * present private anonymous memory into huge pages (a shorter fork and
 * smaps), for at most 2 s; after a checkpoint, the rest, until done or until
 * the coordinator sends anything: rt_huge_hold with the threads held opens
 * what rt_huge_idle(1) reads on the checkpoint thread once they run
 * (idle(0): only close); rt_huge_forget in a restarted process (those
 * numbers are not its own). */
#ifndef STASIS_RUNTIME_HUGE_H
#define STASIS_RUNTIME_HUGE_H

void rt_huge_prepare(void);
void rt_huge_hold(void);
void rt_huge_idle(int run);
void rt_huge_forget(void);

#endif
