/* Unix domain sockets at restart. Every socket is a shared object (objs.c),
 * made by the nearest common ancestor of the processes that hold it, so that
 * all of them share one open file description again:
 *   - a connected pair (stream, seqpacket, or datagram sockets connected to
 *     each other) becomes one socketpair, each end's queue written back from
 *     the other end, then shut down as it was (a peer that was closed is
 *     closed again);
 *   - a listener is bound to its name again (a stale socket file left by the
 *     dead original is removed) and listens; its connections not yet accepted
 *     are made again by their clients, after it;
 *   - a datagram socket is bound to its name, gets its queued messages back
 *     (sent to its name), then connects to its peer's name.
 * The objects a socket depends on are registered before it, so that they are
 * created first. */
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/fd_unix.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The one or two ends an object makes: end 0 is the socket whose inode is
 * the object's key. */
struct uobj {
	const struct img_unix *end[2];
};

struct uidx {
	uint64_t ino;
	const struct img_unix *u;
};
static struct uidx *idx;
static int nidx;
static const struct rst_set *idx_set;

static const struct img_unix *find(uint64_t ino)
{
	for (int k = 0; k < nidx; k++)
		if (idx[k].ino == ino)
			return idx[k].u;
	return NULL;
}

static int build_index(const struct rst_set *set)
{
	free(idx);
	idx = NULL;
	nidx = 0;
	for (int i = 0; i < set->n; i++) {
		const struct rst_image *img = &set->img[i];
		for (uint32_t k = 0; k < img->nfds; k++) {
			const struct img_fd *d = &img->fds[k];
			const struct img_fdx *x = rst_fdx(img, d);
			if (d->type != IMG_FD_UNIX || d->share >= 0)
				continue;
			struct uidx *g = realloc(idx, sizeof(*g) * (nidx + 1));
			if (!g)
				return -1;
			idx = g;
			idx[nidx++] = (struct uidx){x->ino, rst_fdx_payload(x)};
		}
	}
	idx_set = set;
	return 0;
}

static uint64_t key_of(const struct img_unix *u, uint64_t ino)
{
	return u->state == IMG_UNIX_CONNECTED && u->peer && u->peer < ino ? u->peer : ino;
}

static int create_unix(const struct rst_set *set, const struct rst_obj *o, int fd[2]);

/* Register the object `key` as held by process i; with u, socket ino is one
 * of its ends. */
static int reg(struct rst_set *set, int i, uint64_t key, const struct img_unix *u, uint64_t ino)
{
	struct rst_obj *o = rst_obj_get(set, IMG_FD_UNIX, key, 0, i, create_unix);
	if (!o)
		return -1;
	if (!o->priv && !(o->priv = calloc(1, sizeof(struct uobj))))
		return -1;
	struct uobj *uo = (struct uobj *)o->priv;
	/* several holders recorded the socket: the one that holds the queue wins */
	if (u && (!uo->end[ino != key] || (u->flags & IMG_UNIX_QUEUE)))
		uo->end[ino != key] = u;
	return 0;
}

static int unix_scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		     char *err, size_t errlen)
{
	(void)d;
	if (idx_set != set && build_index(set) < 0)
		return errf(err, errlen, "out of memory");
	const struct img_unix *u = rst_fdx_payload(x), *p = u->peer ? find(u->peer) : NULL;
	int rc = 0;
	if ((u->state == IMG_UNIX_PENDING || u->state == IMG_UNIX_DGRAM_TO) && p)
		rc = reg(set, i, key_of(p, u->peer), NULL, 0); /* made before this one */
	if (rc == 0)
		rc = reg(set, i, key_of(u, x->ino), u, x->ino);
	for (uint32_t k = 0; rc == 0 && u->state == IMG_UNIX_LISTEN && k < u->npending; k++)
		if (find(img_unix_pending(u)[k])) /* its clients connect after it, in queue order */
			rc = reg(set, i, img_unix_pending(u)[k], NULL, 0);
	if (rc < 0)
		return errf(err, errlen, "out of memory");
	return 0;
}

/* ---- creating sockets ---- */

static socklen_t sun_of(struct sockaddr_un *a, const char *name, uint32_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

/* The dead original left its socket file: remove it, unless a live socket
 * answers there (then the name is someone else's now). */
static int free_name(const struct img_unix *u)
{
	struct stat st;
	struct sockaddr_un a;
	char path[sizeof(u->name) + 1], text[160];
	if (!u->name_len || !u->name[0])
		return 0;
	snprintf(path, sizeof(path), "%.*s", (int)u->name_len, u->name);
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	int probe = socket(AF_UNIX, u->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = probe < 0 ? -1 : connect(probe, (void *)&a, sun_of(&a, u->name, u->name_len));
	int e = errno;
	if (probe >= 0)
		close(probe);
	if (rc == 0 || (e != ECONNREFUSED && e != ENOENT))
		return error("cannot bind a unix socket to %s again: a running socket answers "
			     "there (is the checkpointed program still running?)",
			     img_unix_addr(u->name, u->name_len, text, sizeof(text)));
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int bind_name(int s, const struct img_unix *u)
{
	struct sockaddr_un a;
	char text[160];
	if (!u->name_len)
		return 0;
	if (free_name(u) < 0)
		return -1;
	if (bind(s, (void *)&a, sun_of(&a, u->name, u->name_len)) < 0)
		return error("cannot bind a unix socket to %s again: %s",
			     img_unix_addr(u->name, u->name_len, text, sizeof(text)),
			     strerror(errno));
	return 0;
}

static void set_options(int s, const struct img_unix *u)
{
	int one = 1;
	if (u->rcvbuf)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &u->rcvbuf, sizeof(u->rcvbuf));
	if (u->sndbuf)
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &u->sndbuf, sizeof(u->sndbuf));
	if (u->rcvlowat)
		setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &u->rcvlowat, sizeof(u->rcvlowat));
	if (u->flags & IMG_UNIX_PASSCRED)
		setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (u->flags & IMG_UNIX_PASSSEC)
		setsockopt(s, SOL_SOCKET, SO_PASSSEC, &one, sizeof(one));
}

