/* Control commands from the CLI: checkpoint, status (coord_status.c), kill,
 * interval, quit. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void reply_status(struct conn *k, int json)
{
	struct sbuf s = {0};
	if ((json ? status_json(k->c, &s) : status_text(k->c, &s)) < 0)
		conn_drop(k, "out of memory");
	else
		conn_send(k, MSG_STATUS_REPLY, s.p, s.len, NULL, 0);
	sbuf_free(&s);
}

/* CMD_CHECKPOINT with a directory: the coordinator's, from this checkpoint
 * on; kept only if the checkpoint starts. */
static int checkpoint_in(struct conn *k, uint32_t flags, const char *dir, size_t len, char *err,
			 size_t errlen)
{
	struct coord *c = k->c;
	char want[PATH_MAX], old[PATH_MAX];
	if (!len)
		return ckpt_start(c, flags, k->id, err, errlen);
	if (ckpt_busy(c)) /* its images go to the directory it began with */
		return errf(err, errlen,
			    "checkpoint generation %u is running: checkpoint into %.*s again when "
			    "it completes",
			    c->gen, (int)len, dir);
	snprintf(want, sizeof(want), "%.*s", (int)len, dir);
	if (len >= sizeof(want) || memchr(dir, 0, len) || want[0] != '/')
		return errf(err, errlen, "bad checkpoint directory: give an absolute path");
	snprintf(old, sizeof(old), "%s", c->ckpt_dir);
	if (files_resolve_dir(want, 0, c->ckpt_dir, err, errlen) < 0) {
		snprintf(c->ckpt_dir, sizeof(c->ckpt_dir), "%s", old);
		return -1;
	}
	if (ckpt_start(c, flags, k->id, err, errlen) == 0) {
		if (strcmp(old, c->ckpt_dir))
			log_msg(NULL, "checkpoints of %016llx now go to %s (were in %s)",
				(unsigned long long)c->comp_id, c->ckpt_dir, old);
		return 0;
	}
	snprintf(c->ckpt_dir, sizeof(c->ckpt_dir), "%s", old);
	return -1;
}

static void reply_checkpoint(struct conn *k, uint32_t flags, const char *dir, size_t len)
{
	char err[PATH_MAX + 256];
	flags &= CKPT_KILL | CKPT_NO_COMPRESS | CKPT_INCREMENTAL;
	if (checkpoint_in(k, flags, dir, len, err, sizeof(err)) == 0)
		return;
	struct proto_ckpt_result r = {.status = 1, .gen = 0}; /* gen 0: not started */
	conn_send(k, MSG_CKPT_RESULT, &r, sizeof(r), err, strlen(err));
}

static long long interval_fired(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	char err[1024];
	(void)l;
	(void)id;
	if (coord_nprocs(c) && !ckpt_busy(c) && !c->restarting &&
	    ckpt_start(c, 0, 0, err, sizeof(err)) < 0) {
		warn("interval checkpoint not started: %s", err);
		c->last_err.gen = c->gen + 1;
		c->last_err.at_ms = now_ms();
		snprintf(c->last_err.text, sizeof(c->last_err.text), "not started: %s", err);
	}
	return (long long)c->interval * 1000;
}

void ctl_send_interval(struct conn *k)
{
	uint32_t secs = k->c->interval;
	conn_send(k, MSG_INTERVAL, &secs, sizeof(secs), NULL, 0);
}

/* Every process keeps its computation's interval (it travels in its image). */
int ctl_set_interval(struct coord *c, unsigned seconds)
{
	if (c->interval_timer > 0)
		loop_del_timer(c->loop, c->interval_timer);
	c->interval_timer = 0;
	c->interval = seconds;
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && conn_is_process(k))
			ctl_send_interval(k);
	if (!seconds)
		return 0;
	c->interval_timer = loop_add_timer(c->loop, (long long)seconds * 1000, interval_fired, c);
	return c->interval_timer > 0 ? 0 : -1;
}

