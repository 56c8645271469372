/* Where the processes of a computation run. Each process says so after its
 * welcome (MSG_HOST): the key of its network (boot id and network namespace,
 * as in TCP reports), the key of the pids it sees (boot id and PID
 * namespace: every restart has its own), its host name, and for a restored
 * one the host it ran on at the checkpoint. Pids mean something only where
 * they are seen: the pids a checkpoint barrier's pass lists to a process are
 * those it sees. Every image records every process of its generation with
 * its host (MSG_MEMBERS), so that a restart can name those that did not come
 * back. */
#include "coordinator/coord_int.h"

#include <stdlib.h>
#include <string.h>

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

void members_send(struct coord *c)
{
	size_t n = 0, i = 0;
	for (struct conn *k = c->conns; k; k = k->next)
		n += k->member && k->state == CONN_READY;
	struct proto_member *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return;
	for (struct conn *k = c->conns; k && i < n; k = k->next) {
		if (!k->member || k->state != CONN_READY)
			continue;
		v[i].pid = k->pid;
		memcpy(v[i].host, k->host, sizeof(v[i].host) - 1);
		memcpy(v[i].name, k->name, sizeof(v[i].name) - 1);
		i++;
	}
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->member && k->state == CONN_READY)
			conn_send(k, MSG_MEMBERS, v, n * sizeof(*v), NULL, 0);
	free(v);
}
