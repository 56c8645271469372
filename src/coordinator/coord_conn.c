/* Coordinator connections: accept, nonblocking buffered I/O, framing, the
 * challenge/hello handshake, and dispatch of authenticated messages. */
#include "common/io.h"
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OUT_MAX (8u << 20) /* a peer that reads nothing is dropped past this */
#define READ_CHUNK 65536

static void conn_read(struct loop *l, int fd, void *data, int mask);

static const char *conn_who(const struct conn *k, char *buf, size_t size)
{
	if (k->role)
		snprintf(buf, size, "%s %u (%s)", k->role == ROLE_PROCESS ? "process" : "client",
			 k->pid, k->name);
	else
		snprintf(buf, size, "connection %llu", (unsigned long long)k->id);
	return buf;
}

void conn_drop(struct conn *k, const char *why)
{
	char who[128];
	if (k->state == CONN_DEAD)
		return;
	if (why)
		warn("closing %s: %s", conn_who(k, who, sizeof(who)), why);
	k->state = CONN_DEAD;
	loop_del_fd(k->c->loop, k->fd, LOOP_READ | LOOP_WRITE);
}

static int conn_flush(struct conn *k)
{
	while (k->out.len) {
		ssize_t n = send(k->fd, k->out.p, k->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return loop_add_fd(k->c->loop, k->fd, LOOP_WRITE, conn_read, k);
		if (n < 0) {
			conn_drop(k, k->role ? strerror(errno) : NULL);
			return -1;
		}
		sbuf_consume(&k->out, n);
	}
	loop_del_fd(k->c->loop, k->fd, LOOP_WRITE);
	if (k->state == CONN_CLOSING)
		conn_drop(k, NULL);
	return 0;
}

int conn_send(struct conn *k, uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	struct proto_hdr h = {.magic = PROTO_MAGIC,
			      .version = PROTO_VERSION,
			      .type = type,
			      .len = (uint32_t)(alen + blen)};
	if (k->state == CONN_DEAD)
		return -1;
	if (alen + blen > PROTO_MAX_PAYLOAD || k->out.len > OUT_MAX) {
		conn_drop(k, "output too large (the peer does not read)");
		return -1;
	}
	if (sbuf_add(&k->out, &h, sizeof(h)) < 0 || sbuf_add(&k->out, a, alen) < 0 ||
	    sbuf_add(&k->out, b, blen) < 0) {
		conn_drop(k, "out of memory");
		return -1;
	}
	return conn_flush(k);
}

static void refuse(struct conn *k, const char *reason)
{
	char who[128];
	warn("refused %s (pid %u): %s", conn_who(k, who, sizeof(who)), k->pid, reason);
	k->role = 0;
	conn_send(k, MSG_REFUSE, reason, strlen(reason), NULL, 0);
	if (k->state != CONN_DEAD)
		k->state = CONN_CLOSING;
	if (!k->out.len)
		conn_drop(k, NULL);
}

struct conn *conn_by_id(struct coord *c, uint64_t id)
{
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->id == id && k->state == CONN_READY)
			return k;
	return NULL;
}

int conn_is_process(const struct conn *k)
{
	return k->role == ROLE_PROCESS;
}

int coord_nprocs(const struct coord *c)
{
	int n = 0;
	for (const struct conn *k = c->conns; k; k = k->next)
		n += k->state == CONN_READY && conn_is_process(k);
	return n;
}

static void new_computation(struct coord *c)
{
	do
		randombytes_buf(&c->comp_id, sizeof(c->comp_id));
	while (!c->comp_id);
	c->gen = 0;
}

/* Attach a process to the computation this coordinator serves, or start one. */
static int join_computation(struct coord *c, const struct proto_hello *h, char *err, size_t errlen)
{
	int others = coord_nprocs(c);
	if (h->comp_id && others && h->comp_id != c->comp_id) {
		snprintf(err, errlen,
			 "this coordinator serves computation %016llx, not %016llx: use another "
			 "port (-p)",
			 (unsigned long long)c->comp_id, (unsigned long long)h->comp_id);
		return -1;
	}
	if (h->flags & HELLO_RESTART) {
		if (!h->comp_id) {
			snprintf(err, errlen, "restart hello without a computation id");
			return -1;
		}
		if (!c->restarting) {
			c->restarting = 1;
			c->restart_nprocs = h->nprocs ? h->nprocs : 1;
		}
	}
	if (h->comp_id) {
		c->comp_id = h->comp_id;
		if (h->gen > c->gen)
			c->gen = h->gen;
	} else if (!others) {
		new_computation(c);
	}
	c->had_process = 1;
	return 0;
}

