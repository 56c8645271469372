/* A checkpoint barrier's pass to every member. The SUSPENDED pass lists the
 * pids of the members a process sees (those of its host's PID namespace, and
 * those that did not say where they run), for its sockets and shared
 * descriptors; the other passes list none (the runtime keeps the last list).
 * Each host's message is built once and shared by its members' outputs
 * (coord_shared.c): the members sorted by host, each host's pids are one run. */
#include "coordinator/coord_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct conn **members_sorted(struct coord *c, int (*cmp)(const void *, const void *), size_t *n)
{
	struct conn **v = malloc((c->ckpt.nmem ? c->ckpt.nmem : 1) * sizeof(*v));
	*n = 0;
	for (struct conn *k = c->conns; v && k && *n < c->ckpt.nmem; k = k->next)
		if (k->member && k->state == CONN_READY)
			v[(*n)++] = k;
	if (v)
		qsort(v, *n, sizeof(*v), cmp);
	return v;
}

/* Those that did not say where they run first, then by PID namespace. */
static int by_pids_key(const void *a, const void *b)
{
	const struct conn *x = *(struct conn *const *)a, *y = *(struct conn *const *)b;
	if (x->has_host != y->has_host)
		return x->has_host - y->has_host;
	return x->has_host ? memcmp(x->pids_key, y->pids_key, sizeof(x->pids_key)) : 0;
}

/* The pass with the pids of a run (own of them) and of the n0 members that
 * see everyone, at most PROTO_MAX_MEMBERS. */
static struct shared *host_pass(const struct proto_barrier *pass, const uint32_t *run, size_t own,
				const uint32_t *all, size_t n0)
{
	own = own < PROTO_MAX_MEMBERS ? own : PROTO_MAX_MEMBERS;
	n0 = n0 < PROTO_MAX_MEMBERS - own ? n0 : PROTO_MAX_MEMBERS - own;
	struct iovec iov[3] = {{(void *)pass, sizeof(*pass)},
			       {(void *)run, own * sizeof(*run)},
			       {(void *)all, n0 * sizeof(*all)}};
	return shared_new(MSG_BARRIER, iov, 3);
}

/* v[from, to) get the message s (or the pass alone: out of memory). */
static void send_run(const struct proto_barrier *pass, struct conn **v, size_t from, size_t to,
		     struct shared *s)
{
	for (size_t i = from; i < to; i++)
		if (!s || conn_send_shared(v[i], s) < 0)
			conn_send(v[i], MSG_BARRIER, pass, sizeof(*pass), NULL, 0);
	shared_put(s);
}

/* Those that see everyone (the first n0) get every pid; each run of one PID
 * namespace its own and those n0. */
static void send_pids(const struct proto_barrier *pass, struct conn **v, const uint32_t *pids,
		      size_t n)
{
	size_t n0 = 0;
	while (n0 < n && !v[n0]->has_host)
		n0++;
	if (n0)
		send_run(pass, v, 0, n0, host_pass(pass, pids, n, NULL, 0));
	for (size_t from = n0, to; from < n; from = to) {
		for (to = from + 1; to < n && !by_pids_key(&v[from], &v[to]); to++)
			;
		send_run(pass, v, from, to, host_pass(pass, pids + from, to - from, pids, n0));
	}
}

void pass_send(struct coord *c, const struct proto_barrier *pass)
{
	size_t n = 0;
	struct conn **v = pass->id == BARRIER_SUSPENDED ? members_sorted(c, by_pids_key, &n) : NULL;
	uint32_t *pids = v ? malloc((n ? n : 1) * sizeof(*pids)) : NULL;
	for (size_t i = 0; pids && i < n; i++)
		pids[i] = v[i]->pid;
	if (pids) {
		send_pids(pass, v, pids, n);
	} else {
		struct proto_barrier p = *pass;
		if (p.id == BARRIER_SUSPENDED) { /* its pids not listed: out of memory */
			ckpt_fail(c,
				  "the coordinator ran out of memory listing the %u processes "
				  "of the checkpoint",
				  c->ckpt.nmem);
			p.flags |= BARRIER_F_ABORT;
		}
		for (struct conn *k = c->conns; k; k = k->next)
			if (k->member && k->state == CONN_READY)
				conn_send(k, MSG_BARRIER, &p, sizeof(p), NULL, 0);
	}
	free(pids);
	free(v);
}
