/* timers.c: POSIX timers (from /proc/self/timers), saved at a checkpoint and
 * created again, with their ids, at restart. */
#ifndef STASIS_RUNTIME_TIMERS_H
#define STASIS_RUNTIME_TIMERS_H

#include <stddef.h>

int rt_dump_timers(char *err, size_t errlen);
void rt_restore_timers(void);

#endif
