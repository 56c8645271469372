/* TCP and UDP sockets (IPv4, IPv6) at checkpoint time: address, port, state
 * and the options a server sets. Listening and bound sockets come back bound
 * to the same address and port; a TCP connection comes back as one the
 * program sees reset (see docs/supported.md: the other side, inside or outside
 * the computation, cannot be resumed without TCP_REPAIR, which needs
 * CAP_NET_ADMIN). */
#include "runtime/fd_sock.h"
#include "runtime/fd_inet.h"
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "runtime/libc.h"
#include "image/format.h"
#include "image/kinds/fd_inet.h"
#include "runtime/fd_tcp.h"
#include "runtime/sock_names.h"
#include "common/proto.h"

#include <arpa/inet.h>
#include <linux/socket.h> /* SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK */
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* tcp_info with tcpi_segs_in */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static int sockopt(int fd, int level, int name)
{
	int v = 0;
	socklen_t l = sizeof(v);
	return getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

static int inet_match(int fd, const char *link, const struct stat *st)
{
	(void)link;
	if (!S_ISSOCK(st->st_mode))
		return 0;
	int dom = sockopt(fd, SOL_SOCKET, SO_DOMAIN), proto = sockopt(fd, SOL_SOCKET, SO_PROTOCOL);
	return (dom == AF_INET || dom == AF_INET6) &&
	       (proto == IPPROTO_TCP || proto == IPPROTO_UDP);
}

/* address and port of a sockaddr into the record's fields */
static void addr_of(const struct sockaddr_storage *ss, uint8_t *addr, uint16_t *port,
		    uint32_t *scope)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		memcpy(addr, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		memcpy(addr, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
		if (scope)
			*scope = a->sin6_scope_id;
	}
}

static uint32_t inet_flags(int fd, int family, int proto)
{
	uint32_t f = 0;
	f |= sockopt(fd, SOL_SOCKET, SO_REUSEADDR) > 0 ? IMG_INET_REUSEADDR : 0;
	f |= sockopt(fd, SOL_SOCKET, SO_REUSEPORT) > 0 ? IMG_INET_REUSEPORT : 0;
	f |= sockopt(fd, SOL_SOCKET, SO_KEEPALIVE) > 0 ? IMG_INET_KEEPALIVE : 0;
	f |= sockopt(fd, SOL_SOCKET, SO_BROADCAST) > 0 ? IMG_INET_BROADCAST : 0;
	if (family == AF_INET6)
		f |= sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY) > 0 ? IMG_INET_V6ONLY : 0;
	if (proto == IPPROTO_TCP)
		f |= sockopt(fd, IPPROTO_TCP, TCP_NODELAY) > 0 ? IMG_INET_NODELAY : 0;
	int locks = sockopt(fd, SOL_SOCKET, SO_BUF_LOCK); /* -1: Linux < 5.14 */
	if (locks >= 0)
		f |= IMG_INET_BUF_LOCKS | (locks & SOCK_SNDBUF_LOCK ? IMG_INET_SNDBUF_LOCK : 0) |
		     (locks & SOCK_RCVBUF_LOCK ? IMG_INET_RCVBUF_LOCK : 0);
	return f;
}

/* The TCP state, as the record has it. A closed socket that received
 * segments was connected (and reset or closed since: SO_ERROR would consume
 * its pending error, so it is not asked); one that received none is merely
 * bound, or fresh. */
static uint32_t tcp_state(int fd, uint16_t lport, uint32_t *backlog)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
		return IMG_INET_TCP_RESET;
	if (ti.tcpi_state == 10) {
		*backlog = ti.tcpi_sacked; /* a listener's maximum backlog */
		return IMG_INET_LISTEN;
	}
	if (ti.tcpi_state != 7 || ti.tcpi_segs_in)
		return IMG_INET_TCP_RESET;
	return lport ? IMG_INET_BOUND : IMG_INET_FRESH;
}

/* A connection drained with its peer (fd_tcp.c): the record goes on with
 * struct img_tcp; the bytes in flight to this end follow. */