/* Send u's queued messages through s (to `to`, when given), in order. */
static int refill(int s, const struct img_unix *u, const struct sockaddr_un *to, socklen_t tolen)
{
	const uint8_t *m = img_unix_msgs(u);
	for (uint32_t k = 0; k < u->nmsgs; k++) {
		uint32_t len;
		memcpy(&len, m, 4);
		ssize_t n =
		    sendto(s, m + 4, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const void *)to, tolen);
		if (n != (ssize_t)len)
			return error("cannot put back %u bytes in flight on a unix socket: %s", len,
				     n < 0 ? strerror(errno) : "short write");
		m += 4 + len;
	}
	return 0;
}

static void shut(int s, const struct img_unix *u)
{
	if (u->shutdown & 2)
		shutdown(s, SHUT_WR);
	if (u->shutdown & 1)
		shutdown(s, SHUT_RD);
}

static int make_pair(const struct uobj *uo, int fd[2])
{
	const struct img_unix *a = uo->end[0] ? uo->end[0] : uo->end[1];
	if (socketpair(AF_UNIX, a->type | SOCK_CLOEXEC, 0, fd) < 0)
		return -1;
	for (int k = 0; k < 2; k++)
		if (uo->end[k])
			set_options(fd[k], uo->end[k]);
	for (int k = 0; k < 2; k++)
		if (uo->end[k] && refill(fd[1 - k], uo->end[k], NULL, 0) < 0)
			return -1;
	for (int k = 0; k < 2; k++)
		if (uo->end[k])
			shut(fd[k], uo->end[k]);
	if (!uo->end[1]) { /* the peer was closed: so is it again */
		close(fd[1]);
		fd[1] = -1;
	}
	return 0;
}

static int make_listener(const struct img_unix *u, int *fd)
{
	int s = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	*fd = s;
	set_options(s, u);
	if (bind_name(s, u) < 0)
		return -1;
	return listen(s, u->backlog ? (int)u->backlog : 128);
}

static int make_pending(const struct img_unix *u, int *fd)
{
	struct sockaddr_un a;
	char text[160];
	int s = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	*fd = s;
	set_options(s, u);
	if (connect(s, (void *)&a, sun_of(&a, u->peer_name, u->peer_name_len)) < 0)
		return error("cannot connect a unix socket to its listener %s again: %s",
			     img_unix_addr(u->peer_name, u->peer_name_len, text, sizeof(text)),
			     strerror(errno));
	return 0;
}

/* Unconnected, or a datagram socket connected to a named one. */
static int make_single(const struct img_unix *u, int *fd)
{
	struct sockaddr_un a;
	char text[160];
	int s = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	*fd = s;
	set_options(s, u);
	if (bind_name(s, u) < 0)
		return -1;
	if (u->nmsgs && u->name_len) {
		int tmp = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
		socklen_t l = sun_of(&a, u->name, u->name_len);
		int rc = tmp < 0 ? -1 : refill(tmp, u, &a, l);
		if (tmp >= 0)
			close(tmp);
		if (rc < 0)
			return -1;
	} else if (u->nmsgs) {
		warn("%u messages queued on an unnamed unix socket are lost", u->nmsgs);
	}
	if (u->state != IMG_UNIX_DGRAM_TO ||
	    connect(s, (void *)&a, sun_of(&a, u->peer_name, u->peer_name_len)) == 0)
		return 0;
	img_unix_addr(u->peer_name, u->peer_name_len, text, sizeof(text));
	if (u->peer)
		return error("cannot connect a unix datagram socket to %s again: %s", text,
			     strerror(errno));
	warn("a unix datagram socket was connected to %s, outside the computation, which "
	     "does not answer now (%s): it stays unconnected",
	     text, strerror(errno));
	return 0;
}

static int create_unix(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	(void)set;
	const struct uobj *uo = o->priv;
	const struct img_unix *u = uo ? (uo->end[0] ? uo->end[0] : uo->end[1]) : NULL;
	if (!u)
		return 0; /* registered as a dependency only: nobody holds it */
	switch (u->state) {
	case IMG_UNIX_CONNECTED:
		return make_pair(uo, fd);
	case IMG_UNIX_LISTEN:
		return make_listener(u, &fd[0]);
	case IMG_UNIX_PENDING:
		return make_pending(u, &fd[0]);
	default:
		return make_single(u, &fd[0]);
	}
}

static int unix_open(const struct rst_set *set, int i, const struct img_fd *d,
		     const struct img_fdx *x)
{
	(void)i;
	const struct img_unix *u = rst_fdx_payload(x);
	uint64_t key = key_of(u, x->ino);
	int at = rst_obj_fd(set, IMG_FD_UNIX, key, 0, x->ino != key);
	int fd = at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFL, d->open_flags & O_NONBLOCK);
	return fd;
}

const struct rst_fd_kind rst_fd_unix = {IMG_FD_UNIX, unix_scan, unix_open, NULL};
