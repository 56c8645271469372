/* Unix domain sockets: the IMG_FD_UNIX payload (kind "unix"). Saved by
 * runtime/fd_unix.c, restored by restore/fd_unix.c.
 *
 * Payload: struct img_unix, then `npending` u64 inodes (a listener's
 * connections not yet accepted: their client sockets, in queue order), then
 * `nmsgs` messages of the receive queue, each a u32 length and its bytes,
 * packed (a stream socket's queue is one message). */
#ifndef STASIS_IMAGE_KINDS_FD_UNIX_H
#define STASIS_IMAGE_KINDS_FD_UNIX_H

#include <stddef.h>
#include <stdint.h>

enum img_unix_state {
	IMG_UNIX_UNCONNECTED = 1, /* maybe bound (name) */
	IMG_UNIX_LISTEN = 2,	  /* bound and listening */
	IMG_UNIX_CONNECTED = 3,	  /* one end of a pair with `peer` (0: the peer closed) */
	IMG_UNIX_PENDING = 4,	  /* connected to listener `peer` (peer_name), not accepted */
	IMG_UNIX_DGRAM_TO = 5,	  /* datagram socket connected to `peer` (0: outside) by name */
};
#define IMG_UNIX_PASSCRED (1u << 0) /* SO_PASSCRED */
#define IMG_UNIX_PASSSEC (1u << 1)  /* SO_PASSSEC */
#define IMG_UNIX_QUEUE (1u << 2)    /* this record holds the receive queue (one holder's does) */
struct img_unix {
	uint32_t type;		/* SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5 */
	uint32_t state;		/* enum img_unix_state */
	uint64_t peer;		/* inode of the peer socket (see state), 0 if none */
	uint32_t shutdown;	/* bit 0: receive side shut down, bit 1: send side */
	uint32_t backlog;	/* listen() backlog */
	int32_t rcvbuf, sndbuf; /* value to give SO_RCVBUF/SO_SNDBUF, 0 = the default */
	uint32_t flags;		/* IMG_UNIX_* */
	uint32_t name_len;	/* bytes of name, 0: unnamed; name[0] == 0: abstract */
	uint32_t peer_name_len; /* bytes of peer_name */
	uint32_t npending;
	uint32_t nmsgs;
	int32_t rcvlowat;  /* SO_RCVLOWAT, 0 = the default (1) */
	uint64_t data_len; /* bytes of the messages (with their length words) */
	char name[108];
	char peer_name[108];
};
_Static_assert(sizeof(struct img_unix) == 280, "img_unix");

/* A listener's connections not yet accepted, and the packed messages. */
static inline const uint64_t *img_unix_pending(const struct img_unix *u)
{
	return (const uint64_t *)(u + 1);
}
static inline const uint8_t *img_unix_msgs(const struct img_unix *u)
{
	return (const uint8_t *)(u + 1) + u->npending * 8ull;
}
/* A printable address: "/path", "@abstract" or "an unnamed socket". */
const char *img_unix_addr(const char *name, uint32_t len, char *buf, size_t size);

#endif
