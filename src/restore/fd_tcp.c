/* TCP connections between processes of the computation, at restart
 * (records IMG_INET_TCP_CONN). PID 1 of the restart makes every one of its
 * set again before any process exists, through the coordinator, which is
 * the name service: side 0 of a connection listens on a fresh port of this
 * host (the address it reaches the coordinator from) and publishes it with a
 * random cookie; side 1 looks it up, connects and sends the cookie first.
 * Then each end bounces the bytes that were in flight to it off its peer
 * (common/tcpflow.c), so that they wait in its receive queue again; an end
 * that had shut its sending side shuts it again. Both ends may be here, or
 * one on another host: one poll loop drives every connection, bounded by
 * RST_TCP_WAIT_S. Each socket then becomes its shared object (objs.c), at
 * the fixed number every holder takes it from. */
#include "restore/fd_tcp.h"
#include "restore/gate.h"
#include "restore/fd_inet.h"
#include "restore/load.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/tcpflow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RST_TCP_WAIT_S 60      /* for the peers of every connection to come back, at least */
#define RST_TCP_STALL_MS 10000 /* every connection flows, no byte moved: stuck */

enum { LISTENING = 1, COOKIE, ASKED, CONNECTING, FLOWING, DONE };

struct rconn {
	const struct rst_obj *o;
	const struct img_inet *r;
	struct img_tcp t;
	const uint8_t *data;
	int lfd, fd, state;
	uint8_t got[16];
	uint32_t ngot;
	struct proto_name name;
	struct tcp_flow flow;
};

static struct rconn *conns;
static int nconns;
static int min_fd; /* above the set's fixed layout: its slots are taken later */

/* fd moved to min_fd or above (O_CLOEXEC), or -1 (fd closed) */
static int above(int fd)
{
	if (fd < 0 || fd >= min_fd)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
	close(fd);
	return moved;
}

static const char *rconn_text(const struct rconn *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?", b[INET6_ADDRSTRLEN] = "?";
	inet_ntop(c->r->family, c->r->local, a, sizeof(a));
	inet_ntop(c->r->family, c->r->peer, b, sizeof(b));
	snprintf(buf, size, "TCP connection %016llx (%s port %u -> %s port %u)",
		 (unsigned long long)c->t.conn_id, a, c->r->lport, b, c->r->pport);
	return buf;
}

static int fail(const struct rconn *c, const char *what)
{
	char t[160];
	return error("cannot make %s again: %s: %s", rconn_text(c, t, sizeof(t)), what,
		     strerror(errno));
}

/* This host's address as the other hosts reach it: the one we reach the
 * coordinator from, in the family of the socket to make. */
static socklen_t here(int ns, int family, struct sockaddr_storage *ss)
{
	struct sockaddr_storage me;
	socklen_t l = sizeof(me);
	memset(ss, 0, sizeof(*ss));
	if (getsockname(ns, (struct sockaddr *)&me, &l) < 0)
		return 0;
	if (me.ss_family == family) {
		memcpy(ss, &me, l);
		((struct sockaddr_in *)ss)->sin_port = 0; /* same offset in sockaddr_in6 */
		return l;
	}
	struct sockaddr_in *v4 = (void *)ss;
	struct sockaddr_in6 *v6 = (void *)ss;
	if (family == AF_INET6) { /* ours is IPv4: mapped */
		v6->sin6_family = AF_INET6;
		v6->sin6_addr.s6_addr[10] = v6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&v6->sin6_addr.s6_addr[12], &((struct sockaddr_in *)&me)->sin_addr, 4);
		return sizeof(*v6);
	}
	v4->sin_family = AF_INET; /* ours is IPv6: loopback stays loopback */
	v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*v4);
}

