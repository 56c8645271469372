/* TCP connections at checkpoint: after the SUSPENDED pass every process
 * reports the TCP sockets it drains (MSG_TCP_REPORT); once all have, the two
 * ends of each connection are paired across processes and hosts by their
 * addresses (the network of the host too, for loopback ones) and every
 * process gets, per socket, a connection id, its side and the peer's send
 * queue (MSG_TCP_MATCH). What cannot be drained now fails this attempt as
 * transient (the checkpoint starts again for a while): a connect in
 * progress, a connection not accepted yet by a listener of the computation,
 * urgent data not read yet, a half-closed connection with bytes not yet
 * acknowledged. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tend {
	const struct proto_tcp_end *e;
	struct conn *k;
	uint8_t key[68]; /* host, local, lport, peer, pport */
	struct proto_tcp_peer *out;
};

static int is_loopback(const uint8_t a[16])
{
	static const uint8_t lo6[16] = {[15] = 1}, v4[12] = {[10] = 0xff, [11] = 0xff};
	return !memcmp(a, lo6, 16) || (!memcmp(a, v4, 12) && a[12] == 127);
}

static void make_key(uint8_t key[68], const uint8_t host[16], const uint8_t *a, uint16_t ap,
		     const uint8_t *b, uint16_t bp)
{
	memset(key, 0, 68);
	if (is_loopback(a) || is_loopback(b)) /* the same address on every host */
		memcpy(key, host, 16);
	memcpy(key + 16, a, 16);
	key[32] = ap >> 8;
	key[33] = ap & 0xff;
	memcpy(key + 34, b, 16);
	key[50] = bp >> 8;
	key[51] = bp & 0xff;
}

static int cmp_tend(const void *x, const void *y)
{
	return memcmp(((const struct tend *)x)->key, ((const struct tend *)y)->key, 68);
}

static void refuse(struct ckpt *ck, const struct tend *t, const char *why)
{
	char a[64], b[64];
	if (!ck->failed)
		ck->transient = 1;
	ck->failed = 1;
	sbuf_printf(
	    &ck->errors,
	    "process %u (%s) fd %d: TCP connection %s -> %s %s; not checkpointed: "
	    "try again once it is done\n",
	    t->k->pid, t->k->name, t->e->fd, proto_tcp_addr(t->e->local, t->e->lport, a, sizeof(a)),
	    t->e->pport ? proto_tcp_addr(t->e->peer, t->e->pport, b, sizeof(b)) : "(not known yet)",
	    why);
}

/* A connection that cannot be drained now: the reason, or NULL. */
static const char *not_now(const struct tend *t, const struct tend *p, char *buf, size_t size)
{
	const struct proto_tcp_end *e = t->e;
	if (e->flags & PROTO_TCP_PENDING)
		return NULL; /* its client end says it */
	if (e->state == TCP_SYN_SENT || e->state == TCP_SYN_RECV)
		return "is still being made (a connect in progress)";
	if (!p)
		return NULL; /* to outside: it comes back reset, nothing is drained */
	if (p->e->flags & PROTO_TCP_PENDING) {
		snprintf(buf, size,
			 "is not accepted yet (it waits in the accept queue of process "
			 "%u (%s) fd %d)",
			 p->k->pid, p->k->name, p->e->fd);
		return buf;
	}
	if (e->flags & PROTO_TCP_URGENT)
		return "has urgent (out-of-band) data not read yet";
	uint16_t shut = (e->flags | p->e->flags) & (PROTO_TCP_SHUT_WR | PROTO_TCP_PEER_SHUT);
	if (shut && (e->outq || p->e->outq))
		return "is half-closed (shutdown) with bytes not yet acknowledged";
	return NULL;
}

