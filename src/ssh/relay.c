/* The relays' loop: stdio fds on one side, framed on the TCP connection on
 * the other. One poll over everything, no busy wait. The stdio fds are used
 * as the program left them (blocking, maybe shared with it): a read follows
 * POLLIN, a write of at most PIPE_BUF follows POLLOUT; only the connection,
 * which is the relay's own, is used non-blocking. Each direction holds at
 * most RELAY_QUEUE bytes: past that the relay stops reading that side. */
#include "ssh/ssh.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_QUEUE (1 << 20)
#define MAX_FDS 4

struct queue {
	uint8_t *p;
	size_t len, cap;
};

struct end {
	int fd;
	uint32_t type;
	struct queue q; /* sinks: bytes to write */
	int eof;	/* sources: read the end; sinks: the peer's EOF frame came */
};

struct relay {
	int sock, peer_closed, exit_status;
	struct queue out, in; /* to and from the connection */
	struct end src[MAX_FDS], sink[MAX_FDS];
	int nsrc, nsink;
	int watch_fd;
	void (*on_watch)(struct relay *r, void *arg);
	void *watch_arg;
	int broken; /* an error to report */
	char why[256];
};

static int q_add(struct queue *q, const void *data, size_t len)
{
	if (q->len + len > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		while (cap < q->len + len)
			cap *= 2;
		uint8_t *p = realloc(q->p, cap);
		if (!p)
			return -1;
		q->p = p;
		q->cap = cap;
	}
	memcpy(q->p + q->len, data, len);
	q->len += len;
	return 0;
}

static void q_take(struct queue *q, size_t n)
{
	memmove(q->p, q->p + n, q->len - n);
	q->len -= n;
}

struct relay *relay_new(int sock)
{
	struct relay *r = calloc(1, sizeof(*r));
	if (r) {
		r->sock = sock;
		r->exit_status = -1;
		r->watch_fd = -1;
	}
	return r;
}

void relay_source(struct relay *r, int fd, uint32_t type)
{
	r->src[r->nsrc++] = (struct end){.fd = fd, .type = type};
}

void relay_sink(struct relay *r, int fd, uint32_t type)
{
	r->sink[r->nsink++] = (struct end){.fd = fd, .type = type};
}

void relay_watch(struct relay *r, int fd, void (*on_ready)(struct relay *r, void *arg), void *arg)
{
	r->watch_fd = fd;
	r->on_watch = on_ready;
	r->watch_arg = arg;
}

static void fail(struct relay *r, const char *why)
{
	if (!r->broken)
		snprintf(r->why, sizeof(r->why), "%s", why);
	r->broken = 1;
}

void relay_send(struct relay *r, uint32_t type, const void *data, uint32_t len)
{
	uint32_t h[2] = {type, len};
	if (q_add(&r->out, h, sizeof(h)) < 0 || q_add(&r->out, data, len) < 0)
		fail(r, "out of memory");
}

static struct end *sink_of(struct relay *r, uint32_t type)
{
	for (int i = 0; i < r->nsink; i++)
		if (r->sink[i].type == type)
			return &r->sink[i];
	return NULL;
}

/* A frame from the peer. */
static void dispatch(struct relay *r, uint32_t type, const uint8_t *data, uint32_t len)
{
	uint32_t v = 0;
	if (type == RELAY_EOF || type == RELAY_EXIT) {
		if (len != 4)
			return fail(r, "malformed frame from the other relay");
		memcpy(&v, data, 4);
	}
	if (type == RELAY_EXIT) {
		r->exit_status = (int)(v & 0xff);
		return;
	}
	struct end *s = sink_of(r, type == RELAY_EOF ? v : type);
	if (!s || s->fd < 0)
		return; /* a stream this side does not take, or closed: dropped */
	if (type == RELAY_EOF)
		s->eof = 1;
	else if (q_add(&s->q, data, len) < 0)
		fail(r, "out of memory");
}

static void parse(struct relay *r)
{
	size_t off = 0;
	while (!r->broken && r->in.len - off >= 8) {
		uint32_t h[2];
		memcpy(h, r->in.p + off, sizeof(h));
		if (h[1] > RELAY_FRAME_MAX)
			return fail(r, "malformed frame from the other relay");
		if (r->in.len - off - 8 < h[1])
			break;
		dispatch(r, h[0], r->in.p + off + 8, h[1]);
		off += 8 + h[1];
	}
	q_take(&r->in, off);
}

static int sinks_room(const struct relay *r)
{
	for (int i = 0; i < r->nsink; i++)
		if (r->sink[i].fd >= 0 && r->sink[i].q.len >= RELAY_QUEUE)
			return 0;
	return 1;
}

