/* Signals sent to `stasis launch` (on a terminal, where it relays to the
 * program's own pty) or to `stasis restart` are meant for the program: both
 * pass them on, so that `kill -TERM`, `timeout -s INT` or a batch system's
 * signal ends or warns the program as it would without Stasis. */
#ifndef STASIS_COMMON_SIGFWD_H
#define STASIS_COMMON_SIGFWD_H

#include <signal.h>

/* Catch the signals passed on (INT, QUIT, TERM, HUP, USR1, USR2) with
 * handler (SA_SIGINFO | SA_RESTART); NULL: ignore them. */
void sigfwd_install(void (*handler)(int, siginfo_t *, void *));

/* In a handler: whether to pass sig on. Not when the program got it already:
 * with in_group (the program is in our process group), a signal from the
 * terminal (^C: SI_KERNEL) or from a process of our group (which may have
 * signalled the whole group, as timeout(1) does) reached the program too.
 * Not twice from one sender within 100 ms either (timeout signals its child,
 * then its group). Async-signal-safe. */
int sigfwd_wanted(int sig, const siginfo_t *si, int in_group);

#endif
