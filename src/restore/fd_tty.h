/* fd_tty.c: terminals (the kinds pty-master, pty-slave and tty in
 * fdkinds.c). rst_tty_prepare (restart, in its namespaces, before PID 1)
 * mounts a devpts of the restart's own and makes the computation's terminal;
 * rst_tty_relay relays the user's terminal to it until done_fd is readable;
 * rst_tty_leads_session says whether a process with no parent in the set
 * leads a session of its own again; rst_tty_take (process i, a session
 * leader again, its descriptors in place) takes its controlling terminal
 * back before it creates its children, which inherit it (the kernel gives a
 * controlling terminal to the leader alone, and to the children it forks
 * afterwards); rst_tty_foreground (its children in their groups) puts the
 * foreground group back. */
#ifndef STASIS_RESTORE_FD_TTY_H
#define STASIS_RESTORE_FD_TTY_H

#include "restore/set.h"

int rst_tty_prepare(const struct rst_set *set);
int rst_tty_relay(int done_fd);
/* Whether the computation has a terminal of its own that restart relays to. */
int rst_tty_own(void);
int rst_tty_leads_session(const struct rst_set *set, int i);
int rst_tty_take(const struct rst_set *set, int i);
void rst_tty_foreground(const struct rst_set *set, int i);

#endif
