/* sigfwd.c: signals sent to restart go to the program. In restart, once PID
 * 1 (init) exists; own_terminal: the program is not in restart's process
 * group. In PID 1: rst_sigfwd_init first, rst_sigfwd_programs once the
 * program's processes (those without a parent in the set) exist. */
#ifndef STASIS_RESTORE_SIGFWD_H
#define STASIS_RESTORE_SIGFWD_H

#include <sys/types.h>

void rst_sigfwd_restart(pid_t init, int own_terminal);
void rst_sigfwd_init(void);
void rst_sigfwd_programs(const pid_t *pids, int n);

#endif
