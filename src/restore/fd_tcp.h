/* fd_tcp.c: TCP connections between processes of the computation (inet
 * records of state IMG_INET_TCP_CONN, image/kinds/fd_inet.h).
 * rst_tcp_restore (PID 1, before it creates any object) makes all of the
 * set's again through the coordinator with their bytes in flight;
 * rst_tcp_take hands one to its object. */
#ifndef STASIS_RESTORE_FD_TCP_H
#define STASIS_RESTORE_FD_TCP_H

#include "restore/set.h"

int rst_tcp_restore(const struct rst_set *set);
int rst_tcp_take(const struct rst_obj *o, int fd[2]);

#endif