static int new_socket(const struct rconn *c)
{
	int s =
	    above(socket(c->r->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
	if (s < 0)
		return -1;
	rst_inet_options(s, c->r);
	return s;
}

static void *heap_alloc(size_t size, void *arg)
{
	(void)arg;
	return malloc(size);
}

static int publish(struct rconn *c, int ns)
{
	struct sockaddr_storage ss;
	socklen_t l = here(ns, c->r->family, &ss);
	if (!l)
		return fail(c, "no address of this host");
	if ((c->lfd = new_socket(c)) < 0 || bind(c->lfd, (struct sockaddr *)&ss, l) < 0 ||
	    listen(c->lfd, 4) < 0 || getsockname(c->lfd, (struct sockaddr *)&ss, &l) < 0)
		return fail(c, "listening on a new port");
	c->name.conn_id = c->t.conn_id;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;
		c->name.family = AF_INET;
		c->name.port = ntohs(a->sin_port);
		memcpy(c->name.addr, &a->sin_addr, 4);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;
		c->name.family = AF_INET6;
		c->name.port = ntohs(a->sin6_port);
		memcpy(c->name.addr, &a->sin6_addr, 16);
	}
	randombytes_buf(c->name.cookie, sizeof(c->name.cookie));
	c->state = LISTENING;
	if (proto_send(ns, MSG_NAME_PUBLISH, &c->name, sizeof(c->name), NULL, 0) < 0)
		return fail(c, "publishing it to the coordinator");
	return 0;
}

static int connect_to(struct rconn *c, const struct proto_name *n)
{
	struct sockaddr_storage ss;
	socklen_t l;
	memset(&ss, 0, sizeof(ss));
	c->name = *n;
	if (c->r->family == AF_INET6) {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(n->port);
		if (n->family == AF_INET) {
			a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&a->sin6_addr.s6_addr[12], n->addr, 4);
		} else {
			memcpy(&a->sin6_addr, n->addr, 16);
		}
		l = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(n->port);
		if (n->family == AF_INET)
			memcpy(&a->sin_addr, n->addr, 4);
		else
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = sizeof(*a);
	}
	if ((c->fd = new_socket(c)) < 0)
		return fail(c, "a new socket");
	if (connect(c->fd, (struct sockaddr *)&ss, l) < 0 && errno != EINPROGRESS)
		return fail(c, "connecting to its peer's new port");
	c->state = CONNECTING;
	return 0;
}

static void start_flow(struct rconn *c, const uint8_t *pre, uint32_t pre_len)
{
	tcp_flow_init(&c->flow, c->fd, pre, pre_len, heap_alloc, NULL);
	tcp_flow_set_own(&c->flow, c->data, c->t.data_len);
	c->flow.input_ready = 1;
	c->state = FLOWING;
}

static int on_accept(struct rconn *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : fail(c, "accepting its peer");
	if ((fd = above(fd)) < 0)
		return fail(c, "moving its socket");
	c->fd = fd;
	c->ngot = 0;
	c->state = COOKIE;
	return 1;
}

/* The first 16 bytes must be the cookie: anyone else is dropped. */
static int on_cookie(struct rconn *c)
{
	ssize_t k = recv(c->fd, c->got + c->ngot, sizeof(c->got) - c->ngot, MSG_DONTWAIT);
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (k > 0 && (c->ngot += k) < sizeof(c->got))
		return 1;
	if (k <= 0 || sodium_memcmp(c->got, c->name.cookie, sizeof(c->got))) {
		warn("dropping a connection to the new port of connection %016llx: it did not "
		     "send the cookie",
		     (unsigned long long)c->t.conn_id);
		close(c->fd);
		c->fd = -1;
		c->state = LISTENING;
		return 1;
	}
	close(c->lfd);
	c->lfd = -1;
	start_flow(c, NULL, 0);
	return 1;
}

static int on_connected(struct rconn *c)
{
	int e = 0;
	socklen_t l = sizeof(e);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e)
		return errno = e ? e : errno, fail(c, "connecting to its peer's new port");
	start_flow(c, c->name.cookie, sizeof(c->name.cookie));
	return 1;
}

static int finish(struct rconn *c)
{
	if ((c->t.flags & IMG_TCP_SHUT_WR) && shutdown(c->fd, SHUT_WR) < 0)
		return fail(c, "shutting its sending side again");
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	rst_inet_options(c->fd, c->r);
	rst_inet_rcvlowat(c->fd, c->r); /* not before: the bounce's reads wait on it */
	c->state = DONE;
	return 1;
}

static int on_flow(struct rconn *c)
{
	int64_t k = tcp_flow_step(&c->flow);
	if (k < 0)
		return errno = c->flow.failed, fail(c, "putting back its bytes in flight");
	if (tcp_flow_done(&c->flow))
		return finish(c);
	return k > 0;
}

