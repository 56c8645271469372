/* fd_inet.c: TCP and UDP sockets at restart (image/kinds/fd_inet.h). */
#ifndef STASIS_RESTORE_FD_INET_H
#define STASIS_RESTORE_FD_INET_H

#include "image/kinds/fd_inet.h"

/* A TCP/UDP socket's options as the record has them, but SO_RCVLOWAT; */
void rst_inet_options(int s, const struct img_inet *r);
/* and SO_RCVLOWAT, once the restorer has read what it reads on the socket
 * (its poll would wait for that many bytes). */
void rst_inet_rcvlowat(int s, const struct img_inet *r);

#endif
