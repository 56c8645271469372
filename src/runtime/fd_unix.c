/* Unix domain sockets at checkpoint time. Each socket is recorded with its
 * kernel identity (inode), how it is connected (sock_diag: peer inode, accept
 * queue), its name, options and its whole receive queue, peeked (SO_PEEK_OFF,
 * MSG_PEEK) so that nothing is consumed: every process of the computation is
 * stopped while this runs. A socket whose peer no process of the computation
 * holds leads outside and is refused, with its address. */
#include "runtime/fd_sock.h"
#include "runtime/arena.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_unix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define QUEUE_MAX (64u << 20) /* bytes in flight kept per socket */
#define MSGS_MAX 100000
#define TCP_ESTABLISHED_STATE 1
#define TCP_LISTEN_STATE 10

static int sockopt(int fd, int level, int name)
{
	int v = 0;
	socklen_t l = sizeof(v);
	return getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

static int unix_match(int fd, const char *link, const struct stat *st)
{
	(void)link;
	return S_ISSOCK(st->st_mode) && sockopt(fd, SOL_SOCKET, SO_DOMAIN) == AF_UNIX;
}

/* The payload being built: the header, then pending inodes, then messages. */
struct ubuf {
	struct img_unix u;
	uint8_t *p;
	uint64_t len, cap;
	int no_queue; /* its queue is not kept (a connection from outside) */
};

static int put(struct ubuf *b, const void *data, uint64_t len)
{
	if (len > b->cap - b->len)
		return -1;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* A descriptor received by the peek itself (SCM_RIGHTS in flight). */
static int has_rights(struct msghdr *m)
{
	int found = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(h);
		size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t k = 0; k < n; k++)
			close(fds[k]);
		found = 1;
	}
	return found;
}

/* One peeked message (a stream socket: the next run of bytes). 0 at the end
 * of the queue, 1 with *got bytes stored after a u32 length word, -1 on error. */
static int peek_one(struct rt_fd_ctx *c, struct ubuf *b, int stream, uint32_t *got)
{
	char ctl[CMSG_SPACE(253 * sizeof(int))];
	uint64_t room = b->cap - b->len;
	if (room < 8)
		return errf(
		    c->err, c->errlen,
		    "pid %d fd %d (unix socket %s): too many bytes in flight to keep (over 64 MiB)",
		    getpid(), c->fd, c->link);
	struct iovec iov = {b->p + b->len + 4, room - 4};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(c->fd, &m,
			    MSG_PEEK | MSG_DONTWAIT | (stream ? 0 : MSG_TRUNC) | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0)
		return errf(c->err, c->errlen, "pid %d fd %d (unix socket %s): %s", getpid(), c->fd,
			    c->link, strerror(errno));
	if (has_rights(&m) || (m.msg_flags & MSG_CTRUNC))
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): descriptors sent with SCM_RIGHTS are "
			    "still in its queue, not yet received; they cannot be checkpointed: "
			    "let the program receive them first (see docs/supported.md)",
			    getpid(), c->fd, c->link);
	if (n == 0 && (stream || (b->u.shutdown & 1)))
		return 0; /* the peer shut down its side: end of the queue */
	if (!stream && n == 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): a zero-length datagram is in its "
			    "queue: not supported",
			    getpid(), c->fd, c->link);
	if ((uint64_t)n > room - 4)
		return errf(
		    c->err, c->errlen,
		    "pid %d fd %d (unix socket %s): too many bytes in flight to keep (over 64 MiB)",
		    getpid(), c->fd, c->link);
	*got = n;
	return 1;
}

/* The receive queue, every message with its boundaries, nothing consumed. */
static int peek_queue(struct rt_fd_ctx *c, struct ubuf *b, int stream)
{
	int saved = sockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF), zero = 0, rc = 0;
	uint32_t got = 0;
	if (setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): cannot peek at its queue (SO_PEEK_OFF)",
			    getpid(), c->fd, c->link);
	while ((rc = peek_one(c, b, stream, &got)) == 1) {
		if (stream && b->u.nmsgs) { /* one message: append to it */
			uint32_t *l = (uint32_t *)(b->p + b->len - b->u.data_len);
			memmove(b->p + b->len, b->p + b->len + 4, got);
			*l += got;
		} else {
			memcpy(b->p + b->len, &got, 4);
			b->len += 4;
			b->u.data_len += 4;
			b->u.nmsgs++;
		}
		b->len += got;
		b->u.data_len += got;
		if (b->u.nmsgs > MSGS_MAX) {
			rc = errf(c->err, c->errlen,
				  "pid %d fd %d (unix socket %s): too many messages in its queue",
				  getpid(), c->fd, c->link);
			break;
		}
	}
	setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof(saved));
	return rc;
}

