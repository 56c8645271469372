/* fd_inet.c: TCP and UDP sockets (kind inet in fdkinds.c). */
#ifndef STASIS_RUNTIME_FD_INET_H
#define STASIS_RUNTIME_FD_INET_H

/* Before the process ends for a --kill checkpoint: its TCP connections are
 * closed with a reset, as they come back at restart. */
void rt_inet_before_kill(void);

#endif