static void welcome(struct conn *k)
{
	struct coord *c = k->c;
	struct proto_welcome w = {.client_id = k->id,
				  .comp_id = c->comp_id,
				  .gen = c->gen,
				  .flags = c->opts.no_compress ? CKPT_NO_COMPRESS : 0};
	k->state = CONN_READY;
	conn_send(k, MSG_WELCOME, &w, sizeof(w), c->ckpt_dir, strlen(c->ckpt_dir));
}

static void on_hello(struct conn *k, const struct proto_msg *m)
{
	struct proto_hello h;
	uint8_t mac[PROTO_MAC_LEN];
	char reason[256];
	if (m->hdr.type != MSG_HELLO || m->hdr.len != sizeof(h)) {
		conn_drop(k, "first message is not a hello");
		return;
	}
	memcpy(&h, m->payload, sizeof(h));
	k->pid = h.pid;
	proto_hello_mac(k->c->token, k->nonce, h.role, h.pid, mac);
	if (sodium_memcmp(mac, h.mac, sizeof(mac)) != 0)
		return refuse(k, "bad token");
	if (h.role != ROLE_PROCESS && h.role != ROLE_CONTROL)
		return refuse(k, "unknown role");
	if (h.role == ROLE_PROCESS && join_computation(k->c, &h, reason, sizeof(reason)) < 0)
		return refuse(k, reason);
	if (h.role == ROLE_PROCESS)
		ckpt_exec_joined(k->c, h.pid);
	k->role = h.role;
	k->restarted = h.role == ROLE_PROCESS && (h.flags & HELLO_RESTART);
	memcpy(k->name, h.name, PROTO_NAME_LEN);
	k->name[PROTO_NAME_LEN] = 0;
	debug("%s %u (%s) joined", k->role == ROLE_PROCESS ? "process" : "client", k->pid, k->name);
	welcome(k);
}

static int process_dispatch(struct conn *k, const struct proto_msg *m)
{
	struct proto_barrier b;
	switch (m->hdr.type) {
	case MSG_BARRIER:
		if (m->hdr.len != sizeof(b))
			return -1;
		memcpy(&b, m->payload, sizeof(b));
		if (b.id == BARRIER_RESTARTED)
			restart_on_barrier(k);
		else
			ckpt_on_barrier(k, &b);
		return 0;
	case MSG_IMAGE_DONE:
		if (m->hdr.len <= sizeof(struct proto_image_done))
			return -1;
		ckpt_on_image(k, m);
		return 0;
	case MSG_CKPT_ERROR:
		ckpt_on_error(k, m);
		return 0;
	case MSG_PROGRESS:
		if (m->hdr.len != sizeof(struct proto_progress))
			return -1;
		ckpt_on_progress(k, m);
		return 0;
	case MSG_EXEC:
		if (m->hdr.len != 4)
			return -1;
		memcpy(&k->execing, m->payload, 4);
		return 0;
	case MSG_CHILDREN:
		if (m->hdr.len % 4)
			return -1;
		ckpt_on_children(k, m);
		return 0;
	case MSG_TCP_REPORT:
		tcp_on_report(k, m);
		return 0;
	case MSG_HOST:
		host_on(k, m);
		return 0;
	case MSG_CMD_CHECKPOINT: /* stasis_checkpoint() from inside the computation */
		return ctl_dispatch(k, m);
	}
	return -1;
}

static void dispatch(struct conn *k, const struct proto_msg *m)
{
	char why[96];
	if (k->state == CONN_HELLO)
		return on_hello(k, m);
	if (m->hdr.type == MSG_NAME_PUBLISH || m->hdr.type == MSG_NAME_LOOKUP) {
		if (names_dispatch(k, m) == 0)
			return;
	} else if ((conn_is_process(k) ? process_dispatch(k, m) : ctl_dispatch(k, m)) == 0) {
		return;
	}
	snprintf(why, sizeof(why), "unexpected message (type %u, %u bytes)", m->hdr.type,
		 m->hdr.len);
	conn_drop(k, why);
}

