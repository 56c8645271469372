/* fd_inet.c: TCP and UDP sockets at restart (image/kinds/fd_inet.h). */
#ifndef STASIS_RESTORE_FD_INET_H
#define STASIS_RESTORE_FD_INET_H

#include "image/kinds/fd_inet.h"

/* A TCP/UDP socket's options as the record has them, but SO_RCVLOWAT; */
void rst_inet_options(int s, const struct img_inet *r);
/* and SO_RCVLOWAT, once the restorer has read what it reads on the socket
 * (its poll would wait for that many bytes). */
void rst_inet_rcvlowat(int s, const struct img_inet *r);

/* Every socket of the set that has a port of its own, bound (and listening,
 * or connected) again now, in restart before it joins the coordinator: each
 * object's early_fd (set.h). -1 with the reason in err when one cannot be. */
struct rst_set;
int rst_inet_bind_ports(struct rst_set *set, char *err, size_t errlen);

#endif
