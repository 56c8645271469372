/* The computation's name service: a key is published once with a value, and
 * a lookup is answered as soon as the key is published, from whichever host
 * either side runs on. One store serves two users, each with its messages:
 * - a restart's TCP connections (MSG_NAME_*): the end that listens publishes
 *   where it waits now (key "tcp/<connection id>", value struct proto_name),
 *   the other end looks it up;
 * - plugins (MSG_KV_*, plugin.h): any key and value of their own.
 * Names are forgotten when a checkpoint begins and once a restart is over
 * (the RESTARTED pass), or fails. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_MAX 1000000 /* published names kept at most (a restart's connections) */

struct name {
	char key[PROTO_KEY_LEN];
	uint32_t len;
	struct name *next;
	uint8_t value[];
};

struct lookup {
	char key[PROTO_KEY_LEN];
	uint16_t answer; /* MSG_NAME_ANSWER or MSG_KV_ANSWER */
	uint64_t client; /* connection that asked */
	struct lookup *next;
};

static const struct name *find(const struct coord *c, const char *key)
{
	for (const struct name *e = c->names; e; e = e->next)
		if (!strncmp(e->key, key, PROTO_KEY_LEN))
			return e;
	return NULL;
}

static void answer(struct conn *k, uint16_t type, const struct name *e)
{
	if (type == MSG_NAME_ANSWER) {
		conn_send(k, type, e->value, e->len, NULL, 0);
		return;
	}
	struct proto_kv kv = {.len = e->len};
	memcpy(kv.key, e->key, sizeof(kv.key));
	conn_send(k, type, &kv, sizeof(kv), e->value, e->len);
}

static void answer_waiting(struct coord *c, const struct name *e)
{
	for (struct lookup **p = &c->lookups; *p;) {
		struct lookup *l = *p;
		if (strncmp(l->key, e->key, PROTO_KEY_LEN)) {
			p = &l->next;
			continue;
		}
		struct conn *k = conn_by_id(c, l->client);
		if (k)
			answer(k, l->answer, e);
		*p = l->next;
		free(l);
	}
}

/* 0, or an errno: EEXIST (published twice), ENOSPC (a flood), ENOMEM */
static int publish(struct conn *k, const char *key, const void *value, uint32_t len)
{
	struct coord *c = k->c;
	if (find(c, key))
		return EEXIST;
	if (c->nnames >= NAMES_MAX)
		return ENOSPC;
	struct name *e = malloc(sizeof(*e) + len);
	if (!e)
		return ENOMEM;
	memcpy(e->key, key, PROTO_KEY_LEN);
	e->len = len;
	memcpy(e->value, value, len);
	e->next = c->names;
	c->names = e;
	c->nnames++;
	debug("name %.*s published (%u bytes)", PROTO_KEY_LEN, key, len);
	answer_waiting(c, e);
	return 0;
}

static int lookup(struct conn *k, const char *key, uint16_t type)
{
	struct coord *c = k->c;
	const struct name *e = find(c, key);
	if (e) {
		answer(k, type, e);
		return 0;
	}
	struct lookup *l = malloc(sizeof(*l));
	if (!l)
		return -1;
	memcpy(l->key, key, PROTO_KEY_LEN);
	l->answer = type;
	l->client = k->id;
	l->next = c->lookups;
	c->lookups = l;
	return 0;
}

static void tcp_key(char key[PROTO_KEY_LEN], uint64_t conn_id)
{
	memset(key, 0, PROTO_KEY_LEN);
	snprintf(key, PROTO_KEY_LEN, "tcp/%016llx", (unsigned long long)conn_id);
}

/* A key from a peer: NUL-terminated within its field, not empty. */
static int valid_key(const struct proto_kv *kv)
{
	return kv->key[0] && memchr(kv->key, 0, sizeof(kv->key));
}

static int kv_dispatch(struct conn *k, const struct proto_msg *m)
{
	struct proto_kv kv;
	if (m->hdr.len < sizeof(kv))
		return -1;
	memcpy(&kv, m->payload, sizeof(kv));
	if (!valid_key(&kv) || kv.len != m->hdr.len - sizeof(kv) || kv.len > PROTO_VALUE_MAX)
		return -1;
	char key[PROTO_KEY_LEN] = "";
	memcpy(key, kv.key, strlen(kv.key)); /* valid_key: it ends within the field */
	if (m->hdr.type == MSG_KV_LOOKUP)
		return kv.len ? -1 : lookup(k, key, MSG_KV_ANSWER);
	struct proto_kv st = {.status = publish(k, key, m->payload + sizeof(kv), kv.len)};
	memcpy(st.key, key, sizeof(st.key));
	conn_send(k, MSG_KV_ANSWER, &st, sizeof(st), NULL, 0);
	return 0;
}

int names_dispatch(struct conn *k, const struct proto_msg *m)
{
	struct proto_name n;
	uint64_t id;
	char key[PROTO_KEY_LEN];
	if (m->hdr.type == MSG_KV_PUBLISH || m->hdr.type == MSG_KV_LOOKUP)
		return kv_dispatch(k, m);
	if (m->hdr.type == MSG_NAME_PUBLISH && m->hdr.len == sizeof(n)) {
		memcpy(&n, m->payload, sizeof(n));
		tcp_key(key, n.conn_id);
		return publish(k, key, &n, sizeof(n)) ? -1 : 0; /* twice, or a flood */
	}
	if (m->hdr.type == MSG_NAME_LOOKUP && m->hdr.len == sizeof(id)) {
		memcpy(&id, m->payload, sizeof(id));
		tcp_key(key, id);
		return lookup(k, key, MSG_NAME_ANSWER);
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
