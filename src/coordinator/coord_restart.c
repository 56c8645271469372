/* A restart in parts: each `stasis restart` of a host's part asks to be told
 * when the whole generation is back (MSG_CMD_RESTART_WAIT, with how long it
 * waits and the generation's processes from its images). The restored
 * processes are held at the RESTARTED barrier until all the generation's are
 * there (coord_ckpt.c); then every waiting restart hears that it worked.
 * When a wait runs out first, every restarted process is ended and every
 * waiting restart hears which processes did not come back, and from which
 * hosts: a part never runs alone.
 * Before that, PID 1 of each part asks to be told when every process of the
 * generation has joined (MSG_JOINED_WAIT), and makes its TCP connections
 * (which take ports) only then: each part binds the ports its images need
 * before it joins (restore/fd_inet.c), so none of them can be taken. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <stdlib.h>
#include <string.h>

struct waiter {
	uint64_t client;
	long long timer;
	unsigned seconds;
	struct waiter *next;
};

struct joiner {
	uint64_t client;
	struct joiner *next;
};

static void reply(struct coord *c, uint64_t client, int ok, const char *text)
{
	struct conn *k = conn_by_id(c, client);
	struct proto_ckpt_result r = {.status = ok ? 0 : 1, .gen = ok ? c->gen : 0};
	if (k)
		conn_send(k, MSG_RESTART_RESULT, &r, sizeof(r), text, strlen(text));
}

static void forget(struct coord *c)
{
	while (c->waiters) {
		struct waiter *w = c->waiters;
		c->waiters = w->next;
		if (w->timer > 0)
			loop_del_timer(c->loop, w->timer);
		free(w);
	}
	free(c->expected);
	c->expected = NULL;
	c->nexpected = 0;
}

static void answer_all(struct coord *c, int ok, const char *text)
{
	for (struct waiter *w = c->waiters; w; w = w->next)
		reply(c, w->client, ok, text);
	forget(c);
}

static void answer_joiners(struct coord *c, int answer)
{
	while (c->joiners) {
		struct joiner *j = c->joiners;
		struct conn *k = answer ? conn_by_id(c, j->client) : NULL;
		if (k)
			conn_send(k, MSG_JOINED, NULL, 0, NULL, 0);
		c->joiners = j->next;
		free(j);
	}
}

static int all_joined(const struct coord *c)
{
	return !c->restarting || c->njoined >= c->restart_nprocs;
}

void restart_on_join(struct conn *k)
{
	struct coord *c = k->c;
	if (!c->restarting || k->joined)
		return;
	k->joined = 1;
	c->njoined++;
	if (all_joined(c))
		answer_joiners(c, 1);
}

void restart_on_leave(struct conn *k)
{
	if (k->joined)
		k->c->njoined--;
	k->joined = 0;
}

int restart_on_joined_wait(struct conn *k, const struct proto_msg *m)
{
	struct coord *c = k->c;
	if (m->hdr.len)
		return -1;
	if (all_joined(c))
		return conn_send(k, MSG_JOINED, NULL, 0, NULL, 0), 0;
	struct joiner *j = malloc(sizeof(*j));
	if (!j)
		return -1;
	j->client = k->id;
	j->next = c->joiners;
	c->joiners = j;
	return 0;
}

/* The restart came back whole, failed, or its processes are gone: a PID 1
 * still waiting for the others is being ended by its own restart. */
void restart_over(struct coord *c)
{
	for (struct conn *k = c->conns; k; k = k->next)
		k->joined = 0;
	c->njoined = 0;
	answer_joiners(c, 0);
}

void restart_done(struct coord *c)
{
	if (c->waiters)
		answer_all(c, 1, "");
	restart_over(c);
	c->restarted_comp = c->comp_id;
	c->restarted_gen = c->gen;
}

/* A process of the generation came back: one with its pid from its host. */
static int came_back(const struct coord *c, const struct proto_member *e)
{
	for (const struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && conn_is_process(k) && (k->flags & HELLO_RESTART) &&
		    k->pid == e->pid &&
		    (!k->orig_host[0] || !e->host[0] || !strncmp(k->orig_host, e->host, 64)))
			return 1;
	return 0;
}

static int missing_text(struct coord *c, struct sbuf *s, unsigned seconds)
{
	uint32_t back = 0;
	for (struct conn *k = c->conns; k; k = k->next)
		back += k->state == CONN_READY && conn_is_process(k) && (k->flags & HELLO_RESTART);
	int rc =
	    sbuf_printf(s,
			"restart of computation %016llx generation %u: %u of its %u "
			"processes came back within %u s",
			(unsigned long long)c->comp_id, c->gen, back, c->restart_nprocs, seconds);
	const char *sep = "; missing: ";
	for (uint32_t i = 0; i < c->nexpected; i++) {
		const struct proto_member *e = &c->expected[i];
		if (came_back(c, e))
			continue;
		rc |= sbuf_printf(s, "%sprocess %u (%.32s) of host %.64s", sep, e->pid, e->name,
				  e->host[0] ? e->host : "?");
		sep = ", ";
	}
	return rc |
	       sbuf_printf(s, ". Every restarted process was ended: restart the part of "
			      "every host (stasis restart --coord-host ... --dir DIR on each), "
			      "or all its images on one host");
}

/* A wait ran out before the generation was whole. */
static long long wait_expired(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	struct sbuf s = {0};
	unsigned seconds = 0;
	(void)l;
	for (struct waiter *w = c->waiters; w; w = w->next)
		if (w->timer == id) {
			w->timer = 0;
			seconds = w->seconds;
		}
	if (!c->restarting)
		return LOOP_NOMORE;
	missing_text(c, &s, seconds);
	warn("%s", s.p ? s.p : "restart failed");
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && conn_is_process(k) && (k->flags & HELLO_RESTART))
			conn_send(k, MSG_KILL, NULL, 0, NULL, 0);
	answer_all(c, 0, s.p ? s.p : "restart failed");
	sbuf_free(&s);
	c->restarting = 0;
	restart_over(c);
	names_forget(c);
	return LOOP_NOMORE;
}

int restart_on_wait(struct conn *k, const struct proto_msg *m)
{
	struct coord *c = k->c;
	struct proto_restart_wait w;
	if (m->hdr.len < sizeof(w))
		return -1;
	memcpy(&w, m->payload, sizeof(w));
	if (m->hdr.len != sizeof(w) + (size_t)w.nmembers * sizeof(struct proto_member) ||
	    w.nmembers > PROTO_MAX_MEMBERS || !w.seconds)
		return -1;
	if (!c->restarting) { /* already whole, or none runs */
		int ok = c->restarted_comp == w.comp_id && c->restarted_gen >= w.gen;
		reply(c, k->id, ok,
		      ok ? ""
			 : "no restart of this computation is in progress on this coordinator");
		return 0;
	}
	if (!c->expected && w.nmembers) {
		c->expected = malloc(w.nmembers * sizeof(*c->expected));
		if (c->expected) {
			memcpy(c->expected, m->payload + sizeof(w),
			       w.nmembers * sizeof(*c->expected));
			c->nexpected = w.nmembers;
		}
	}
	struct waiter *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->client = k->id;
	e->seconds = w.seconds;
	e->timer = loop_add_timer(c->loop, (long long)w.seconds * 1000, wait_expired, c);
	e->next = c->waiters;
	c->waiters = e;
	return 0;
}

void restart_forget(struct coord *c)
{
	forget(c);
	answer_joiners(c, 0);
}
