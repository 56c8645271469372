/* TCP and UDP sockets at restart, each a shared object (objs.c) so that the
 * processes holding it share it again. A socket with a port of its own
 * (listening, bound, connected UDP) is bound to its address and port again by
 * restart itself, before it takes any port for anything else (its connections
 * to the coordinator, the connections PID 1 makes again: fd_tcp.c) and before
 * it joins the coordinator, whose JOINED answer tells PID 1 of each part of a
 * generation that every part has bound its own (rst_inet_bind_ports). So no
 * port that the kernel picks for a restart of the generation is one that a
 * socket of it needs back. SO_REUSEADDR is on for the bind and the listen, so
 * that connections of the dead original in TIME_WAIT do not block it, then set
 * back as the program had it; the runtime turned it on on those connections
 * before they died, see rt_inet_before_kill, and on every one the program
 * accepted, which it may have closed itself, see accept(). A TCP connection
 * comes back reset: the socket is connected through a temporary loopback
 * listener whose side is then closed with SO_LINGER 0, so that the program's
 * next read or write fails with ECONNRESET, as after a peer's crash; unless
 * both ends are in the computation: then PID 1 made it again with its bytes
 * in flight (fd_tcp.c). */
#include "restore/fd_inet.h"
#include "restore/fd_tcp.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/porthold.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/fd_inet.h"

#include <arpa/inet.h>
#include <linux/socket.h> /* SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t sockaddr_of(struct sockaddr_storage *ss, uint32_t family, const uint8_t *addr,
			     uint16_t port, uint32_t scope)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, addr, 4);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (void *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	a->sin6_scope_id = scope;
	memcpy(&a->sin6_addr, addr, 16);
	return sizeof(*a);
}

static void setflag(int s, int level, int name, int on)
{
	setsockopt(s, level, name, &on, sizeof(on));
}

void rst_inet_options(int s, const struct img_inet *r)
{
	setflag(s, SOL_SOCKET, SO_REUSEADDR, !!(r->flags & IMG_INET_REUSEADDR));
	if (r->flags & IMG_INET_REUSEPORT)
		setflag(s, SOL_SOCKET, SO_REUSEPORT, 1);
	if (r->flags & IMG_INET_KEEPALIVE)
		setflag(s, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (r->flags & IMG_INET_BROADCAST)
		setflag(s, SOL_SOCKET, SO_BROADCAST, 1);
	if (r->family == AF_INET6)
		setflag(s, IPPROTO_IPV6, IPV6_V6ONLY, !!(r->flags & IMG_INET_V6ONLY));
	if (r->proto == IPPROTO_TCP && (r->flags & IMG_INET_NODELAY))
		setflag(s, IPPROTO_TCP, TCP_NODELAY, 1);
	if (r->rcvbuf)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &r->rcvbuf, sizeof(r->rcvbuf));
	if (r->sndbuf)
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &r->sndbuf, sizeof(r->sndbuf));
	if (r->flags & IMG_INET_BUF_LOCKS) { /* setting a size locked it: as it was */
		int locks = (r->flags & IMG_INET_SNDBUF_LOCK ? SOCK_SNDBUF_LOCK : 0) |
			    (r->flags & IMG_INET_RCVBUF_LOCK ? SOCK_RCVBUF_LOCK : 0);
		setsockopt(s, SOL_SOCKET, SO_BUF_LOCK, &locks, sizeof(locks));
	}
}

void rst_inet_rcvlowat(int s, const struct img_inet *r)
{
	if (r->rcvlowat)
		setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &r->rcvlowat, sizeof(r->rcvlowat));
}

static int bind_again(int s, const struct img_inet *r, char *err, size_t errlen)
{
	static const uint8_t any[16];
	struct sockaddr_storage ss;
	char text[80];
	socklen_t l = sockaddr_of(&ss, r->family, r->local, r->lport, r->scope_id);
	setflag(s, SOL_SOCKET, SO_REUSEADDR, 1);
	int rc = bind(s, (void *)&ss, l);
	if (rc < 0 && errno == EADDRNOTAVAIL) { /* another host's address: its port on this one */
		debug("%s is not an address of this host: binding to its port on every address",
		      img_inet_addr(r->family, r->local, r->lport, text, sizeof(text)));
		l = sockaddr_of(&ss, r->family, any, r->lport, 0);
		rc = bind(s, (void *)&ss, l);
	}
	int e = errno;
	char held[512] = "", why[600] = "";
	if (rc < 0 && e == EADDRINUSE) {
		rst_port_holders(r->proto, r->lport, held, sizeof(held));
		snprintf(why, sizeof(why),
			 " (%s%s%sis the checkpointed program still running, did another program "
			 "take the port, or do connections of a program killed by other means "
			 "than stasis kill wait in TIME-WAIT on it? %sthey go within 60 s)",
			 held[0] ? "on that port now: " : "", held, held[0] ? "; " : "",
			 held[0] ? "" : "'ss -tan' shows them; ");
	}
	if (rc < 0)
		return errf(err, errlen, "cannot bind a %s socket to %s again: %s%s",
			    r->proto == IPPROTO_TCP ? "TCP" : "UDP",
			    img_inet_addr(r->family, r->local, r->lport, text, sizeof(text)),
			    strerror(e), why);
	return 0;
}

