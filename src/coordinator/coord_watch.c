/* A checkpoint's bounds. Twice a second the coordinator pings the members and
 * the client that asked (they bound their own waits by it, PROTO_SILENCE_MS;
 * a member that was sent something in the last second is not pinged: with
 * 32768 of them pings would be most of the coordinator's sends),
 * and gives up on a member that has said nothing for --timeout since it was
 * last asked for something: the checkpoint fails naming it and why (stopped,
 * blocked), the others go on. A process given up on (stopped, say) that goes
 * on later finishes that checkpoint alone: each barrier it reaches passes at
 * once with ABORT, and an image it still writes is removed. Until then no
 * checkpoint starts: it would fail the same way. */
#include "common/ckptfiles.h"
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PING_IDLE_MS 1000 /* a member told nothing for this long is pinged */

void watch_abandon(struct conn *k)
{
	struct coord *c = k->c;
	char why[256];
	peer_describe(k, why, sizeof(why));
	ckpt_fail(c, "process %u (%s) did not answer within %u s: %s", k->pid, k->name,
		  c->timeout_ms / 1000, why);
	ckpt_count(k, -1);
	k->abandoned = c->ckpt.gen;
	k->member = 0;
}

/* Restored processes wait for the RESTARTED pass while the others are still
 * being restored (large images take a while): they hear from us meanwhile. */
static void ping_restarted(struct coord *c)
{
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && k->barrier == BARRIER_RESTARTED)
			conn_send(k, MSG_PING, NULL, 0, NULL, 0);
}

void watch_tick(struct coord *c)
{
	struct ckpt *ck = &c->ckpt;
	if (c->restarting)
		ping_restarted(c);
	if (!ck->active)
		return;
	long long now = now_ms();
	struct conn *req = ck->requester ? conn_by_id(c, ck->requester) : NULL;
	if (req && !req->member)
		conn_send(req, MSG_PING, NULL, 0, NULL, 0);
	struct conn *next = c->queued.pending ? conn_by_id(c, c->queued.requester) : NULL;
	if (next) /* it waits for this checkpoint to end */
		conn_send(next, MSG_PING, NULL, 0, NULL, 0);
	for (struct conn *k = c->conns; k; k = k->next) {
		if (!k->member || k->state != CONN_READY)
			continue;
		if (now - k->sent_ms >= PING_IDLE_MS) /* else it heard from us lately */
			conn_send(k, MSG_PING, NULL, 0, NULL, 0);
		if (!ckpt_reached(k, ck->stage) && now - k->heard_ms >= c->timeout_ms)
			watch_abandon(k);
	}
	ckpt_advance(c);
}

/* A message from a process given up on: 1 if handled here. */
int watch_on_abandoned(struct conn *k, const struct proto_msg *m)
{
	struct proto_barrier b;
	uint32_t pid = k->pid;
	switch (m->hdr.type) {
	case MSG_BARRIER:
		if (m->hdr.len != sizeof(b))
			return 0;
		memcpy(&b, m->payload, sizeof(b));
		if (!ckpt_stage_known(b.id))
			return 0;
		struct proto_barrier pass = {.id = b.id, .nprocs = 1, .flags = BARRIER_F_ABORT};
		conn_send(k, MSG_BARRIER, &pass, sizeof(pass), &pid,
			  b.id == BARRIER_WRITTEN ? 0 : sizeof(pid));
		if (b.id == BARRIER_WRITTEN) {
			log_msg(NULL, "process %u (%s) answers again", k->pid, k->name);
			k->abandoned = 0;
		}
		return 1;
	case MSG_IMAGE_DONE:
		if (m->hdr.len > sizeof(struct proto_image_done)) {
			char path[PATH_MAX];
			size_t len = m->hdr.len - sizeof(struct proto_image_done);
			if (len >= sizeof(path))
				return 1;
			memcpy(path, m->payload + sizeof(struct proto_image_done), len);
			path[len] = 0;
			const char *base = strrchr(path, '/');
			if (ckpt_generation_file(base ? base + 1 : path, k->c->comp_id,
						 k->abandoned))
				unlink(path); /* of a generation that failed */
		}
		return 1;
	case MSG_TCP_REPORT: { /* it drains nothing: that checkpoint failed */
		struct proto_tcp_match h = {.flags = PROTO_TCP_ABORT};
		conn_send(k, MSG_TCP_MATCH, &h, sizeof(h), NULL, 0);
		return 1;
	}
	case MSG_CKPT_ERROR:
	case MSG_CHILDREN:
	case MSG_PROGRESS:
		return 1;
	}
	return 0;
}

int watch_refuse_abandoned(struct coord *c, char *err, size_t errlen)
{
	char why[256];
	for (struct conn *k = c->conns; k; k = k->next) {
		if (!k->abandoned || k->state != CONN_READY)
			continue;
		peer_describe(k, why, sizeof(why));
		return errf(err, errlen,
			    "process %u (%s) has not answered since checkpoint generation %u was "
			    "given up: %s",
			    k->pid, k->name, k->abandoned, why);
	}
	return 0;
}