/* A path name is kept absolute: the restorer binds it from another cwd. */
static void set_name(struct img_unix *u, const struct sk_unix *k)
{
	u->name_len = k->name_len;
	memcpy(u->name, k->name, k->name_len);
	if (k->name_len && k->name[0] != '/' && k->name[0]) {
		char cwd[PATH_MAX], full[PATH_MAX + 128];
		if (!getcwd(cwd, sizeof(cwd)))
			return;
		int n = snprintf(full, sizeof(full), "%s/%.*s", cwd, (int)k->name_len, k->name);
		if (n > 0 && (size_t)n < sizeof(u->name)) {
			memcpy(u->name, full, n + 1); /* with its NUL, as the kernel keeps it */
			u->name_len = n + 1;
		}
	}
}

static void set_peer_name(struct img_unix *u, const struct sk_unix *p)
{
	u->peer_name_len = p->name_len;
	memcpy(u->peer_name, p->name, p->name_len);
}

static int outside(struct rt_fd_ctx *c, const struct sk_unix *p)
{
	char addr[160], what[400];
	/* an accepted socket carries its listener's name */
	snprintf(what, sizeof(what),
		 "connected to %s (socket:[%llu]), which no process of the computation holds: "
		 "a connection to outside cannot be restored; close it before checkpointing, "
		 "or run the other side under stasis too (see docs/supported.md)",
		 img_unix_addr(p->name, p->name_len, addr, sizeof(addr)),
		 (unsigned long long)p->ino);
	return errf(c->err, c->errlen, "pid %d fd %d (unix socket %s): %s", getpid(), c->fd,
		    c->link, what);
}

/* A listener: its pending connections from inside are kept (client inodes). */
static int dump_listener(struct rt_fd_ctx *c, struct ubuf *b, const struct sk_unix *k)
{
	b->u.state = IMG_UNIX_LISTEN;
	b->u.backlog = k->wq;
	/* sock_diag lists the clients of the connections (the server sides have no
	 * inode until accepted) */
	for (uint32_t i = 0; i < k->nicons; i++) {
		uint64_t client = k->icons[i];
		const struct sk_unix *e = client ? sk_unix_find(client) : NULL;
		if (!e || !sk_member_holder(client))
			continue; /* a client from outside: it lost its connection already */
		if (e->wq) {
			char what[200];
			snprintf(what, sizeof(what),
				 "a connection not yet accepted has %u bytes sent on it; accept "
				 "it before checkpointing",
				 e->wq);
			return errf(c->err, c->errlen, "pid %d fd %d (unix socket %s): %s",
				    getpid(), c->fd, c->link, what);
		}
		if (put(b, &client, 8) < 0)
			return errf(c->err, c->errlen,
				    "pid %d fd %d (unix socket %s): too many pending connections",
				    getpid(), c->fd, c->link);
		b->u.npending++;
	}
	return 0;
}

static int dump_stream_peer(struct rt_fd_ctx *c, struct ubuf *b, const struct sk_unix *k)
{
	b->u.state = IMG_UNIX_CONNECTED;
	b->u.peer = k->peer;
	if (k->peer && sk_member_holder(k->peer))
		return 0;
	if (k->peer && sk_unix_member_listener(k->name, k->name_len)) {
		/* accepted by a listener of ours from a client outside, which saw the
		 * connection end with the original: it comes back closed by its peer
		 * (EOF), what the client had sent and the server not read dropped, as
		 * TCP connections come back reset */
		b->u.peer = 0;
		b->no_queue = 1;
		return 0;
	}
	if (k->peer) {
		const struct sk_unix *p = sk_unix_find(k->peer);
		return p ? outside(c, p)
			 : errf(
			       c->err, c->errlen,
			       "pid %d fd %d (unix socket %s): its peer is not in sock_diag's list",
			       getpid(), c->fd, c->link);
	}
	/* no peer inode: the peer was closed, or is the server side of a connection
	 * not yet accepted (it has no inode), in a listener's queue */
	const struct sk_unix *l = sk_unix_listener_of(k->ino);
	if (!l)
		return 0; /* the peer closed: restored with its end closed */
	if (!sk_member_holder(l->ino))
		return outside(c, l);
	if (k->wq)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): its connection is not yet accepted and "
			    "has bytes sent on it; let the server accept it before checkpointing",
			    getpid(), c->fd, c->link);
	b->u.state = IMG_UNIX_PENDING;
	b->u.peer = l->ino;
	set_peer_name(&b->u, l);
	return 0;
}