/* Move c as far as it goes now: 1 if it moved, 0 if not, -1 on failure. */
static int step(struct rconn *c, short revents)
{
	switch (c->state) {
	case LISTENING:
		return revents ? on_accept(c) : 0;
	case COOKIE:
		return revents ? on_cookie(c) : 0;
	case CONNECTING:
		return revents ? on_connected(c) : 0;
	case FLOWING:
		return on_flow(c);
	}
	return 0;
}

static struct pollfd want(const struct rconn *c)
{
	switch (c->state) {
	case LISTENING:
		return (struct pollfd){.fd = c->lfd, .events = POLLIN};
	case COOKIE:
		return (struct pollfd){.fd = c->fd, .events = POLLIN};
	case CONNECTING:
		return (struct pollfd){.fd = c->fd, .events = POLLOUT};
	case FLOWING:
		return (struct pollfd){.fd = c->fd, .events = tcp_flow_events(&c->flow)};
	}
	return (struct pollfd){.fd = -1};
}

static int on_answer(int ns)
{
	uint8_t buf[256];
	struct proto_msg m;
	struct proto_name n;
	if (proto_recv(ns, &m, buf, sizeof(buf)) < 0)
		return error("lost the coordinator while making TCP connections again: %s",
			     strerror(errno));
	if (m.hdr.type != MSG_NAME_ANSWER || m.hdr.len != sizeof(n))
		return error("unexpected message %u from the coordinator", m.hdr.type);
	memcpy(&n, m.payload, sizeof(n));
	for (int i = 0; i < nconns; i++)
		if (conns[i].state == ASKED && conns[i].t.conn_id == n.conn_id)
			return connect_to(&conns[i], &n);
	return 0;
}

/* Every connection not made yet flows, both ends here or elsewhere: they only
 * wait on each other. */
static int all_flowing(void)
{
	for (int i = 0; i < nconns; i++)
		if (conns[i].state != DONE && conns[i].state != FLOWING)
			return 0;
	return 1;
}

static int timed_out(int wait_s)
{
	char t[160];
	for (int i = 0; i < nconns; i++) {
		const struct rconn *c = &conns[i];
		if (c->state == DONE)
			continue;
		if (c->state == FLOWING && c->flow.short_room)
			return error(
			    "cannot make %s again: its %llu bytes in flight did not fit in the "
			    "buffers of its new socket and its peer's within %d s (SO_RCVBUF and "
			    "SO_SNDBUF stop at twice net.core.rmem_max and wmem_max, and "
			    "autotuning "
			    "had grown the old connection's past them): raise net.core.rmem_max to "
			    "%llu or more (sysctl, as root), then restart again",
			    rconn_text(c, t, sizeof(t)), (unsigned long long)c->t.data_len, wait_s,
			    (unsigned long long)c->t.data_len);
		return error("cannot make %s again: %s within %d s (is the part of the computation "
			     "with its other end restarting?)",
			     rconn_text(c, t, sizeof(t)),
			     c->state == ASKED	     ? "its peer did not publish its new port"
			     : c->state == LISTENING ? "its peer did not connect"
						     : "its peer did not send its bytes back",
			     wait_s);
	}
	return -1;
}

static int run(int ns, int wait_s)
{
	struct pollfd *p = calloc(nconns + 1, sizeof(*p));
	time_t end = time(NULL) + wait_s;
	long long last = now_ms(); /* a byte or a connection moved */
	if (!p)
		return error("out of memory");
	for (;;) {
		int n = 0, left = 0, moved = 0;
		for (int i = 0; i < nconns; i++) {
			int r = step(&conns[i], 0);
			if (r < 0)
				goto out;
			moved |= r;
			left += conns[i].state != DONE;
		}
		if (!left)
			break;
		if (moved) {
			last = now_ms();
			continue;
		}
		p[n++] = (struct pollfd){.fd = ns, .events = POLLIN};
		for (int i = 0; i < nconns; i++)
			p[n++] = want(&conns[i]);
		if (time(NULL) > end) {
			timed_out(wait_s);
			goto out;
		}
		if (all_flowing() && now_ms() - last > RST_TCP_STALL_MS) {
			timed_out(RST_TCP_STALL_MS / 1000);
			goto out;
		}
		if (poll(p, n, 200) < 0 && errno != EINTR) {
			error("poll: %s", strerror(errno));
			goto out;
		}
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && on_answer(ns) < 0)
			goto out;
		for (int i = 0; i < nconns; i++) {
			int r = p[i + 1].revents ? step(&conns[i], p[i + 1].revents) : 0;
			if (r < 0)
				goto out;
			if (r > 0)
				last = now_ms();
		}
	}
	free(p);
	return 0;
