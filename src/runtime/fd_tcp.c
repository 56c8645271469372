/* TCP connections inside the computation, at checkpoint time.
 *
 * After the SUSPENDED pass (every process of every host stopped) each process
 * reports the TCP connections it drains (the sockets it is the lowest pid to
 * hold) to the coordinator, which pairs the two ends of each connection and
 * answers with, per socket, a connection id (0: the peer is outside) and the
 * peer's send queue. Then, for every connection inside:
 *   - when neither end has anything unacknowledged (SIOCOUTQ 0), every byte
 *     sent is in the receiver's queue: each end copies its queue with MSG_PEEK
 *     and nothing is consumed;
 *   - otherwise each end writes a marker (the checkpoint's nonce, the
 *     connection id and its side) and reads its queue up to the peer's marker
 *     (peeking first, so that it never reads past it), and both put the bytes
 *     back by bouncing (common/tcpflow.c) before the program runs again. Everything is
 * non-blocking, driven by one poll over every connection of the process, and fails with the
 * connections' names when no byte moves for RT_TCP_STALL_MS. */
#include "runtime/fd_sock.h"
#include "runtime/fd_tcp.h"
#include "runtime/arena.h"
#include "runtime/ckpt.h"
#include "runtime/dirlist.h"
#include "runtime/sock_names.h"
#include "runtime/state.h"
#include "runtime/fds.h"
#include "common/io.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/tcpflow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RT_TCP_STALL_MS 10000 /* no byte moved for this long: the drain fails */
#define MAX_ENDS 16383	      /* proto_tcp_end records in one report (1 MiB) */
#define MARKER_LEN 24

struct end {
	struct proto_tcp_peer peer;
	int fd, bounce, in_done;
	uint8_t marker_out[MARKER_LEN], marker_in[MARKER_LEN];
	uint8_t *in; /* the bytes of this end's receive queue */
	uint64_t in_len, in_cap;
	struct tcp_flow flow;
	struct rt_tcp_conn out;
};

static struct proto_tcp_end *reps; /* the report, in the arena */
static struct end *ends;
static uint32_t nends;
static uint64_t ends_key = ~0ull; /* the checkpoint they belong to */

static uint64_t key_now(void)
{
	return rt.comp_id ^ ((uint64_t)rt.gen << 40);
}

static int intopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	return getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

/* The socket's own names, not what the wrappers show the program. */
static int raw_name(int fd, int peer, struct sockaddr_storage *ss)
{
	socklen_t l = sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	return (int)syscall(peer ? SYS_getpeername : SYS_getsockname, fd, ss, &l);
}

/* IPv6 form of an address (IPv4 mapped), and its port */
static void addr16(const struct sockaddr_storage *ss, uint8_t out[16], uint16_t *port)
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;
		memcpy(out, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
	}
}

static uint32_t state_flags(uint32_t state)
{
	switch (state) {
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
		return PROTO_TCP_SHUT_WR;
	case TCP_CLOSE_WAIT:
		return PROTO_TCP_PEER_SHUT;
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return PROTO_TCP_SHUT_WR | PROTO_TCP_PEER_SHUT;
	}
	return 0;
}

#define MAX_LISTENERS 1024
static struct rt_tcp_listener *listeners;
static uint32_t nlisteners;

static void note_listener(int fd)
{
	struct sockaddr_storage ss;
	uint8_t a[16];
	uint16_t port = 0;
	if (nlisteners < MAX_LISTENERS && raw_name(fd, 0, &ss) == 0) {
		addr16(&ss, a, &port);
		listeners[nlisteners++] = (struct rt_tcp_listener){port, fd};
	}
}

/* fd's end, if it is a TCP connection (or one being made) this process drains */
static int describe(int fd, const struct stat *st, struct proto_tcp_end *r)
{
	struct tcp_info ti;
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ti);
	int dom = intopt(fd, SOL_SOCKET, SO_DOMAIN);
	if ((dom != AF_INET && dom != AF_INET6) ||
	    intopt(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP)
		return 0;
	if (sk_member_holder(st->st_ino) != getpid())
		return 0; /* another process drains it */
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0 || ti.tcpi_state == TCP_CLOSE)
		return 0;
	if (ti.tcpi_state == TCP_LISTEN) {
		note_listener(fd);
		return 0;
	}
	memset(r, 0, sizeof(*r));
	r->ino = st->st_ino;
	r->fd = fd;
	r->state = ti.tcpi_state;
	r->family = dom;
	r->flags = state_flags(r->state);
	struct pollfd p = {.fd = fd, .events = POLLPRI};
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLPRI))
		r->flags |= PROTO_TCP_URGENT;
	int q = 0;
	r->outq = ioctl(fd, SIOCOUTQ, &q) == 0 ? q : 0;
	r->inq = ioctl(fd, SIOCINQ, &q) == 0 ? q : 0;
	if (raw_name(fd, 0, &ss) == 0)
		addr16(&ss, r->local, &r->lport);
	if (raw_name(fd, 1, &ss) == 0)
		addr16(&ss, r->peer, &r->pport);
	return 1;
}