/* A socket that gets its own port back: bound, listening, or connected UDP. */
static int has_port(const struct img_inet *r)
{
	return r->state == IMG_INET_BOUND || r->state == IMG_INET_LISTEN ||
	       r->state == IMG_INET_UDP_CONN;
}

/* The socket of r (has_port) bound again, listening or connected as it was:
 * its descriptor, or -1 with the reason in err. */
static int make_bound(const struct img_inet *r, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	char text[80];
	int type = r->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int s = socket(r->family, type | SOCK_CLOEXEC, r->proto);
	if (s < 0)
		return errf(err, errlen, "cannot create a socket for %s: %s",
			    img_inet_addr(r->family, r->local, r->lport, text, sizeof(text)),
			    strerror(errno));
	rst_inet_options(s, r);
	rst_inet_rcvlowat(s, r);
	if (bind_again(s, r, err, errlen) < 0)
		goto fail;
	/* listen() checks the port again: SO_REUSEADDR stays on until it is done */
	if (r->state == IMG_INET_LISTEN && listen(s, r->backlog ? (int)r->backlog : 128) < 0) {
		errf(err, errlen, "cannot listen on %s again: %s",
		     img_inet_addr(r->family, r->local, r->lport, text, sizeof(text)),
		     strerror(errno));
		goto fail;
	}
	setflag(s, SOL_SOCKET, SO_REUSEADDR, !!(r->flags & IMG_INET_REUSEADDR));
	if (r->state == IMG_INET_UDP_CONN &&
	    connect(s, (void *)&ss, sockaddr_of(&ss, r->family, r->peer, r->pport, 0)) < 0) {
		errf(err, errlen, "cannot connect a UDP socket to %s again: %s",
		     img_inet_addr(r->family, r->peer, r->pport, text, sizeof(text)),
		     strerror(errno));
		goto fail;
	}
	return s;
fail:
	close(s);
	return -1;
}

int rst_inet_bind_ports(struct rst_set *set, char *err, size_t errlen)
{
	for (int k = 0; k < set->nobjs; k++) {
		struct rst_obj *o = &set->objs[k];
		const struct img_inet *r = o->priv;
		if (o->kind != IMG_FD_INET || !r || !has_port(r))
			continue;
		if ((o->early_fd = make_bound(r, err, errlen)) < 0)
			return -1;
		o->early = 1;
	}
	return 0;
}

/* A TCP socket whose connection was reset by its peer. */
static int make_reset(const struct img_inet *r)
{
	static const uint8_t lo6[16] = {[15] = 1}, lo4[4] = {127, 0, 0, 1};
	struct sockaddr_storage ss;
	socklen_t l = sockaddr_of(&ss, r->family, r->family == AF_INET ? lo4 : lo6, 0, 0);
	int ls = socket(r->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int s = socket(r->family, SOCK_STREAM | SOCK_CLOEXEC, 0), a = -1;
	if (ls < 0 || s < 0 || bind(ls, (void *)&ss, l) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (void *)&ss, &l) < 0 || connect(s, (void *)&ss, l) < 0 ||
	    (a = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		error("cannot make a reset TCP connection on loopback: %s", strerror(errno));
		if (s >= 0)
			close(s);
		s = -1;
	} else {
		struct linger lg = {1, 0};
		setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(a); /* sends RST */
	}
	if (ls >= 0)
		close(ls);
	return s;
}

static int create_inet(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	(void)set;
	const struct img_inet *r = o->priv;
	char err[1024];
	if (r->state == IMG_INET_TCP_RESET)
		return (fd[0] = make_reset(r)) < 0 ? -1 : 0;
	if (r->state == IMG_INET_TCP_CONN)
		return rst_tcp_take(o, fd); /* made by PID 1 first (fd_tcp.c) */
	if (has_port(r)) /* made early by restart itself, normally (rst_inet_bind_ports) */
		return (fd[0] = make_bound(r, err, sizeof(err))) < 0 ? error("%s", err) : 0;
	int type = r->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	if ((fd[0] = socket(r->family, type | SOCK_CLOEXEC, r->proto)) < 0)
		return -1;
	rst_inet_options(fd[0], r);
	rst_inet_rcvlowat(fd[0], r);
	return 0;
}

static int inet_scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		     char *err, size_t errlen)
{
	(void)d;
	const struct img_inet *r = rst_fdx_payload(x);
	struct rst_obj *o = rst_obj_get(set, IMG_FD_INET, x->ino, 0, i, create_inet);
	if (!o)
		return errf(err, errlen, "out of memory");
	const struct img_inet *had = o->priv;
	if (!had || had->state != IMG_INET_TCP_CONN)
		o->priv = r; /* the drainer's record, when another holder's says reset */
	if (r->state == IMG_INET_TCP_CONN)
		o->creator = -1; /* PID 1 makes the set's connections (fd_tcp.c) */
	return 0;
}

static int inet_open(const struct rst_set *set, int i, const struct img_fd *d,
		     const struct img_fdx *x)
{
	(void)i;
	int at = rst_obj_fd(set, IMG_FD_INET, x->ino, 0, 0);
	int fd = at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFL, d->open_flags & O_NONBLOCK);
	return fd;
}

const struct rst_fd_kind rst_fd_inet = {IMG_FD_INET, inet_scan, inet_open, NULL};