static int dump_dgram_peer(struct rt_fd_ctx *c, struct ubuf *b, const struct sk_unix *k)
{
	const struct sk_unix *p = sk_unix_find(k->peer);
	if (!p)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): its peer is not in sock_diag's list",
			    getpid(), c->fd, c->link);
	int inside = sk_member_holder(k->peer) != 0;
	if (inside && p->peer == k->ino) {
		b->u.state = IMG_UNIX_CONNECTED; /* a pair */
		b->u.peer = k->peer;
		return 0;
	}
	if (!p->name_len)
		return inside ? errf(c->err, c->errlen,
				     "pid %d fd %d (unix socket %s): connected to an unnamed "
				     "datagram socket that is not connected back: not supported",
				     getpid(), c->fd, c->link)
			      : outside(c, p);
	b->u.state = IMG_UNIX_DGRAM_TO; /* outside: connected again by name */
	b->u.peer = inside ? k->peer : 0;
	set_peer_name(&b->u, p);
	return 0;
}

static int classify(struct rt_fd_ctx *c, struct ubuf *b, const struct sk_unix *k)
{
	if (k->state == TCP_LISTEN_STATE)
		return dump_listener(c, b, k);
	if (b->u.type == SOCK_DGRAM && k->has_peer && k->peer)
		return dump_dgram_peer(c, b, k);
	if (b->u.type != SOCK_DGRAM && k->state == TCP_ESTABLISHED_STATE)
		return dump_stream_peer(c, b, k);
	b->u.state = IMG_UNIX_UNCONNECTED;
	return 0;
}

static int unix_dump(struct rt_fd_ctx *c)
{
	struct ubuf b = {.cap = QUEUE_MAX + sizeof(struct img_unix)};
	b.p = rt_alloc(b.cap);
	const struct sk_unix *k = sk_unix_find(c->st->st_ino);
	if (!b.p)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): out of checkpoint memory", getpid(),
			    c->fd, c->link);
	if (!k)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (unix socket %s): sock_diag does not report it "
			    "(NETLINK_SOCK_DIAG)",
			    getpid(), c->fd, c->link);
	memset(&b.u, 0, sizeof(b.u));
	b.u.type = sockopt(c->fd, SOL_SOCKET, SO_TYPE);
	b.u.shutdown = k->shutdown & 3;
	b.u.flags = (sockopt(c->fd, SOL_SOCKET, SO_PASSCRED) > 0 ? IMG_UNIX_PASSCRED : 0) |
		    (sockopt(c->fd, SOL_SOCKET, SO_PASSSEC) > 0 ? IMG_UNIX_PASSSEC : 0);
	sk_bufs(c->fd, AF_UNIX, b.u.type, &b.u.rcvbuf, &b.u.sndbuf);
	b.u.rcvlowat = sk_rcvlowat(c->fd);
	set_name(&b.u, k);
	b.len = sizeof(b.u);
	if (classify(c, &b, k) < 0)
		return -1;
	/* the peek offset is the socket's own: of several holders (all stopped),
	 * only the lowest pid peeks, so that no two peeks interleave */
	if (b.u.state != IMG_UNIX_LISTEN && !b.no_queue &&
	    sk_member_holder(c->st->st_ino) == getpid()) {
		b.u.flags |= IMG_UNIX_QUEUE;
		if (peek_queue(c, &b, b.u.type == SOCK_STREAM) < 0)
			return -1;
	}
	memcpy(b.p, &b.u, sizeof(b.u));
	return rt_fd_record(c, IMG_FD_UNIX, c->st->st_ino, b.p, b.len);
}

const struct rt_fd_kind rt_fd_unix = {"unix", unix_match, unix_dump};