static int collect(char *err, size_t errlen)
{
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	reps = rt_alloc(MAX_ENDS * sizeof(*reps));
	listeners = rt_alloc(MAX_LISTENERS * sizeof(*listeners));
	int n = fds && reps && listeners ? rt_list_own_fds(fds, RT_FDS_MAX, NULL) : -1;
	nends = nlisteners = 0;
	if (n < 0)
		return snprintf(err, errlen, "pid %d: cannot list its descriptors: %s", getpid(),
				strerror(errno)),
		       -1;
	for (int i = 0; i < n; i++) {
		struct stat st;
		int seen = 0;
		if (fds[i] == rt.coord_fd || fstat(fds[i], &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		for (uint32_t k = 0; k < nends && !seen; k++)
			seen = reps[k].ino == st.st_ino;
		if (seen || !describe(fds[i], &st, &reps[nends]))
			continue;
		if (++nends == MAX_ENDS)
			break;
	}
	int k =
	    nlisteners ? rt_tcp_pending(reps + nends, MAX_ENDS - nends, listeners, nlisteners) : 0;
	if (k < 0)
		return snprintf(err, errlen,
				"pid %d: cannot list the connections its listeners have not "
				"accepted yet (sock_diag): %s",
				getpid(), strerror(errno)),
		       -1;
	if ((nends += k) >= MAX_ENDS)
		return snprintf(err, errlen,
				"pid %d holds more than %d TCP connections: not supported",
				getpid(), MAX_ENDS - 1),
		       -1;
	return 0;
}

static int exchange(int take_part, struct proto_tcp_match *mh, char *err, size_t errlen)
{
	struct proto_tcp_report h = {.count = take_part ? nends : 0};
	struct proto_msg m;
	size_t size = sizeof(*mh) + (size_t)nends * sizeof(struct proto_tcp_peer) + 4096;
	uint8_t *buf = rt_alloc(size);
	proto_host_key(h.host, "net");
	if (!buf)
		return snprintf(err, errlen, "out of memory"), -1;
	if (proto_send(rt.coord_fd, MSG_TCP_REPORT, &h, sizeof(h), reps,
		       (size_t)h.count * sizeof(*reps)) < 0)
		return RT_COORD_LOST;
	int rc = rt_coord_wait(MSG_TCP_MATCH, &m, buf, size);
	if (rc)
		return rc;
	if (m.hdr.len < sizeof(*mh))
		return snprintf(err, errlen, "malformed TCP answer from the coordinator"), -1;
	memcpy(mh, m.payload, sizeof(*mh));
	if (mh->flags & PROTO_TCP_ABORT)
		return 0;
	if (mh->count != h.count || m.hdr.len != sizeof(*mh) + h.count * sizeof(ends[0].peer))
		return snprintf(err, errlen, "malformed TCP answer from the coordinator"), -1;
	ends = rt_alloc((nends ? nends : 1) * sizeof(*ends));
	if (!ends)
		return snprintf(err, errlen, "out of memory"), -1;
	for (uint32_t k = 0; k < nends; k++) {
		memset(&ends[k], 0, sizeof(ends[k]));
		memcpy(&ends[k].peer, m.payload + sizeof(*mh) + k * sizeof(ends[k].peer),
		       sizeof(ends[k].peer));
		ends[k].fd = reps[k].fd;
	}
	return 0;
}

static void marker(uint8_t out[MARKER_LEN], const uint8_t nonce[16], uint64_t conn_id,
		   uint32_t side)
{
	uint64_t v = conn_id ^ ((uint64_t)side << 63);
	memcpy(out, nonce, 16);
	for (int i = 0; i < 8; i++)
		out[16 + i] = (uint8_t)(v >> (8 * i));
}

/* Copy n queued bytes without consuming them (SO_PEEK_OFF when one peek
 * does not give them all). */
static int peek_all(int fd, uint8_t *buf, uint64_t n)
{
	ssize_t got = n ? recv(fd, buf, n, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (got < 0)
		return -1;
	if ((uint64_t)got == n)
		return 0;
	int old = intopt(fd, SOL_SOCKET, SO_PEEK_OFF), off = (int)got;
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return -1;
	while ((uint64_t)got < n) {
		ssize_t k = recv(fd, buf + got, n - got, MSG_PEEK | MSG_DONTWAIT);
		if (k <= 0)
			break;
		got += k;
	}
	setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	return (uint64_t)got == n ? 0 : (errno = EIO, -1);
}

static void *arena_alloc(size_t size, void *arg)
{
	(void)arg;
	return rt_alloc(size);
}

static int setup(struct end *e, const struct proto_tcp_end *r, const uint8_t nonce[16])
{
	int q = 0;
	uint64_t inq = ioctl(e->fd, SIOCINQ, &q) == 0 ? (uint64_t)q : 0;
	e->bounce = r->outq || e->peer.peer_outq;
	marker(e->marker_out, nonce, e->peer.conn_id, e->peer.side);
	marker(e->marker_in, nonce, e->peer.conn_id, !e->peer.side);
	/* the peer's marker ends at most here: what it had not got acknowledged
	 * when it reported, and what had reached us by now */
	e->in_cap = inq + (e->bounce ? e->peer.peer_outq + MARKER_LEN : 0);
	e->in = rt_alloc(e->in_cap ? e->in_cap : 1);
	if (!e->in)
		return errno = ENOMEM, -1;
	tcp_flow_init(&e->flow, e->fd, e->bounce ? e->marker_out : NULL, MARKER_LEN, arena_alloc,
		      NULL);
	if (!e->bounce) {
		if (peek_all(e->fd, e->in, inq) < 0)
			return -1;
		e->in_len = inq;
		e->in_done = 1;
	}
	return 0;
}

/* Consume exactly n bytes that are known to be queued. */
static int take(int fd, uint8_t *buf, uint64_t n)
{
	while (n) {
		ssize_t k = recv(fd, buf, n, MSG_DONTWAIT);
		if (k <= 0)
			return k == 0 ? (errno = ECONNRESET, -1) : -1;
		buf += k;
		n -= k;
	}
	return 0;
}

static int64_t drain_step(struct end *e)
{
	if (e->in_done)
		return 0;
	uint64_t room = e->in_cap - e->in_len;
	ssize_t k = room ? recv(e->fd, e->in + e->in_len, room, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (k == 0) /* the peer closed, or more came than it had to send */
		return errno = room ? ECONNRESET : EPROTO, -1;
	uint64_t from = e->in_len > MARKER_LEN - 1 ? e->in_len - (MARKER_LEN - 1) : 0;
	uint8_t *hit = memmem(e->in + from, e->in_len + k - from, e->marker_in, MARKER_LEN);
	uint64_t upto = hit ? (uint64_t)(hit - e->in) + MARKER_LEN : e->in_len + k;
	if (take(e->fd, e->in + e->in_len, upto - e->in_len) < 0)
		return -1;
	e->in_len = hit ? (uint64_t)(hit - e->in) : upto;
	e->in_done = !!hit;
	return k;
}

static int64_t end_step(struct end *e)
{
	int64_t moved = drain_step(e);
	if (moved < 0)
		return -1;
	if (e->in_done && !e->flow.own_final) {
		tcp_flow_set_own(&e->flow, e->in, e->in_len);
		e->flow.input_ready = 1;
	}
	if (!e->bounce)
		return moved;
	int64_t k = tcp_flow_step(&e->flow);
	if (k < 0)
		return errno = e->flow.failed, -1;
	return moved + k;
}

static int end_done(const struct end *e)
{
	return e->in_done && (!e->bounce || tcp_flow_done(&e->flow));
}

static short end_events(const struct end *e)
{
	short ev = e->in_done ? 0 : POLLIN;
	return ev | (e->bounce ? tcp_flow_events(&e->flow) : 0);
}

static int end_error(const struct end *e, const struct proto_tcp_end *r, const char *why, char *err,
		     size_t errlen)
{
	char a[64], b[64];
	snprintf(err, errlen,
		 "pid %d fd %d: TCP connection %s -> %s (connection %016llx) %s; its bytes in "
		 "flight may be lost",
		 getpid(), e->fd, proto_tcp_addr(r->local, r->lport, a, sizeof(a)),
		 proto_tcp_addr(r->peer, r->pport, b, sizeof(b)),
		 (unsigned long long)e->peer.conn_id, why);
	return -1;
}

static int stalled(char *err, size_t errlen)
{
	char why[160];
	for (uint32_t k = 0; k < nends; k++) {
		const struct end *e = &ends[k];
		if (!e->peer.conn_id || end_done(e))
			continue;
		snprintf(why, sizeof(why),
			 "did not drain within %d s (%s; is the peer's process stopped or gone?)",
			 RT_TCP_STALL_MS / 1000,
			 !e->in_done ? "the peer's marker did not come"
				     : "the peer did not send its bytes back");
		return end_error(e, &reps[k], why, err, errlen);
	}
	return -1;
}

static int drain_all(char *err, size_t errlen)
{
	struct pollfd *p = rt_alloc((nends ? nends : 1) * sizeof(*p));
	uint32_t *which = rt_alloc((nends ? nends : 1) * sizeof(*which));
	long long last = now_ms();
	if (!p || !which)
		return snprintf(err, errlen, "out of memory"), -1;
	for (;;) {
		uint32_t n = 0;
		int64_t moved = 0;
		for (uint32_t k = 0; k < nends; k++) {
			struct end *e = &ends[k];
			if (!e->peer.conn_id || end_done(e))
				continue;
			int64_t m = end_step(e);
			if (m < 0)
				return end_error(e, &reps[k], strerror(errno), err, errlen);
			moved += m;
			if (!end_done(e)) {
				p[n] = (struct pollfd){.fd = e->fd, .events = end_events(e)};
				which[n++] = k;
			}
		}
		if (!n)
			return 0;
		if (moved)
			last = now_ms();
		else if (now_ms() - last > RT_TCP_STALL_MS)
			return stalled(err, errlen);
		if (!moved && poll(p, n, 100) < 0 && errno != EINTR)
			return snprintf(err, errlen, "poll: %s", strerror(errno)), -1;
	}
}

int rt_tcp_checkpoint(int take_part, char *err, size_t errlen)
{
	struct proto_tcp_match mh;
	ends = NULL;
	nends = 0;
	ends_key = key_now();
	rt_names_begin();
	int failed = take_part && collect(err, errlen) < 0;
	int rc = exchange(take_part && !failed, &mh, err, errlen); /* empty: takes no part */
	if (rc || failed)
		return rc ? rc : -1;
	if (!take_part || (mh.flags & PROTO_TCP_ABORT))
		return 0;
	long long t0 = now_ms();
	for (uint32_t k = 0; k < nends; k++)
		if (ends[k].peer.conn_id && setup(&ends[k], &reps[k], mh.nonce) < 0)
			return end_error(&ends[k], &reps[k], strerror(errno), err, errlen);
	if (drain_all(err, errlen) < 0)
		return -1;
	uint64_t total = 0;
	for (uint32_t k = 0; k < nends; k++)
		total += ends[k].in_len;
	debug("pid %d: %u TCP connections, %llu bytes in flight to them, drained and put back in "
	      "%lld ms",
	      getpid(), nends, (unsigned long long)total, now_ms() - t0);
	for (uint32_t k = 0; k < nends; k++) {
		struct end *e = &ends[k];
		if (e->peer.conn_id)
			debug("pid %d fd %d: connection %016llx (send queue %u, receive queue %u, "
			      "the peer's send queue %u): %llu bytes in flight to it, %s",
			      getpid(), e->fd, (unsigned long long)e->peer.conn_id, reps[k].outq,
			      reps[k].inq, e->peer.peer_outq, (unsigned long long)e->in_len,
			      e->bounce ? "read to the marker and bounced back"
					: "copied (nothing unacknowledged)");
		e->out = (struct rt_tcp_conn){.ino = reps[k].ino,
					      .conn_id = e->peer.conn_id,
					      .side = e->peer.side,
					      .flags = reps[k].flags,
					      .data = e->in,
					      .len = e->in_len};
	}
	return 0;
}

const struct rt_tcp_conn *rt_tcp_find(uint64_t ino)
{
	if (ends_key != key_now() || !ends)
		return NULL;
	for (uint32_t k = 0; k < nends; k++)
		if (reps[k].ino == ino && ends[k].peer.conn_id)
			return &ends[k].out;
	return NULL;
}
