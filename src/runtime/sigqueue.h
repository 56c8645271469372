/* sigqueue.c: the pending signals of the threads and of the process, taken
 * out of the kernel during a checkpoint and put back after it. */
#ifndef STASIS_RUNTIME_SIGQUEUE_H
#define STASIS_RUNTIME_SIGQUEUE_H

#include "runtime/state.h"

void rt_take_thread_pending(struct rt_thread *t);
void rt_take_shared_pending(void);
/* Queue them again: t's own, and in the main thread the process-wide ones.
 * keep: the records stay (for the image being written). */
void rt_requeue_self(struct rt_thread *t, int keep);

#endif
