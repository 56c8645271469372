/* quiesce.c: holding the program's threads for a checkpoint (each in the
 * checkpoint signal's handler, saving its own state) and letting them go. */
#ifndef STASIS_RUNTIME_QUIESCE_H
#define STASIS_RUNTIME_QUIESCE_H

#include "runtime/state.h"

int rt_install_handler(void);
/* Signal every other thread and wait until each is held (RT_SUSPEND_TIMEOUT):
 * 0, or -1 with errno. */
int rt_suspend_all(void);
void rt_release_all(void);
/* What the kernel keeps per thread and no memory dump shows (TLS base, robust
 * list, alternate stack, capabilities ...), and back after a restart. */
void rt_thread_capture_self(struct rt_thread *t);
void rt_thread_reinstate_self(const struct rt_thread *t);
int rt_futex_wait(int *addr, int val);
/* The same, ms milliseconds at most. */
int rt_futex_wait_ms(int *addr, int val, int ms);
/* Once every process of the checkpoint is stopped, the pending signals are
 * recorded and queued again (-1, EOVERFLOW: not all of them could be
 * recorded); after a restart, those of the image are queued before the
 * RESTARTED barrier. */
int rt_take_pending(void);
void rt_requeue_restored(void);
void rt_futex_wake(int *addr);

#endif