out:
	free(p);
	return -1;
}

/* A part of a generation takes no port before every part holds the ports its
 * images need: each binds them before it joins (fd_inet.c), and the
 * coordinator answers JOINED once every process of the generation has joined.
 * (A whole generation has joined before PID 1 makes any: before PID 1
 * existed, or by the gate when restart started the coordinator: gate.c.) */
static int wait_joined(int ns, int wait_s)
{
	uint8_t buf[64];
	struct proto_msg m;
	struct pollfd p = {.fd = ns, .events = POLLIN};
	long long end = now_ms() + wait_s * 1000LL;
	if (proto_send(ns, MSG_JOINED_WAIT, NULL, 0, NULL, 0) < 0)
		return error("cannot ask the coordinator for the other parts of the restart: %s",
			     strerror(errno));
	debug("restart: waiting for every part of the generation to join");
	for (int n = 0; n <= 0;) {
		long long left = end - now_ms();
		if (left <= 0)
			return error("cannot make TCP connections again: the other parts of the "
				     "restart did not all join the coordinator within %d s",
				     wait_s);
		if ((n = poll(&p, 1, (int)left)) < 0 && errno != EINTR)
			return error("poll: %s", strerror(errno));
	}
	if (proto_recv(ns, &m, buf, sizeof(buf)) < 0)
		return error("lost the coordinator while making TCP connections again: %s",
			     strerror(errno));
	if (m.hdr.type != MSG_JOINED)
		return error("unexpected message %u from the coordinator", m.hdr.type);
	return 0;
}

static int open_ns(const struct rst_set *set)
{
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = (uint32_t)getpid()};
	char err[512];
	snprintf(h.name, sizeof(h.name), "restart");
	int ns = proto_client_connect(set->conn[0].port, &h, NULL, NULL, 0, err, sizeof(err));
	if (ns < 0)
		error("cannot make TCP connections again: %s", err);
	return ns;
}

int rst_tcp_restore(const struct rst_set *set)
{
	for (int k = 0; k < set->nobjs; k++) {
		const struct rst_obj *o = &set->objs[k];
		const struct img_inet *r = o->priv;
		if (o->kind != IMG_FD_INET || !r || r->state != IMG_INET_TCP_CONN)
			continue;
		struct rconn *grown = realloc(conns, (nconns + 1) * sizeof(*conns));
		if (!grown)
			return error("out of memory");
		conns = grown;
		struct rconn *c = &conns[nconns++];
		memset(c, 0, sizeof(*c));
		c->o = o;
		c->r = r;
		memcpy(&c->t, r + 1, sizeof(c->t));
		c->data = (const uint8_t *)(r + 1) + sizeof(c->t);
		c->lfd = c->fd = -1;
	}
	if (!nconns)
		return 0;
	if (rst_gate_wait(set, -1) < 0) /* the coordinator restart started is up (gate.c) */
		return error("restart ended before it joined the coordinator");
	min_fd = set->top;
	/* the coordinator's own --wait ends a part that waits in vain first, and
	 * says which processes did not come */
	int wait_s = set->wait_s + 5 > RST_TCP_WAIT_S ? set->wait_s + 5 : RST_TCP_WAIT_S;
	int ns = above(open_ns(set)), rc = ns < 0 ? -1 : 0;
	if (rc == 0 && set->part)
		rc = wait_joined(ns, wait_s);
	for (int i = 0; rc == 0 && i < nconns; i++) {
		struct rconn *c = &conns[i];
		if (c->t.side == 0)
			rc = publish(c, ns);
		else if (proto_send(ns, MSG_NAME_LOOKUP, &c->t.conn_id, 8, NULL, 0) < 0)
			rc = fail(c, "asking the coordinator where its peer is");
		else
			c->state = ASKED;
	}
	if (rc == 0)
		rc = run(ns, wait_s);
	if (ns >= 0)
		close(ns);
	return rc;
}

int rst_tcp_take(const struct rst_obj *o, int fd[2])
{
	for (int i = 0; i < nconns; i++)
		if (conns[i].o == o && conns[i].state == DONE) {
			fd[0] = conns[i].fd;
			conns[i].fd = -1;
			return 0;
		}
	errno = ENOENT;
	return -1;
}
