/* spawn.c: the restored computation: its namespaces, its PID 1, every
 * process with its PID, and restart in the foreground until it ends. */
#ifndef STASIS_RESTORE_SPAWN_H
#define STASIS_RESTORE_SPAWN_H

#include "restore/set.h"

#include <stddef.h>

/* Ready o to join on port, on fd (a socket made for it, -1: one made then). */
void rst_conn_init(struct rst_conn *o, uint16_t port, int part, int fd);
/* Join the coordinator on o->port as the image's process (HELLO_RESTART),
 * before anything is created (a coordinator that has a process does not
 * exit), or once the processes exist when restart started the coordinator
 * (gate.c). */
int rst_join(struct rst_image *img, struct rst_conn *o, char *err, size_t errlen);
/* Run the restored computation in the foreground; returns the wait status of
 * its first root process (as waitpid gives it), or -1 after printing why it
 * could not start (quietly after rst_stop). */
int rst_run(struct rst_set *set);
/* From another thread, end the restarted computation (its PID 1 and with it
 * every process of the namespace): rst_run then returns -1. */
void rst_stop(void);
/* Inside the new process i (its PID is the image's): creates its children,
 * then becomes its image. Never returns on success. */
void rst_process(struct rst_set *set, int i) __attribute__((noreturn));
/* A process of the restart failed before it became its image: say why (if
 * fmt), and end the whole restart (PID 1 ends the namespace). */
void rst_abort(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
