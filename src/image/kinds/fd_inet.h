/* TCP and UDP sockets, IPv4 or IPv6: the IMG_FD_INET payload (kind "inet").
 * Saved by runtime/fd_inet.c, restored by restore/fd_inet.c; a TCP
 * connection between processes of the computation (IMG_INET_TCP_CONN) is
 * drained by runtime/fd_tcp.c and made again by restore/fd_tcp.c. */
#ifndef STASIS_IMAGE_KINDS_FD_INET_H
#define STASIS_IMAGE_KINDS_FD_INET_H

#include <stddef.h>
#include <stdint.h>

enum img_inet_state {
	IMG_INET_FRESH = 1,	/* neither bound nor connected */
	IMG_INET_BOUND = 2,	/* bound (a UDP socket, or TCP not yet listening) */
	IMG_INET_LISTEN = 3,	/* TCP listening */
	IMG_INET_UDP_CONN = 4,	/* UDP connected to peer */
	IMG_INET_TCP_RESET = 5, /* a TCP connection: comes back reset (ECONNRESET) */
	IMG_INET_TCP_CONN = 6,	/* a TCP connection to a peer in the computation: made again
				   through the coordinator (struct img_tcp follows) */
};
#define IMG_INET_REUSEADDR (1u << 0)
#define IMG_INET_REUSEPORT (1u << 1)
#define IMG_INET_V6ONLY (1u << 2)
#define IMG_INET_NODELAY (1u << 3)
#define IMG_INET_KEEPALIVE (1u << 4)
#define IMG_INET_BROADCAST (1u << 5)
/* SO_BUF_LOCK as the program left it (Linux 5.14): the buffer sizes it set
 * stay as set; the others the kernel's autotuning may grow, from rcvbuf and
 * sndbuf on. Without IMG_INET_BUF_LOCKS (an older image, an older kernel)
 * a size recorded stays as set. */
#define IMG_INET_BUF_LOCKS (1u << 6)   /* the two bits below are known */
#define IMG_INET_SNDBUF_LOCK (1u << 7) /* SOCK_SNDBUF_LOCK */
#define IMG_INET_RCVBUF_LOCK (1u << 8) /* SOCK_RCVBUF_LOCK */
struct img_inet {
	uint32_t family; /* AF_INET 2, AF_INET6 10 */
	uint32_t proto;	 /* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	uint32_t state;	 /* enum img_inet_state */
	uint32_t backlog;
	uint8_t local[16], peer[16]; /* addresses, network order (IPv4: first 4 bytes) */
	uint16_t lport, pport;	     /* ports, host order */
	uint32_t flags;		     /* IMG_INET_* */
	int32_t rcvbuf, sndbuf;	     /* value to give SO_RCVBUF/SO_SNDBUF, 0 = the default */
	uint32_t scope_id;	     /* IPv6 scope of local */
	int32_t rcvlowat;	     /* SO_RCVLOWAT, 0 = the default (1) */
};
_Static_assert(sizeof(struct img_inet) == 72, "img_inet");

/* After a struct img_inet of state IMG_INET_TCP_CONN: the connection, then
 * data_len bytes, what was in flight to this end (its receive queue). One
 * holder's record (the process that drained it) has this; the others' say
 * IMG_INET_TCP_RESET and take the socket from it. */
#define IMG_TCP_SHUT_WR (1u << 0)   /* this end had shut its sending side (FIN sent) */
#define IMG_TCP_PEER_SHUT (1u << 1) /* the peer had: reads end after the data */
struct img_tcp {
	uint64_t conn_id;  /* unique among the connections of its generation */
	uint32_t side;	   /* at restart, side 0 listens and side 1 connects */
	uint32_t flags;	   /* IMG_TCP_* */
	uint64_t data_len; /* bytes that follow */
};
_Static_assert(sizeof(struct img_tcp) == 24, "img_tcp");

/* "1.2.3.4:80" or "[::1]:80" */
const char *img_inet_addr(uint32_t family, const uint8_t *addr, uint16_t port, char *buf,
			  size_t size);

#endif
