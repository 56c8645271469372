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

/* A connection record carries its struct img_tcp and data_len bytes. */
static int validate_tcp(const struct img_inet *r, uint32_t len, char *why, size_t whylen)
{
	const struct img_tcp *t = (const void *)(r + 1);
	if (r->proto != IPPROTO_TCP || len < sizeof(*r) + sizeof(*t))
		return errf(why, whylen, "a TCP connection of %u bytes", len);
	if (t->data_len != len - sizeof(*r) - sizeof(*t) || !t->conn_id || t->side > 1)
		return errf(why, whylen, "TCP connection %llu (side %u, %llu bytes in flight)",
			    (unsigned long long)t->conn_id, t->side,
			    (unsigned long long)t->data_len);
	return 0;
}

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_inet *r = rec;
	(void)v, (void)i;
	if ((r->family != AF_INET && r->family != AF_INET6) ||
	    (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP))
		return errf(why, whylen, "family %u protocol %u", r->family, r->proto);
	if (r->state < IMG_INET_FRESH || r->state > IMG_INET_TCP_CONN)
		return errf(why, whylen, "state %u", r->state);
	return r->state == IMG_INET_TCP_CONN ? validate_tcp(r, len, why, whylen) : 0;
}

static const char *const states[] = {
    [IMG_INET_FRESH] = "fresh",		[IMG_INET_BOUND] = "bound",
    [IMG_INET_LISTEN] = "listen",	[IMG_INET_UDP_CONN] = "udp-connected",
    [IMG_INET_TCP_RESET] = "tcp-reset", [IMG_INET_TCP_CONN] = "tcp-connected",
};
static const char *const tcp_flags[] = {"shut-wr", "peer-shut"};
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
	out_i64(o, "rcvlowat", r->rcvlowat);
	out_u64(o, "scope_id", r->scope_id);
	if (r->state != IMG_INET_TCP_CONN)
		return;
	const struct img_tcp *t = (const void *)(r + 1);
	out_begin_object(o, "tcp");
	out_u64(o, "conn_id", t->conn_id);
	out_u64(o, "side", t->side);
	out_flags(o, "flags", t->flags, OUT_NAMES(tcp_flags));
	out_u64(o, "data_len", t->data_len);
	out_end(o, 0);
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
