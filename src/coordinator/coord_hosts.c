/* Where the processes of a computation run. Each process says so after its
 * welcome (MSG_HOST): the key of its network (boot id and network namespace,
 * as in TCP reports), the key of the pids it sees (boot id and PID
 * namespace: every restart has its own), its host name, and for a restored
 * one the host it ran on at the checkpoint. Pids mean something only where
 * they are seen: the pids a checkpoint barrier's pass lists to a process are
 * those it sees. Every image records every process of its generation with
 * its host (MSG_MEMBERS), so that a restart can name those that did not come
 * back: one image per host lists them all (members_send). */
#include "coordinator/coord_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

void host_on(struct conn *k, const struct proto_msg *m)
{
	struct proto_host h;
	if (m->hdr.len != sizeof(h))
		return conn_drop(k, "malformed host message");
	memcpy(&h, m->payload, sizeof(h));
	memcpy(k->host_key, h.key, sizeof(k->host_key));
	memcpy(k->pids_key, h.pids, sizeof(k->pids_key));
	memcpy(k->host, h.host, sizeof(h.host));
	k->host[sizeof(h.host)] = 0;
	if (h.orig_host[0]) { /* the restorer's: the runtime says where it runs now only */
		memcpy(k->orig_host, h.orig_host, sizeof(h.orig_host));
		k->orig_host[sizeof(h.orig_host)] = 0;
	}
	k->has_host = 1;
}

int same_host(const struct conn *a, const struct conn *b)
{
	return !a->has_host || !b->has_host || !memcmp(a->pids_key, b->pids_key, 16);
}

/* By host name, then pid. */
static int by_host(const void *a, const void *b)
{
	const struct conn *x = *(struct conn *const *)a, *y = *(struct conn *const *)b;
	int d = strcmp(x->host, y->host);
	return d ? d : x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void member_of(struct proto_member *e, const struct conn *k)
{
	memset(e, 0, sizeof(*e));
	e->pid = k->pid;
	memcpy(e->host, k->host, sizeof(e->host) - 1);
	memcpy(e->name, k->name, sizeof(e->name) - 1);
}

/* Every member (at most PROTO_MAX_MEMBERS) to the lowest pid of each host:
 * the images of any host's part list the whole computation; each other
 * member gets its own entry (its image says where it ran). Every member to
 * every one would be n^2 (3.4 MB to each of 32768). */
void members_send(struct coord *c)
{
	size_t n = 0;
	struct conn **v = members_sorted(c, by_host, &n);
	size_t nv = n < PROTO_MAX_MEMBERS ? n : PROTO_MAX_MEMBERS;
	struct proto_member *all = v ? calloc(nv ? nv : 1, sizeof(*all)) : NULL;
	for (size_t i = 0; all && i < nv; i++)
		member_of(&all[i], v[i]);
	struct iovec iov = {all, nv * sizeof(*all)};
	struct shared *s = all ? shared_new(MSG_MEMBERS, &iov, 1) : NULL;
	for (size_t i = 0; s && i < n; i++) {
		struct proto_member self;
		member_of(&self, v[i]);
		if (!i || strcmp(v[i - 1]->host, v[i]->host))
			conn_send_shared(v[i], s);
		else
			conn_send(v[i], MSG_MEMBERS, &self, sizeof(self), NULL, 0);
	}
	if (!s)
		ckpt_fail(c,
			  "the coordinator ran out of memory listing the %zu processes of the "
			  "checkpoint for their images",
			  n);
	shared_put(s);
	free(all);
	free(v);
}
