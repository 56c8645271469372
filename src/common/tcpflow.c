/* The refill of a TCP connection's receive queues by bouncing (tcpflow.h). */
#include "common/tcpflow.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STEP_MAX (1u << 20) /* bytes per send or recv call */
#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72 /* Linux 5.14 */
#endif

/* What the kernel makes of SO_RCVBUF or SO_SNDBUF v: twice v, but no more
 * than twice net.core.rmem_max or wmem_max (asked of a scratch socket, in
 * this network namespace); -1: unknown. */
static int would_get(int opt, int v)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), got = -1;
	socklen_t l = sizeof(got);
	if (s < 0)
		return -1;
	if (setsockopt(s, SOL_SOCKET, opt, &v, sizeof(v)) < 0 ||
	    getsockopt(s, SOL_SOCKET, opt, &got, &l) < 0)
		got = -1;
	close(s);
	return got;
}

/* Room for n bytes of payload in a socket buffer (the kernel counts its
 * overhead too): a queue of bytes bounced back may be larger than what a
 * buffer that was not autotuned yet takes, and bytes that filled a
 * connection's buffers in flight, bounced back, need a margin (they do not
 * pack into the same buffers to the byte: the refill stalled).
 * Raised only: autotuning grows a receive buffer up to tcp_rmem's maximum
 * (32 MiB on Linux 6.18), past what SO_RCVBUF may set (twice rmem_max, 8 MiB
 * here), and setting it then would shrink it below the bytes it held.
 * f->short_room: the buffer stays smaller than asked. */
static void room_for(struct tcp_flow *f, int opt, uint64_t n)
{
	int cur = 0;
	socklen_t l = sizeof(cur);
	uint64_t need = 2 * n + (64u << 10);
	if (n < (256u << 10) || getsockopt(f->fd, SOL_SOCKET, opt, &cur, &l) < 0 ||
	    need <= (uint64_t)cur)
		return;
	int v = need / 2 > INT_MAX / 2 ? INT_MAX / 2 : (int)(need / 2);
	int got = would_get(opt, v);
	f->short_room |= (uint64_t)got < need;
	if (got <= cur)
		return;
	setsockopt(f->fd, SOL_SOCKET, opt, &v, sizeof(v));
	f->raised = 1;
	if (opt == SO_SNDBUF)
		f->sndbuf_was = cur;
}

/* Once the flow is done: the send buffer's size as it was (the bytes echoed
 * wait in the queue all the same; the program's writes wait until it is
 * below), so that the program never has more in flight than before, more
 * than the next refill has room for; and the kernel's autotuning as it was
 * (SO_BUF_LOCK). A receive buffer stays raised: made smaller than its queue,
 * it would drop what the peer sends into the window already offered. */
static void give_back(struct tcp_flow *f)
{
	int v = f->sndbuf_was / 2; /* the kernel doubles it */
	if (f->sndbuf_was)
		setsockopt(f->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	if (f->raised && f->locks >= 0)
		setsockopt(f->fd, SOL_SOCKET, SO_BUF_LOCK, &f->locks, sizeof(f->locks));
	f->raised = f->sndbuf_was = 0;
}

void tcp_flow_init(struct tcp_flow *f, int fd, const uint8_t *pre, uint32_t pre_len,
		   void *(*alloc)(size_t, void *), void *alloc_arg)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->pre = pre;
	f->pre_len = pre ? pre_len : 0;
	f->alloc = alloc;
	f->alloc_arg = alloc_arg;
	socklen_t l = sizeof(f->locks);
	if (getsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &f->locks, &l) < 0)
		f->locks = -1;
}

void tcp_flow_set_own(struct tcp_flow *f, const uint8_t *own, uint64_t len)
{
	f->own = own;
	f->own_len = len;
	for (int i = 0; i < 8; i++)
		f->len_out[i] = (uint8_t)(len >> (8 * i));
	f->own_final = 1;
	room_for(f, SO_RCVBUF, len); /* the peer's echo of it waits in our queue */
}

static int frame_sent(const struct tcp_flow *f)
{
	return f->own_final && f->frame_done == 8 + f->own_len;
}

static int frame_read(const struct tcp_flow *f)
{
	return f->len_got == 8 && f->theirs_got == f->theirs_len;
}

int tcp_flow_pre_sent(const struct tcp_flow *f)
{
	return f->pre_done == f->pre_len;
}

