/* Coordinator connections: accept, nonblocking buffered I/O, framing, the
 * challenge/hello handshake, and dispatch of authenticated messages. */
#include "common/fault.h"
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
	ckpt_count(k, -1);
	if (k->member)
		k->c->ckpt.ndead++; /* ckpt_advance takes it out of the checkpoint */
	if (k->state == CONN_READY && conn_is_process(k))
		k->c->nprocs--;
	if (k->state == CONN_READY && k->restarted)
		k->c->nrestarted--;
	k->state = CONN_DEAD;
	k->c->ndead_conns++; /* conn_reap frees it */
	loop_del_fd(k->c->loop, k->fd, LOOP_READ | LOOP_WRITE);
}

/* The shared message is sent: what was queued after it comes next. */
static void shared_sent(struct conn *k)
{
	struct sbuf empty = k->out;
	shared_put(k->sh);
	k->sh = NULL;
	k->sh_off = 0;
	k->out = k->after;
	k->after = empty;
}

/* Send what is queued: out, then the shared message, then after. */
static int conn_flush(struct conn *k)
{
	while (k->out.len || k->sh) {
		const char *p = k->out.len ? k->out.p : (const char *)k->sh->data + k->sh_off;
		size_t len = k->out.len ? k->out.len : k->sh->len - k->sh_off;
		ssize_t n = send(k->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return loop_add_fd(k->c->loop, k->fd, LOOP_WRITE, conn_read, k);
		if (n < 0) {
			conn_drop(k, k->role ? strerror(errno) : NULL);
			return -1;
		}
		if (k->out.len)
			sbuf_consume(&k->out, n);
		else if ((k->sh_off += n) == k->sh->len)
			shared_sent(k);
	}
	loop_del_fd(k->c->loop, k->fd, LOOP_WRITE);
	if (k->state == CONN_CLOSING)
		conn_drop(k, NULL);
	return 0;
}

/* k may take len more bytes (-1: it was dropped). */
static int send_check(struct conn *k, size_t len)
{
	if (k->state == CONN_DEAD)
		return -1;
	if (fault_hit(FAULT_COORD_SEND)) {
		char why[96];
		snprintf(why, sizeof(why), "cannot send to it: %s", strerror(errno));
		conn_drop(k, why);
		return -1;
	}
	if (len > PROTO_MAX_PAYLOAD || k->out.len + k->after.len > OUT_MAX) {
		conn_drop(k, "output too large (the peer does not read)");
		return -1;
	}
	k->sent_ms = now_ms();
	return 0;
}

int conn_send(struct conn *k, uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	struct proto_hdr h = {.magic = PROTO_MAGIC,
			      .version = PROTO_VERSION,
			      .type = type,
			      .len = (uint32_t)(alen + blen)};
	struct sbuf *q = k->sh ? &k->after : &k->out; /* after a shared message waiting */
	if (send_check(k, alen + blen) < 0)
		return -1;
	if (sbuf_add(q, &h, sizeof(h)) < 0 || sbuf_add(q, a, alen) < 0 ||
	    sbuf_add(q, b, blen) < 0) {
		conn_drop(k, "out of memory");
		return -1;
	}
	return conn_flush(k);
}

int conn_send_shared(struct conn *k, struct shared *s)
{
	if (send_check(k, s->len - sizeof(struct proto_hdr)) < 0)
		return -1;
	if (k->sh) { /* one waits already: a copy after it */
		if (sbuf_add(&k->after, s->data, s->len) < 0) {
			conn_drop(k, "out of memory");
			return -1;
		}
	} else {
		k->sh = s;
		s->refs++;
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
	/* conn_new: its descriptor in the low 32 bits; the loop knows it */
	struct conn *k = loop_fd_data(c->loop, (int)(uint32_t)id, conn_read);
	return k && k->id == id && k->state == CONN_READY ? k : NULL;
}

int conn_is_process(const struct conn *k)
{
	return k->role == ROLE_PROCESS;
}

int coord_nprocs(const struct coord *c)
{
	return c->nprocs;
}

/* k and the restart hello h are parts of one restart in parts: each is one
 * host's part of the generation being restarted, and they are not the same
 * process (its pid on the host it ran on). */
static int other_part(const struct coord *c, const struct conn *k, const struct proto_hello *h)
{
	return c->restarting && (h->flags & HELLO_PART) && (k->flags & HELLO_PART) &&
	       h->gen == c->gen &&
	       (k->pid != h->pid || memcmp(k->origin, h->origin, sizeof(k->origin)));
}

/* "101 (a), 102 (b)": the processes of the computation that run, or are being
 * restarted by another 'stasis restart' than h's (not another part of it);
 * how many. */
static int running_procs(const struct coord *c, const struct proto_hello *h, char *buf, size_t size)
{
	uint32_t last = 0;
	int n = 0;
	buf[0] = 0;
	for (;;) { /* ascending pids, without sorting a copy */
		const struct conn *next = NULL;
		for (const struct conn *k = c->conns; k; k = k->next)
			if (k->state == CONN_READY && conn_is_process(k) && k->pid > last &&
			    (!(k->flags & HELLO_RESTART) || k->restart_id != h->restart_id) &&
			    !other_part(c, k, h) && (!next || k->pid < next->pid))
				next = k;
		if (!next)
			return n;
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%u (%s)", n ? ", " : "", next->pid, next->name);
		last = next->pid;
		n++;
	}
}

static int check_restart(struct coord *c, const struct proto_hello *h, char *err, size_t errlen)
{
	char procs[1024];
	if (!h->comp_id)
		return errf(err, errlen, "restart hello without a computation id");
	if (h->comp_id == c->comp_id && running_procs(c, h, procs, sizeof(procs)))
		return errf(err, errlen,
			    "computation %016llx is already running under the coordinator on port "
			    "%u (processes %s): end it first with 'stasis kill -p %u'",
			    (unsigned long long)h->comp_id, c->port, procs, c->port);
	return 0;
}

/* The computation a hello joins: its own, the one with live processes, the
 * one a process left to exec from, or a new one. */
static uint64_t computation_of(const struct coord *c, const struct proto_hello *h, int others)
{
	uint64_t id = h->comp_id;
	if (!id && (others || ckpt_exec_pending(c, h->pid)))
		id = c->comp_id;
	while (!id)
		randombytes_buf(&id, sizeof(id));
	return id;
}

/* Attach a process to the computation this coordinator serves, or start one. */
static int join_computation(struct coord *c, const struct proto_hello *h, char *err, size_t errlen)
{
	int others = coord_nprocs(c);
	if (h->comp_id && others && h->comp_id != c->comp_id)
		return errf(err, errlen,
			    "this coordinator serves computation %016llx, not %016llx: use another "
			    "port (-p)",
			    (unsigned long long)c->comp_id, (unsigned long long)h->comp_id);
	if ((h->flags & HELLO_RESTART) && check_restart(c, h, err, errlen) < 0)
		return -1;
	uint64_t id = computation_of(c, h, others);
	if (life_adopt(c, id, err, errlen) < 0)
		return -1;
	if (id != c->comp_id) {
		c->comp_id = id;
		c->gen = 0;
		memset(&c->last_ok, 0, sizeof(c->last_ok));
		memset(&c->last_err, 0, sizeof(c->last_err));
		sbuf_reset(&c->last_images);
	}
	if (h->comp_id && h->gen > c->gen)
		c->gen = h->gen;
	if ((h->flags & HELLO_RESTART) && !c->restarting) {
		c->restarting = 1;
		names_forget(c); /* the plugins' names of the last checkpoint */
		c->restart_nprocs = h->nprocs ? h->nprocs : 1;
	}
	return 0;
}

static struct conn **pid_bucket(const struct coord *c, uint32_t pid)
{
	return (struct conn **)&c->by_pid[pid % COORD_PID_BUCKETS];
}

struct conn *conn_of_pid(const struct coord *c, uint32_t pid)
{
	struct conn *k = *pid_bucket(c, pid);
	while (k && k->pid != pid)
		k = k->pid_next;
	return k;
}

static void index_pid(struct conn *k)
{
	struct conn **b = pid_bucket(k->c, k->pid);
	k->pid_next = *b;
	*b = k;
	k->in_by_pid = 1;
}

static void unindex_pid(struct conn *k)
{
	struct conn **p = pid_bucket(k->c, k->pid);
	while (k->in_by_pid && *p && *p != k)
		p = &(*p)->pid_next;
	if (k->in_by_pid && *p)
		*p = k->pid_next;
	k->in_by_pid = 0;
}

static void welcome(struct conn *k)
{
	struct coord *c = k->c;
	if (conn_is_process(k))
		index_pid(k);
	struct proto_welcome w = {.client_id = k->id,
				  .comp_id = c->comp_id,
				  .gen = c->gen,
				  .flags = c->opts.no_compress ? CKPT_NO_COMPRESS : 0};
	k->state = CONN_READY;
	c->nprocs += conn_is_process(k);
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
		ckpt_exec_joined(k->c, h.pid); /* back after its exec */
	if ((h.role == ROLE_PROCESS || (h.flags & HELLO_HOLD)) && !k->c->served++)
		k->c->linger_until_ms = 0; /* what it was started for is here: no start grace */
	k->role = h.role;
	k->flags = h.flags;
	k->restart_id = h.restart_id;
	memcpy(k->origin, h.origin, sizeof(k->origin));
	memcpy(k->name, h.name, PROTO_NAME_LEN);
	k->name[PROTO_NAME_LEN] = 0;
	debug("%s %u (%s) joined", k->role == ROLE_PROCESS ? "process" : "client", k->pid, k->name);
	welcome(k);
	if (h.role == ROLE_PROCESS && (h.flags & HELLO_RESTART))
		restart_on_join(k);
	if (h.role == ROLE_PROCESS && !(h.flags & (HELLO_RESTART | HELLO_REJOIN)))
		ctl_send_interval(k); /* a new process learns its computation's interval */
}

static int process_dispatch(struct conn *k, const struct proto_msg *m)
{
	struct proto_barrier b;
	if (k->abandoned && watch_on_abandoned(k, m))
		return 0;
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
	case MSG_EXEC: {
		uint32_t state;
		if (m->hdr.len != 4)
			return -1;
		memcpy(&state, m->payload, 4);
		if (state == EXEC_EXITING)
			k->exiting = 1;
		else
			k->execing = state != 0;
		return 0;
	}
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
	case MSG_INTERVAL:
		if (m->hdr.len != 4)
			return -1;
		ctl_on_interval(k, m);
		return 0;
	case MSG_RETAIN:
		if (m->hdr.len != 4)
			return -1;
		ckpt_on_retain(k, m);
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
	if (m->hdr.type == MSG_NAME_PUBLISH || m->hdr.type == MSG_NAME_LOOKUP ||
	    m->hdr.type == MSG_KV_PUBLISH || m->hdr.type == MSG_KV_LOOKUP) {
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
		k->heard_ms = now_ms();
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
	/* unique (a sequence number) and found at once (its descriptor) */
	k->id = ++c->next_client_id << 32 | (uint32_t)fd;
	k->state = CONN_HELLO;
	k->heard_ms = now_ms();
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
			fds_accepted(data);
			conn_new(data, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK && !fds_accept_failed(data, errno))
			warn("cannot accept a connection: %s", strerror(errno));
		return;
	}
}

static void conn_free(struct conn *k)
{
	unindex_pid(k);
	loop_del_fd(k->c->loop, k->fd, LOOP_READ | LOOP_WRITE);
	close(k->fd);
	tcp_forget(k);
	shared_put(k->sh);
	sbuf_free(&k->after);
	free(k->image);
	sbuf_free(&k->in);
	sbuf_free(&k->out);
	sbuf_free(&k->kill_result);
	free(k);
}

#define EXIT_GRACE_MS 1500   /* --exit-on-last waits this long after a process left (an exec) */
#define LAUNCH_GRACE_MS 5000 /* and this long for the program a launch started */

/* A process of a restart left before the restart completed (it failed or was
 * killed while restored): the restart fails as a whole, the other processes
 * it brought back end too (when they reach the RESTARTED barrier, if they
 * have not yet). */
static void restart_failed(struct coord *c, const struct conn *k)
{
	if (c->failed_restart == k->restart_id)
		return; /* said, and the others were told */
	c->failed_restart = k->restart_id;
	warn("process %u (%s) of a restart of computation %016llx ended before every process "
	     "was restored: ending the others",
	     k->pid, k->name, (unsigned long long)c->comp_id);
	for (struct conn *o = c->conns; o; o = o->next)
		if (o != k && o->state == CONN_READY && conn_is_process(o) &&
		    (o->flags & HELLO_RESTART) && o->restart_id == k->restart_id)
			conn_send(o, MSG_KILL, NULL, 0, NULL, 0);
}

static void conn_left(struct coord *c, struct conn *k)
{
	if (conn_is_process(k)) {
		debug("process %u (%s) left", k->pid, k->name);
		if (c->restarting && (k->flags & HELLO_RESTART))
			restart_failed(c, k);
		restart_on_leave(k);
		if (k->execing)
			ckpt_exec_left(c, k->pid);
		life_linger(c, EXIT_GRACE_MS);
		ckpt_proc_left(k);
	} else if ((k->flags & HELLO_HOLD) && k->execing) {
		life_linger(c, LAUNCH_GRACE_MS); /* its program is on its way */
	}
}

int conn_reap(struct coord *c)
{
	int left = 0;
	while (c->ndead_conns) /* conn_left may close others */
		for (struct conn **p = &c->conns; *p;) {
			struct conn *k = *p;
			if (k->state != CONN_DEAD) {
				p = &k->next;
				continue;
			}
			*p = k->next;
			c->ndead_conns--;
			conn_left(c, k);
			left += conn_is_process(k);
			conn_free(k);
		}
	if (left && !coord_nprocs(c)) {
		c->restarting = 0; /* its processes are gone: the restart failed, or was killed */
		restart_over(c);
		if (!ckpt_exec_pending(c, 0))
			life_release(c);
	}
	return left;
}

/* Before exit: give every peer its pending replies (blocking, 1 s each at most). */
void conn_flush_all(struct coord *c)
{
	struct timeval tv = {.tv_sec = 1};
	for (struct conn *k = c->conns; k; k = k->next) {
		if (k->state == CONN_DEAD || (!k->out.len && !k->sh))
			continue;
		fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (write_full(k->fd, k->out.p, k->out.len) < 0 ||
		    (k->sh &&
		     write_full(k->fd, k->sh->data + k->sh_off, k->sh->len - k->sh_off) < 0) ||
		    (k->after.len && write_full(k->fd, k->after.p, k->after.len) < 0))
			continue;
		sbuf_reset(&k->out);
		sbuf_reset(&k->after);
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
