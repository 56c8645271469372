/* The name service of a restart: the end of a TCP connection that listens
 * publishes where it waits now (connection id -> address, port, cookie); the
 * other end looks it up and is answered as soon as it is published, from
 * whichever host either end restarts on. Names are forgotten once the
 * restarted computation resumes (the RESTARTED pass). */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <stdlib.h>
#include <string.h>

#define NAMES_MAX 1000000 /* published names kept at most (a restart's connections) */

struct name {
	struct proto_name n;
	struct name *next;
};

struct lookup {
	uint64_t conn_id;
	uint64_t client; /* connection that asked */
	struct lookup *next;
};

static const struct proto_name *find(const struct coord *c, uint64_t id)
{
	for (const struct name *e = c->names; e; e = e->next)
		if (e->n.conn_id == id)
			return &e->n;
	return NULL;
}

static void answer_waiting(struct coord *c, const struct proto_name *n)
{
	for (struct lookup **p = &c->lookups; *p;) {
		struct lookup *l = *p;
		if (l->conn_id != n->conn_id) {
			p = &l->next;
			continue;
		}
		struct conn *k = conn_by_id(c, l->client);
		if (k)
			conn_send(k, MSG_NAME_ANSWER, n, sizeof(*n), NULL, 0);
		*p = l->next;
		free(l);
	}
}

static int publish(struct conn *k, const struct proto_name *n)
{
	struct coord *c = k->c;
	if (find(c, n->conn_id) || c->nnames >= NAMES_MAX)
		return -1; /* published twice, or a flood */
	struct name *e = malloc(sizeof(*e));
	if (!e)
		return -1;
	e->n = *n;
	e->next = c->names;
	c->names = e;
	c->nnames++;
	debug("connection %016llx published on port %u", (unsigned long long)n->conn_id, n->port);
	answer_waiting(c, &e->n);
	return 0;
}

static int lookup(struct conn *k, uint64_t id)
{
	struct coord *c = k->c;
	const struct proto_name *n = find(c, id);
	if (n) {
		conn_send(k, MSG_NAME_ANSWER, n, sizeof(*n), NULL, 0);
		return 0;
	}
	struct lookup *l = malloc(sizeof(*l));
	if (!l)
		return -1;
	*l = (struct lookup){id, k->id, c->lookups};
	c->lookups = l;
	return 0;
}

int names_dispatch(struct conn *k, const struct proto_msg *m)
{
	struct proto_name n;
	uint64_t id;
	if (m->hdr.type == MSG_NAME_PUBLISH && m->hdr.len == sizeof(n)) {
		memcpy(&n, m->payload, sizeof(n));
		return publish(k, &n);
	}
	if (m->hdr.type == MSG_NAME_LOOKUP && m->hdr.len == sizeof(id)) {
		memcpy(&id, m->payload, sizeof(id));
		return lookup(k, id);
	}
	return -1;
}

void names_forget(struct coord *c)
{
	while (c->names) {
		struct name *e = c->names;
		c->names = e->next;
		free(e);
	}
	while (c->lookups) {
		struct lookup *l = c->lookups;
		c->lookups = l->next;
		free(l);
	}
	c->nnames = 0;
}
