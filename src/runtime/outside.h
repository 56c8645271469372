/* outside.c: processes started from the computation that are not part of
 * it: programs the runtime cannot be loaded into, stasis nocheckpoint's, the
 * stasis command. */
#ifndef STASIS_RUNTIME_OUTSIDE_H
#define STASIS_RUNTIME_OUTSIDE_H

#include <stdint.h>

int rt_in_stasis_cli(void);
void rt_outside_init(void);
/* Whether execing file (searched in PATH if search) leaves the computation;
 * warns when it is a program the runtime cannot be loaded into. */
int rt_exec_leaves(const char *file, int search);
/* Whether child pid is outside: it does not map the runtime. */
int rt_child_outside(uint32_t pid);
/* stasis-ssh, which an exec of ssh runs instead (src/ssh/ssh.h); NULL in
 * stasis-ssh itself, or when it is not installed next to the runtime. */
const char *rt_ssh_relay(void);

#endif
