/* sysrestart.c: a system call interrupted by the checkpoint signal starts
 * again, as it would without Stasis. */
#ifndef STASIS_RUNTIME_SYSRESTART_H
#define STASIS_RUNTIME_SYSRESTART_H

#include <ucontext.h>

void rt_sysrestart_reset(void);
void rt_sysrestart_note(int tid);
void rt_sysrestart_fix(int tid, ucontext_t *uc);

#endif
