/* Sockets at checkpoint time: the processes taking part (from the barrier
 * pass), the socket inodes they hold (their /proc/PID/fd), and every Unix
 * socket of the network namespace as sock_diag reports it (peer, accept queue,
 * name, shutdown state: all readable without privileges). Computed once per
 * checkpoint, in the runtime's arena. */
#include "runtime/fd_sock.h"
#include "common/proto.h"
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/sort.h"
#include "runtime/state.h"
#include "runtime/fds.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HELD (1u << 20)
#define MAX_UNIX (1u << 18)
#define MAX_ICONS (1u << 20)
#define TCP_LISTEN_STATE 10

static uint32_t members[PROTO_MAX_MEMBERS]; /* its pages touched as far as used */
static size_t nmembers;

static int cmp_pid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

void rt_note_members(const void *pids, size_t len)
{
	if (len < sizeof(uint32_t))
		return; /* a pass without the list: keep the last one */
	nmembers =
	    len / sizeof(uint32_t) < PROTO_MAX_MEMBERS ? len / sizeof(uint32_t) : PROTO_MAX_MEMBERS;
	memcpy(members, pids, nmembers * sizeof(uint32_t));
	rt_sort(members, nmembers, sizeof(uint32_t), cmp_pid); /* looked up per descriptor */
}

size_t rt_members(const uint32_t **pids)
{
	*pids = members;
	return nmembers;
}

int rt_is_member(uint32_t pid)
{
	return bsearch(&pid, members, nmembers, sizeof(uint32_t), cmp_pid) != NULL;
}

/* What was computed for which checkpoint (the arena is reset after each). */
static uint64_t cache_key(void)
{
	return rt.comp_id ^ ((uint64_t)rt.gen << 40);
}

struct held {
	uint64_t ino;
	uint32_t pid;
};
static struct held *held;
static size_t nheld;
static uint64_t held_key = ~0ull;

static int cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_held_ino(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void scan_fds_of(uint32_t pid, int *fds)
{
	char dir[64], path[96], link[64];
	snprintf(dir, sizeof(dir), "/proc/%u/fd", pid);
	int n = rt_list_numeric(dir, fds, RT_FDS_MAX, NULL);
	for (int k = 0; k < n && nheld < MAX_HELD; k++) {
		snprintf(path, sizeof(path), "%s/%d", dir, fds[k]);
		ssize_t l = readlink(path, link, sizeof(link) - 1);
		unsigned long long ino;
		if (l <= 0)
			continue;
		link[l] = 0;
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			held[nheld++] = (struct held){ino, pid};
	}
}

static int load_held(void)
{
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	held = rt_alloc(MAX_HELD * sizeof(*held));
	if (!fds || !held)
		return -1;
	nheld = 0;
	uint32_t self = getpid();
	scan_fds_of(self, fds);
	for (size_t i = 0; i < nmembers; i++)
		if (members[i] != self)
			scan_fds_of(members[i], fds);
	rt_sort(held, nheld, sizeof(*held), cmp_held);
	held_key = cache_key();
	return 0;
}

int sk_member_holder(uint64_t ino)
{
	if (held_key != cache_key() && load_held() < 0)
		return 0;
	struct held k = {ino, 0};
	struct held *h = bsearch(&k, held, nheld, sizeof(*held), cmp_held_ino);
	while (h && h > held && h[-1].ino == ino)
		h--; /* the lowest pid */
	return h ? (int)h->pid : 0;
}

/* ---- sock_diag: every Unix socket ---- */
static struct sk_unix *unixes;
static size_t nunix;
static uint32_t *icons;
static size_t nicons_used;
static uint64_t unix_key = ~0ull;

static int cmp_unix(const void *a, const void *b)
{
	const struct sk_unix *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void parse_attrs(struct sk_unix *u, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		void *d = RTA_DATA(a);
		size_t dl = RTA_PAYLOAD(a);
		if (a->rta_type == UNIX_DIAG_NAME && dl <= sizeof(u->name)) {
			memcpy(u->name, d, dl);
			u->name_len = dl;
		} else if (a->rta_type == UNIX_DIAG_PEER && dl >= 4) {
			u->peer = *(uint32_t *)d;
			u->has_peer = 1;
		} else if (a->rta_type == UNIX_DIAG_SHUTDOWN && dl >= 1) {
			u->shutdown = *(uint8_t *)d;
		} else if (a->rta_type == UNIX_DIAG_RQLEN && dl >= sizeof(struct unix_diag_rqlen)) {
			u->rq = ((struct unix_diag_rqlen *)d)->udiag_rqueue;
			u->wq = ((struct unix_diag_rqlen *)d)->udiag_wqueue;
		} else if (a->rta_type == UNIX_DIAG_ICONS) {
			size_t n = dl / 4;
			if (n > MAX_ICONS - nicons_used)
				n = MAX_ICONS - nicons_used;
			u->icons = icons + nicons_used;
			u->nicons = n;
			memcpy(u->icons, d, n * 4);
			nicons_used += n;
		}
	}
}

int sk_diag_dump(const void *req, size_t len, void (*each)(const struct nlmsghdr *h, void *arg),
		 void *arg, char *buf, size_t size)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), rc = -1;
	if (nl < 0)
		return -1;
	if (send(nl, req, len, 0) != (ssize_t)len)
		goto out;
	for (;;) {
		ssize_t n = recv(nl, buf, size, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				errno = EPROTO;
				goto out;
			}
			each(h, arg);
		}
	}
