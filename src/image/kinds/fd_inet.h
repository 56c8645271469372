/* TCP and UDP sockets, IPv4 or IPv6: the IMG_FD_INET payload (kind "inet").
 * Saved by runtime/fd_inet.c, restored by restore/fd_inet.c. */
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
};
#define IMG_INET_REUSEADDR (1u << 0)
#define IMG_INET_REUSEPORT (1u << 1)
#define IMG_INET_V6ONLY (1u << 2)
#define IMG_INET_NODELAY (1u << 3)
#define IMG_INET_KEEPALIVE (1u << 4)
#define IMG_INET_BROADCAST (1u << 5)
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
	uint32_t reserved;
};
_Static_assert(sizeof(struct img_inet) == 72, "img_inet");

/* "1.2.3.4:80" or "[::1]:80" */
const char *img_inet_addr(uint32_t family, const uint8_t *addr, uint16_t port, char *buf,
			  size_t size);

#endif