static void with_tcp(struct img_inet *r, const struct rt_tcp_conn *t, uint8_t *head)
{
	struct img_tcp x = {.conn_id = t->conn_id, .side = t->side, .data_len = t->len};
	x.flags = (t->flags & PROTO_TCP_SHUT_WR ? IMG_TCP_SHUT_WR : 0) |
		  (t->flags & PROTO_TCP_PEER_SHUT ? IMG_TCP_PEER_SHUT : 0);
	r->state = IMG_INET_TCP_CONN;
	memcpy(head, r, sizeof(*r));
	memcpy(head + sizeof(*r), &x, sizeof(x));
}

static int inet_dump(struct rt_fd_ctx *c)
{
	struct img_inet r;
	struct sockaddr_storage ss, ps;
	socklen_t l = sizeof(ss), pl = sizeof(ps);
	memset(&r, 0, sizeof(r));
	r.family = sockopt(c->fd, SOL_SOCKET, SO_DOMAIN);
	r.proto = sockopt(c->fd, SOL_SOCKET, SO_PROTOCOL);
	r.flags = inet_flags(c->fd, r.family, r.proto);
	sk_bufs(c->fd, r.family, r.proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, &r.rcvbuf,
		&r.sndbuf);
	r.rcvlowat = sk_rcvlowat(c->fd);
	/* the wrappers' answers (sock_names.c): what the program saw */
	if (getsockname(c->fd, (struct sockaddr *)&ss, &l) == 0)
		addr_of(&ss, r.local, &r.lport, &r.scope_id);
	int connected = getpeername(c->fd, (struct sockaddr *)&ps, &pl) == 0;
	if (connected)
		addr_of(&ps, r.peer, &r.pport, NULL);
	uint8_t head[sizeof(r) + sizeof(struct img_tcp)];
	const struct rt_tcp_conn *t = NULL;
	if (r.proto == IPPROTO_TCP) {
		r.state = tcp_state(c->fd, r.lport, &r.backlog);
		if (r.state == IMG_INET_TCP_RESET)
			r.flags &= ~(IMG_INET_REUSEADDR | IMG_INET_REUSEPORT);
		if (r.lport) /* a restart may make it elsewhere (another port, another host) */
			rt_names_note(c->fd, (struct sockaddr *)&ss, l, (struct sockaddr *)&ps,
				      connected ? pl : 0);
		if ((t = rt_tcp_find(c->st->st_ino)))
			with_tcp(&r, t, head);
	} else {
		r.state = connected ? IMG_INET_UDP_CONN : r.lport ? IMG_INET_BOUND : IMG_INET_FRESH;
	}
	return t ? rt_fd_record2(c, IMG_FD_INET, c->st->st_ino, head, sizeof(head), t->data, t->len)
		 : rt_fd_record(c, IMG_FD_INET, c->st->st_ino, &r, sizeof(r));
}

const struct rt_fd_kind rt_fd_inet = {"inet", inet_match, inet_dump};

/* The process is about to be killed (stasis kill, checkpoint --kill): its TCP
 * connections close and wait in TIME-WAIT on their ports for a minute, which
 * would keep a restart from binding its listening ports again unless the
 * dying sockets allow it. SO_REUSEADDR goes on on every TCP socket now: the
 * program never runs again to see it, and the restart sets the program's own
 * value back. */
void rt_inet_before_kill(void)
{
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	int n = fds ? rt_list_own_fds(fds, RT_FDS_MAX, NULL) : -1;
	for (int i = 0; i < n; i++) {
		struct stat st;
		int one = 1;
		if (fstat(fds[i], &st) == 0 && inet_match(fds[i], NULL, &st) &&
		    sockopt(fds[i], SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP)
			setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
}

/* A TCP connection the program accepts gets SO_REUSEADDR. If the program
 * closes it first, it waits a minute in TIME-WAIT on the listener's port, and
 * without the flag on it no socket can bind that port meanwhile: a restart
 * within the minute could not listen there again ("cannot bind a TCP socket to
 * 127.0.0.1:PORT again: Address already in use"; Open MPI's ranks and mpirun
 * close connections they accepted). The flag changes nothing else for a
 * connection; the listener keeps the program's own value. */
static int reuse_accepted(int s)
{
	int e = errno, one = 1;
	if (s >= 0 && sockopt(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	errno = e;
	return s;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return reuse_accepted(REAL(accept)(fd, addr, len));
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return reuse_accepted(REAL(accept4)(fd, addr, len, flags));
}