static void sock_io(struct relay *r, short revents)
{
	uint8_t buf[65536];
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = recv(r->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			if (q_add(&r->in, buf, n) < 0)
				fail(r, "out of memory");
			parse(r);
		} else if (n == 0) {
			r->peer_closed = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			r->peer_closed = 1;
			snprintf(r->why, sizeof(r->why), "%s", strerror(errno));
		}
	}
	if ((revents & POLLOUT) && r->out.len) {
		ssize_t n = send(r->sock, r->out.p, r->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			q_take(&r->out, n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			r->peer_closed = 1;
	}
}

static void source_read(struct relay *r, struct end *s)
{
	uint8_t buf[RELAY_FRAME_MAX];
	ssize_t n = read(s->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0)
		return relay_send(r, s->type, buf, (uint32_t)n);
	s->eof = 1; /* end of the stream, or an error: the same to the peer */
	close(s->fd);
	s->fd = -1;
	relay_send(r, RELAY_EOF, &s->type, 4);
}

static void sink_close(struct end *s)
{
	close(s->fd);
	s->fd = -1;
	free(s->q.p);
	s->q = (struct queue){0};
}

static void sink_write(struct end *s)
{
	ssize_t n = write(s->fd, s->q.p, s->q.len < PIPE_BUF ? s->q.len : PIPE_BUF);
	if (n > 0)
		q_take(&s->q, n);
	else if (n < 0 && errno != EINTR && errno != EAGAIN)
		sink_close(s); /* the reader is gone (EPIPE): what follows is dropped */
}

/* The pollfds of this round; map[k] says what pollfd k is. */
static int gather(struct relay *r, struct pollfd *p, int *map)
{
	int n = 0, room = r->out.len < RELAY_QUEUE;
	short ev = (!r->peer_closed && sinks_room(r) ? POLLIN : 0) | (r->out.len ? POLLOUT : 0);
	if (!r->peer_closed || r->out.len) {
		p[n] = (struct pollfd){.fd = r->sock, .events = ev};
		map[n++] = 0;
	}
	for (int i = 0; i < r->nsrc; i++)
		if (r->src[i].fd >= 0 && room) {
			p[n] = (struct pollfd){.fd = r->src[i].fd, .events = POLLIN};
			map[n++] = 1 + i;
		}
	for (int i = 0; i < r->nsink; i++)
		if (r->sink[i].fd >= 0 && r->sink[i].q.len) {
			p[n] = (struct pollfd){.fd = r->sink[i].fd, .events = POLLOUT};
			map[n++] = 1 + MAX_FDS + i;
		}
	if (r->watch_fd >= 0) {
		p[n] = (struct pollfd){.fd = r->watch_fd, .events = POLLIN};
		map[n++] = 1 + 2 * MAX_FDS;
	}
	return n;
}

static void handle(struct relay *r, int what, short revents)
{
	if (!revents)
		return;
	if (what == 0)
		return sock_io(r, revents);
	if (what <= MAX_FDS)
		return source_read(r, &r->src[what - 1]);
	if (what <= 2 * MAX_FDS) {
		struct end *s = &r->sink[what - 1 - MAX_FDS];
		return revents & POLLOUT ? sink_write(s) : sink_close(s);
	}
	r->on_watch(r, r->watch_arg);
}

int relay_run(struct relay *r, int (*done)(struct relay *r), int timeout_ms, char *err,
	      size_t errlen)
{
	struct pollfd p[2 + 2 * MAX_FDS];
	int map[2 + 2 * MAX_FDS];
	long long end = timeout_ms < 0 ? -1 : ssh_now_ms() + timeout_ms;
	while (!r->broken && !done(r)) {
		for (int i = 0; i < r->nsink; i++) /* its peer's stream ended, all written */
			if (r->sink[i].fd >= 0 && r->sink[i].eof && !r->sink[i].q.len)
				sink_close(&r->sink[i]);
		int n = gather(r, p, map);
		if (n == 0)
			break; /* nothing left to wait for */
		long long left = end < 0 ? -1 : end - ssh_now_ms();
		if (end >= 0 && left <= 0) {
			snprintf(err, errlen, "no end within %d s", timeout_ms / 1000);
			return errno = ETIMEDOUT, -1;
		}
		int k = poll(p, n, (int)left);
		if (k < 0 && errno == EINTR)
			continue; /* a checkpoint, say */
		if (k < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++)
			handle(r, map[i], p[i].revents);
	}
	if (r->broken) {
		snprintf(err, errlen, "%s", r->why);
		return -1;
	}
	return 0;
}

int relay_exit_status(const struct relay *r)
{
	return r->exit_status;
}

int relay_sources_done(const struct relay *r)
{
	for (int i = 0; i < r->nsrc; i++)
		if (r->src[i].fd >= 0)
			return 0;
	return 1;
}

int relay_sinks_flushed(const struct relay *r)
{
	for (int i = 0; i < r->nsink; i++)
		if (r->sink[i].fd >= 0 && r->sink[i].q.len)
			return 0;
	return 1;
}

int relay_sent_all(const struct relay *r)
{
	return r->out.len == 0;
}

int relay_peer_closed(const struct relay *r)
{
	return r->peer_closed;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nsink; i++)
		free(r->sink[i].q.p);
	free(r->out.p);
	free(r->in.p);
	free(r);
}