out:;
	int e = errno;
	close(nl);
	errno = e;
	return rc;
}

static void take_unix(const struct nlmsghdr *h, void *arg)
{
	(void)arg;
	struct unix_diag_msg *m = NLMSG_DATA(h);
	if (nunix >= MAX_UNIX)
		return;
	struct sk_unix *u = &unixes[nunix++];
	memset(u, 0, sizeof(*u));
	u->ino = m->udiag_ino;
	u->type = m->udiag_type;
	u->state = m->udiag_state;
	parse_attrs(u, (struct rtattr *)(m + 1), h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
}

static int load_unix(void)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
	    .h = {.nlmsg_len = sizeof(req),
		  .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = AF_UNIX,
		  .udiag_states = ~0u,
		  .udiag_show =
		      UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN},
	};
	unixes = rt_alloc(MAX_UNIX * sizeof(*unixes));
	icons = rt_alloc(MAX_ICONS * sizeof(*icons));
	char *buf = rt_alloc(65536);
	if (!unixes || !icons || !buf)
		return errno = ENOMEM, -1;
	nunix = nicons_used = 0;
	if (sk_diag_dump(&req, sizeof(req), take_unix, NULL, buf, 65536) < 0)
		return -1;
	rt_sort(unixes, nunix, sizeof(*unixes), cmp_unix);
	unix_key = cache_key();
	return 0;
}

const struct sk_unix *sk_unix_find(uint64_t ino)
{
	if (unix_key != cache_key() && load_unix() < 0)
		return NULL;
	struct sk_unix k = {.ino = ino};
	const struct sk_unix *u = bsearch(&k, unixes, nunix, sizeof(*unixes), cmp_unix);
	if (!u)
		errno = ENOENT;
	return u;
}

const struct sk_unix *sk_unix_listener_of(uint64_t ino)
{
	if (unix_key != cache_key() && load_unix() < 0)
		return NULL;
	for (size_t i = 0; i < nunix; i++) {
		if (unixes[i].state != TCP_LISTEN_STATE)
			continue;
		for (uint32_t k = 0; k < unixes[i].nicons; k++)
			if (unixes[i].icons[k] == ino)
				return &unixes[i];
	}
	return NULL;
}

int sk_unix_member_listener(const char *name, uint32_t len)
{
	if (!len || (unix_key != cache_key() && load_unix() < 0))
		return 0;
	for (size_t i = 0; i < nunix; i++)
		if (unixes[i].state == TCP_LISTEN_STATE && unixes[i].name_len == len &&
		    !memcmp(unixes[i].name, name, len) && sk_member_holder(unixes[i].ino))
			return 1;
	return 0;
}

void sk_bufs(int fd, int domain, int type, int32_t *rcv, int32_t *snd)
{
	int cur_r = 0, cur_s = 0, def_r = 0, def_s = 0;
	socklen_t l = sizeof(int);
	*rcv = *snd = 0;
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cur_r, &l);
	l = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur_s, &l);
	int fresh = socket(domain, type | SOCK_CLOEXEC, 0);
	if (fresh < 0)
		return;
	l = sizeof(int);
	getsockopt(fresh, SOL_SOCKET, SO_RCVBUF, &def_r, &l);
	l = sizeof(int);
	getsockopt(fresh, SOL_SOCKET, SO_SNDBUF, &def_s, &l);
	close(fresh);
	/* the kernel reports twice what was set */
	if (cur_r != def_r)
		*rcv = cur_r / 2;
	if (cur_s != def_s)
		*snd = cur_s / 2;
}

int32_t sk_rcvlowat(int fd)
{
	int v = 1;
	socklen_t l = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &l);
	return v > 1 ? v : 0;
}