/* A restarted or rejoining process says the interval its computation had:
 * taken unless this coordinator was given one; else it learns ours. */
void ctl_on_interval(struct conn *k, const struct proto_msg *m)
{
	struct coord *c = k->c;
	uint32_t secs;
	memcpy(&secs, m->payload, sizeof(secs));
	if (secs == c->interval)
		return;
	if (c->interval_set || ctl_set_interval(c, secs) < 0)
		ctl_send_interval(k);
	else
		log_msg(NULL, "interval of computation %016llx: every %u s",
			(unsigned long long)c->comp_id, secs);
}

/* An --exit-on-last coordinator (one a launch or a restart started) whose
 * computation is over takes the directory of the launch or restart that
 * comes in its last moments (a restart from a copied directory); one that has
 * served no computation yet, or whose processes run, or that runs for good,
 * keeps its own. */
static void reply_set_dir(struct conn *k, const char *dir, size_t len)
{
	struct coord *c = k->c;
	char want[PATH_MAX], got[PATH_MAX], err[PATH_MAX + 256];
	int lingering = c->opts.exit_on_last && c->comp_id; /* exits once its computation is over */
	snprintf(want, sizeof(want), "%.*s", (int)len, dir);
	if (len >= sizeof(want) || memchr(dir, 0, len) || want[0] != '/')
		snprintf(err, sizeof(err), "bad checkpoint directory: give an absolute path");
	else if (!lingering || coord_nprocs(c) || c->ckpt.active || c->restarting)
		snprintf(err, sizeof(err),
			 "the coordinator on port %u keeps checkpoints in %s (%s)", c->port,
			 c->ckpt_dir, lingering ? "its computation runs" : "it was given that one");
	else if (files_resolve_dir(want, 1, got, err, sizeof(err)) == 0) {
		if (strcmp(got, c->ckpt_dir))
			log_msg(NULL, "checkpoints now go to %s (were in %s)", got, c->ckpt_dir);
		snprintf(c->ckpt_dir, sizeof(c->ckpt_dir), "%s", got);
		conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		return;
	}
	conn_send(k, MSG_ERROR, err, strlen(err), NULL, 0);
}

static uint32_t u32_arg(const struct proto_msg *m)
{
	uint32_t v;
	memcpy(&v, m->payload, sizeof(v));
	return v;
}

int ctl_dispatch(struct conn *k, const struct proto_msg *m)
{
	uint32_t len = m->hdr.len;
	switch (m->hdr.type) {
	case MSG_CMD_CHECKPOINT:
		if (len < sizeof(struct proto_cmd_checkpoint))
			return -1;
		reply_checkpoint(k, u32_arg(m), (const char *)m->payload + sizeof(uint32_t),
				 len - sizeof(struct proto_cmd_checkpoint));
		return 0;
	case MSG_CMD_STATUS:
		if (len != 4)
			return -1;
		reply_status(k, u32_arg(m) != 0);
		return 0;
	case MSG_CMD_KILL:
		kill_start(k);
		return 0;
	case MSG_CMD_SET_INTERVAL:
		if (len != 4 || ctl_set_interval(k->c, u32_arg(m)) < 0)
			return -1;
		k->c->interval_set = 1;
		conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		return 0;
	case MSG_CMD_SET_DIR:
		reply_set_dir(k, (const char *)m->payload, len);
		return 0;
	case MSG_CMD_RESTART_WAIT:
		return restart_on_wait(k, m);
	case MSG_JOINED_WAIT:
		return restart_on_joined_wait(k, m);
	case MSG_EXEC: /* a launch holding the coordinator: its program is (1) or is not (0)
			  being started */
		if (len != 4 || !(k->flags & HELLO_HOLD))
			return -1;
		k->execing = u32_arg(m) != 0;
		return 0;
	case MSG_CMD_QUIT:
		conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		loop_stop(k->c->loop);
		return 0;
	}
	return -1;
}
