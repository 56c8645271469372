/* Connections waiting in the accept queue of a listener this process holds:
 * sockets in ESTABLISHED state that no descriptor holds yet (inode 0) whose
 * local port is the listener's, as sock_diag reports them (no privileges
 * needed). They are reported with PROTO_TCP_PENDING so that the coordinator
 * can refuse a checkpoint while a client of the computation waits there (its
 * bytes could not be drained: only accept() reaches them). */
#include "runtime/fd_sock.h"
#include "runtime/fd_tcp.h"
#include "runtime/arena.h"
#include "common/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void addr16(int family, const uint32_t *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a, 4);
	} else {
		memcpy(out, a, 16);
	}
}

static int listener_fd(uint16_t port, const struct rt_tcp_listener *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (l[i].port == port)
			return l[i].fd;
	return -1;
}

struct dump {
	struct proto_tcp_end *out;
	uint32_t n, max;
	const struct rt_tcp_listener *l;
	uint32_t nl;
};

static void take(const struct nlmsghdr *h, void *arg)
{
	struct dump *d = arg;
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	uint16_t sport = ntohs(m->id.idiag_sport);
	int fd = listener_fd(sport, d->l, d->nl);
	if (m->idiag_inode || fd < 0 || d->n == d->max)
		return;
	struct proto_tcp_end *e = &d->out[d->n++];
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->state = TCP_ESTABLISHED;
	e->family = m->idiag_family;
	e->flags = PROTO_TCP_PENDING;
	e->lport = sport;
	e->pport = ntohs(m->id.idiag_dport);
	addr16(m->idiag_family, m->id.idiag_src, e->local);
	addr16(m->idiag_family, m->id.idiag_dst, e->peer);
}

static int dump_family(int family, struct dump *d, char *buf, size_t size)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
	    .h = {.nlmsg_len = sizeof(req),
		  .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = family,
		  .sdiag_protocol = IPPROTO_TCP,
		  .idiag_states = 1u << TCP_ESTABLISHED},
	};
	return sk_diag_dump(&req, sizeof(req), take, d, buf, size);
}

int rt_tcp_pending(struct proto_tcp_end *out, uint32_t max, const struct rt_tcp_listener *l,
		   uint32_t nl)
{
	struct dump d = {out, 0, max, l, nl};
	char *buf = rt_alloc(65536);
	if (!buf || dump_family(AF_INET, &d, buf, 65536) < 0 ||
	    dump_family(AF_INET6, &d, buf, 65536) < 0)
		return -1;
	return (int)d.n;
}
