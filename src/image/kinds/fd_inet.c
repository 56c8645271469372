/* TCP and UDP sockets: their payload checked and described (fd_inet.h). */
#include "image/kinds/fd_inet.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

const char *img_inet_addr(uint32_t family, const uint8_t *addr, uint16_t port, char *buf,
			  size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(buf, size, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_inet *r = rec;
	(void)v, (void)i, (void)len;
	if ((r->family != AF_INET && r->family != AF_INET6) ||
	    (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP))
		return errf(why, whylen, "family %u protocol %u", r->family, r->proto);
	if (r->state < IMG_INET_FRESH || r->state > IMG_INET_TCP_RESET)
		return errf(why, whylen, "state %u", r->state);
	return 0;
}

static const char *const states[] = {
    [IMG_INET_FRESH] = "fresh",		[IMG_INET_BOUND] = "bound",
    [IMG_INET_LISTEN] = "listen",	[IMG_INET_UDP_CONN] = "udp-connected",
    [IMG_INET_TCP_RESET] = "tcp-reset",
};
static const char *const flags[] = {"reuseaddr", "reuseport", "v6only",
				    "nodelay",	 "keepalive", "broadcast"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_inet *r = rec;
	char a[80];
	(void)v, (void)i, (void)len;
	out_str(o, "proto", r->proto == IPPROTO_TCP ? "tcp" : "udp");
	out_u64(o, "family", r->family);
	out_enum(o, "state", r->state, OUT_NAMES(states));
	out_str(o, "local", img_inet_addr(r->family, r->local, r->lport, a, sizeof(a)));
	out_str(o, "peer", img_inet_addr(r->family, r->peer, r->pport, a, sizeof(a)));
	out_u64(o, "backlog", r->backlog);
	out_flags(o, "flags", r->flags, OUT_NAMES(flags));
	out_i64(o, "rcvbuf", r->rcvbuf);
	out_i64(o, "sndbuf", r->sndbuf);
	out_u64(o, "scope_id", r->scope_id);
}

const struct img_kind img_kind_inet = {
    .name = "inet",
    .about = "TCP or UDP socket",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_INET,
    .size = sizeof(struct img_inet),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
