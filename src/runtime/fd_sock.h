/* Sockets at checkpoint time: which processes take part, which socket inodes
 * they hold, and what the kernel says of every Unix socket (sock_diag). Shared
 * by fd_unix.c and fd_inet.c. */
#ifndef STASIS_RUNTIME_FD_SOCK_H
#define STASIS_RUNTIME_FD_SOCK_H

#include <stddef.h>
#include <stdint.h>

/* The pids of the processes taking part in the checkpoint, from a barrier
 * pass (u32 each); sockets whose peer none of them holds lead outside. */
void rt_note_members(const void *pids, size_t len);
size_t rt_members(const uint32_t **pids); /* the last list noted, in increasing order */
/* pid takes part in the running checkpoint (per the last barrier pass). */
int rt_is_member(uint32_t pid);

/* One Unix socket as sock_diag reports it. */
struct sk_unix {
	uint64_t ino, peer; /* peer: 0 if none, or if the peer was closed */
	int has_peer;
	uint32_t type, state, shutdown, rq, wq;
	uint32_t name_len;
	char name[108];
	uint32_t nicons;
	uint32_t *icons; /* a listener's connections not yet accepted */
};

/* The socket inode is held by a process of the checkpoint: the lowest pid
 * of those holding it, or 0. */
int sk_member_holder(uint64_t ino);
/* sock_diag's record of a Unix socket, NULL if unknown (errno set on failure). */
const struct sk_unix *sk_unix_find(uint64_t ino);
/* The listener with a connection from client socket ino in its accept queue
 * (not yet accepted), or NULL. */
const struct sk_unix *sk_unix_listener_of(uint64_t ino);
/* A listening socket of that name (len bytes) is held by a process of the
 * checkpoint. */
int sk_unix_member_listener(const char *name, uint32_t len);
/* A sock_diag dump: send req, call each for every record until the end.
 * 0, or -1 with errno. buf (size bytes) receives the replies. */
struct nlmsghdr;
int sk_diag_dump(const void *req, size_t len, void (*each)(const struct nlmsghdr *h, void *arg),
		 void *arg, char *buf, size_t size);
/* SO_RCVBUF/SO_SNDBUF to restore: 0 when the socket has the default of a new
 * socket of its kind, else the value to set (the kernel doubles it). */
void sk_bufs(int fd, int domain, int type, int32_t *rcv, int32_t *snd);
/* SO_RCVLOWAT to restore: 0 when it is the default (1). */
int32_t sk_rcvlowat(int fd);

#endif