int tcp_flow_done(const struct tcp_flow *f)
{
	return frame_sent(f) && frame_read(f) && f->echo_done == f->theirs_len;
}

short tcp_flow_events(const struct tcp_flow *f)
{
	short ev = 0;
	if (f->failed)
		return 0;
	if (f->input_ready && !frame_read(f))
		ev |= POLLIN;
	if (!tcp_flow_pre_sent(f) || (f->own_final && !frame_sent(f)) ||
	    (frame_sent(f) && f->echo_done < f->theirs_got))
		ev |= POLLOUT;
	return ev;
}

/* bytes sent (0: the queue is full), or -1 */
static int64_t send_some(struct tcp_flow *f, const uint8_t *p, uint64_t n)
{
	ssize_t k = send(f->fd, p, n > STEP_MAX ? STEP_MAX : n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (k >= 0)
		return k;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	f->failed = errno;
	return -1;
}

/* bytes received (0: none yet), or -1 (the peer closing is a failure here) */
static int64_t recv_some(struct tcp_flow *f, uint8_t *p, uint64_t n)
{
	ssize_t k = recv(f->fd, p, n > STEP_MAX ? STEP_MAX : n, MSG_DONTWAIT);
	if (k > 0)
		return k;
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	f->failed = k == 0 ? ECONNRESET : errno;
	return -1;
}

/* The next bytes of the output, in stream order: pre, frame, echo. */
static const uint8_t *next_out(const struct tcp_flow *f, uint64_t *n)
{
	if (!tcp_flow_pre_sent(f)) {
		*n = f->pre_len - f->pre_done;
		return f->pre + f->pre_done;
	}
	if (!f->own_final)
		return NULL;
	if (f->frame_done < 8) {
		*n = 8 - f->frame_done;
		return f->len_out + f->frame_done;
	}
	if (!frame_sent(f)) {
		*n = f->own_len - (f->frame_done - 8);
		return f->own + (f->frame_done - 8);
	}
	*n = f->theirs_got - f->echo_done;
	return *n ? f->theirs + f->echo_done : NULL;
}

static int64_t step_out(struct tcp_flow *f)
{
	int64_t moved = 0;
	for (;;) {
		uint64_t n;
		const uint8_t *p = next_out(f, &n);
		if (!p)
			return moved;
		int64_t k = send_some(f, p, n);
		if (k <= 0)
			return k < 0 ? -1 : moved;
		moved += k;
		if (!tcp_flow_pre_sent(f))
			f->pre_done += k;
		else if (!frame_sent(f))
			f->frame_done += k;
		else
			f->echo_done += k;
	}
}

static int start_data(struct tcp_flow *f)
{
	uint64_t len = 0;
	for (int i = 7; i >= 0; i--)
		len = len << 8 | f->len_in[i];
	if (len > TCP_FLOW_MAX_DATA) {
		f->failed = EPROTO;
		return -1;
	}
	f->theirs_len = len;
	room_for(f, SO_SNDBUF, len); /* our echo of it waits in our send queue */
	f->theirs = f->alloc(len ? len : 1, f->alloc_arg);
	if (!f->theirs) {
		f->failed = ENOMEM;
		return -1;
	}
	return 0;
}

static int64_t step_in(struct tcp_flow *f)
{
	int64_t moved = 0, k;
	if (!f->input_ready)
		return 0;
	while (f->len_got < 8) {
		if ((k = recv_some(f, f->len_in + f->len_got, 8 - f->len_got)) <= 0)
			return k < 0 ? -1 : moved;
		f->len_got += k;
		moved += k;
		if (f->len_got == 8 && start_data(f) < 0)
			return -1;
	}
	while (f->theirs_got < f->theirs_len) {
		k = recv_some(f, f->theirs + f->theirs_got, f->theirs_len - f->theirs_got);
		if (k <= 0)
			return k < 0 ? -1 : moved;
		f->theirs_got += k;
		moved += k;
	}
	return moved;
}

int64_t tcp_flow_step(struct tcp_flow *f)
{
	if (f->failed)
		return -1;
	int64_t a = step_in(f);
	if (a < 0)
		return -1;
	int64_t b = step_out(f);
	if (b < 0)
		return -1;
	if (tcp_flow_done(f))
		give_back(f);
	return a + b;
}