static void pair_up(struct coord *c, struct tend *v, size_t n)
{
	uint32_t next = 0;
	qsort(v, n, sizeof(*v), cmp_tend);
	for (size_t i = 0; i < n; i++) {
		struct tend key, *p;
		const struct proto_tcp_end *e = v[i].e;
		make_key(key.key, v[i].k->tcp_host, e->peer, e->pport, e->local, e->lport);
		p = bsearch(&key, v, n, sizeof(*v), cmp_tend);
		if (p == &v[i])
			p = NULL;
		char buf[256];
		const char *why = not_now(&v[i], p, buf, sizeof(buf));
		if (why)
			refuse(&c->ckpt, &v[i], why);
		if (!p || p < &v[i] || ((e->flags | p->e->flags) & PROTO_TCP_PENDING))
			continue; /* outside, paired already from the lower key, or not accepted */
		uint64_t id = (uint64_t)c->ckpt.gen << 32 | ++next;
		*v[i].out = (struct proto_tcp_peer){id, 0, p->e->outq};
		*p->out = (struct proto_tcp_peer){id, 1, e->outq};
	}
}

static void answer(struct coord *c)
{
	struct ckpt *ck = &c->ckpt;
	size_t n = 0;
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->member && k->state == CONN_READY)
			n += k->ntcp;
	struct tend *v = calloc(n ? n : 1, sizeof(*v));
	size_t i = 0;
	if (!v)
		ck->failed = 1;
	for (struct conn *k = c->conns; v && k; k = k->next) {
		if (!k->member || k->state != CONN_READY)
			continue;
		for (uint32_t j = 0; j < k->ntcp; j++, i++) {
			v[i] = (struct tend){.e = &k->tcp[j], .k = k, .out = &k->tcp_out[j]};
			make_key(v[i].key, k->tcp_host, k->tcp[j].local, k->tcp[j].lport,
				 k->tcp[j].peer, k->tcp[j].pport);
		}
	}
	if (v)
		pair_up(c, v, n);
	free(v);
	randombytes_buf(ck->nonce, sizeof(ck->nonce));
	for (struct conn *k = c->conns; k; k = k->next) {
		if (!k->member || k->state != CONN_READY)
			continue;
		struct proto_tcp_match h = {.count = k->ntcp,
					    .flags = ck->failed ? PROTO_TCP_ABORT : 0};
		memcpy(h.nonce, ck->nonce, sizeof(h.nonce));
		conn_send(k, MSG_TCP_MATCH, &h, sizeof(h), k->tcp_out,
			  ck->failed ? 0 : k->ntcp * sizeof(*k->tcp_out));
		k->heard_ms = now_ms(); /* it drains, then asks for DRAINED */
	}
	ck->tcp_answered = 1;
}

void tcp_check_reports(struct coord *c)
{
	const struct ckpt *ck = &c->ckpt;
	if (ck->active && ck->stage == BARRIER_DRAINED && !ck->tcp_answered &&
	    ck->nreported == ck->nmem)
		answer(c);
}

void tcp_on_report(struct conn *k, const struct proto_msg *m)
{
	struct ckpt *ck = &k->c->ckpt;
	struct proto_tcp_report h;
	if (!ck->active || !k->member || ck->stage != BARRIER_DRAINED || k->tcp_reported ||
	    m->hdr.len < sizeof(h))
		return conn_drop(k, "TCP report out of sequence");
	memcpy(&h, m->payload, sizeof(h));
	if (m->hdr.len != sizeof(h) + (size_t)h.count * sizeof(struct proto_tcp_end))
		return conn_drop(k, "malformed TCP report");
	tcp_forget(k);
	k->tcp = malloc(h.count ? h.count * sizeof(*k->tcp) : 1);
	k->tcp_out = calloc(h.count ? h.count : 1, sizeof(*k->tcp_out));
	if (!k->tcp || !k->tcp_out)
		return conn_drop(k, "out of memory");
	memcpy(k->tcp, m->payload + sizeof(h), h.count * sizeof(*k->tcp));
	memcpy(k->tcp_host, h.host, sizeof(h.host));
	k->ntcp = h.count;
	ckpt_count(k, -1);
	k->tcp_reported = 1;
	ckpt_count(k, 1);
	ckpt_advance(k->c); /* members closed meanwhile fail it first: the answer says ABORT */
}

void tcp_forget(struct conn *k)
{
	free(k->tcp);
	free(k->tcp_out);
	k->tcp = NULL;
	k->tcp_out = NULL;
	k->ntcp = 0;
	k->tcp_reported = 0;
}
