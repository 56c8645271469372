/* sock_names.c: the names the program saw of its TCP connections, noted at
 * every checkpoint (rt_names_begin, then one rt_names_note per fd); after a
 * restart rt_names_restarted makes getsockname/getpeername answer them. */
#ifndef STASIS_RUNTIME_SOCK_NAMES_H
#define STASIS_RUNTIME_SOCK_NAMES_H

struct sockaddr;
void rt_names_begin(void);
void rt_names_note(int fd, const struct sockaddr *local, unsigned llen, const struct sockaddr *peer,
		   unsigned plen);
void rt_names_restarted(void);

#endif