/* Run every complete message in the input buffer. */
static void parse_input(struct conn *k)
{
	struct proto_msg m;
	size_t off = 0;
	while ((k->state == CONN_HELLO || k->state == CONN_READY) &&
	       k->in.len - off >= sizeof(m.hdr)) {
		memcpy(&m.hdr, k->in.p + off, sizeof(m.hdr));
		if (proto_check_hdr(&m.hdr) < 0)
			return conn_drop(k, "malformed message header");
		if (k->state == CONN_HELLO && m.hdr.len > sizeof(struct proto_hello))
			return conn_drop(k, "first message is not a hello");
		if (k->in.len - off - sizeof(m.hdr) < m.hdr.len)
			break;
		m.payload = (uint8_t *)k->in.p + off + sizeof(m.hdr);
		dispatch(k, &m);
		off += sizeof(m.hdr) + m.hdr.len;
	}
	sbuf_consume(&k->in, off);
}

static void conn_read(struct loop *l, int fd, void *data, int mask)
{
	struct conn *k = data;
	(void)l;
	if (mask & LOOP_WRITE) {
		conn_flush(k);
		return;
	}
	if (sbuf_reserve(&k->in, READ_CHUNK) < 0)
		return conn_drop(k, "out of memory");
	ssize_t n = recv(fd, k->in.p + k->in.len, k->in.cap - k->in.len - 1, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return conn_drop(k, n < 0 ? strerror(errno) : NULL);
	k->in.len += n;
	parse_input(k);
}

static void conn_new(struct coord *c, int fd)
{
	struct conn *k = calloc(1, sizeof(*k));
	int one = 1;
	if (!k || loop_add_fd(c->loop, fd, LOOP_READ, conn_read, k) < 0) {
		warn("cannot accept a connection: %s", strerror(errno));
		free(k);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	k->c = c;
	k->fd = fd;
	k->id = ++c->next_client_id;
	k->state = CONN_HELLO;
	k->next = c->conns;
	c->conns = k;
	randombytes_buf(k->nonce, sizeof(k->nonce));
	conn_send(k, MSG_CHALLENGE, k->nonce, sizeof(k->nonce), NULL, 0);
}

void conn_accept(struct loop *l, int fd, void *data, int mask)
{
	(void)l;
	(void)mask;
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			conn_new(data, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			warn("cannot accept a connection: %s", strerror(errno));
		return;
	}
}

static void conn_free(struct conn *k)
{
	loop_del_fd(k->c->loop, k->fd, LOOP_READ | LOOP_WRITE);
	close(k->fd);
	tcp_forget(k);
	sbuf_free(&k->in);
	sbuf_free(&k->out);
	free(k);
}

int conn_reap(struct coord *c)
{
	int left = 0, again = 1;
	while (again) {
		again = 0;
		for (struct conn **p = &c->conns; *p;) {
			struct conn *k = *p;
			if (k->state != CONN_DEAD) {
				p = &k->next;
				continue;
			}
			*p = k->next;
			if (conn_is_process(k)) {
				debug("process %u (%s) left", k->pid, k->name);
				if (k->execing)
					ckpt_exec_left(c, k->pid);
				ckpt_proc_left(k);
				left++;
				again = 1;
			}
			conn_free(k);
		}
	}
	return left;
}

/* Before exit: give every peer its pending replies (blocking, 1 s each at most). */
void conn_flush_all(struct coord *c)
{
	struct timeval tv = {.tv_sec = 1};
	for (struct conn *k = c->conns; k; k = k->next) {
		if (k->state == CONN_DEAD || !k->out.len)
			continue;
		fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (write_full(k->fd, k->out.p, k->out.len) == 0)
			sbuf_reset(&k->out);
	}
}

void conn_free_all(struct coord *c)
{
	while (c->conns) {
		struct conn *k = c->conns;
		c->conns = k->next;
		conn_free(k);
	}
}
