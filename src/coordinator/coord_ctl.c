/* Control commands from the CLI: checkpoint, status, kill, interval, quit. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <string.h>
#include <unistd.h>

static const char *state_name(const struct coord *c)
{
	if (c->ckpt.active)
		return "checkpointing";
	return c->restarting ? "restarting" : "idle";
}

static int status_json(struct coord *c, struct sbuf *s)
{
	int rc = sbuf_printf(s, "{\"port\": %u, \"comp_id\": \"%016llx\", \"gen\": %u, ", c->port,
			     (unsigned long long)c->comp_id, c->gen);
	rc |= sbuf_printf(s, "\"state\": \"%s\", \"interval\": %u, \"ckpt_dir\": ", state_name(c),
			  c->interval);
	rc |= sbuf_add_json_string(s, c->ckpt_dir);
	rc |= sbuf_printf(s, ", \"nprocs\": %d, \"procs\": [", coord_nprocs(c));
	const char *sep = "";
	for (struct conn *k = c->conns; k; k = k->next) {
		if (k->state != CONN_READY || !conn_is_process(k))
			continue;
		rc |= sbuf_printf(s, "%s{\"pid\": %u, \"name\": ", sep, k->pid);
		rc |= sbuf_add_json_string(s, k->name);
		rc |= sbuf_add(s, "}", 1);
		sep = ", ";
	}
	return rc | sbuf_add(s, "]}\n", 3);
}

static int status_text(struct coord *c, struct sbuf *s)
{
	int rc = sbuf_printf(s, "coordinator:    %s:%u (pid %d)\n", c->bind_addr, c->port,
			     (int)getpid());
	if (c->comp_id)
		rc |= sbuf_printf(s, "computation:    %016llx, generation %u\n",
				  (unsigned long long)c->comp_id, c->gen);
	else
		rc |= sbuf_printf(s, "computation:    none yet\n");
	rc |= sbuf_printf(s, "state:          %s\n", state_name(c));
	if (c->interval)
		rc |= sbuf_printf(s, "interval:       every %u s\n", c->interval);
	else
		rc |= sbuf_printf(s, "interval:       off\n");
	rc |= sbuf_printf(s, "checkpoint dir: %s\nprocesses:      %d\n", c->ckpt_dir,
			  coord_nprocs(c));
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && conn_is_process(k))
			rc |= sbuf_printf(s, "  %8u  %s\n", k->pid, k->name);
	return rc;
}

static void reply_status(struct conn *k, int json)
{
	struct sbuf s = {0};
	if ((json ? status_json(k->c, &s) : status_text(k->c, &s)) < 0)
		conn_drop(k, "out of memory");
	else
		conn_send(k, MSG_STATUS_REPLY, s.p, s.len, NULL, 0);
	sbuf_free(&s);
}

static void reply_checkpoint(struct conn *k, uint32_t flags)
{
	char err[256];
	flags &= CKPT_KILL | CKPT_NO_COMPRESS | CKPT_INCREMENTAL;
	if (ckpt_start(k->c, flags, k->id, err, sizeof(err)) == 0)
		return;
	struct proto_ckpt_result r = {.status = 1, .gen = 0}; /* gen 0: not started */
	conn_send(k, MSG_CKPT_RESULT, &r, sizeof(r), err, strlen(err));
}

static void kill_all(struct coord *c)
{
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && conn_is_process(k))
			conn_send(k, MSG_KILL, NULL, 0, NULL, 0);
}

static long long interval_fired(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	char err[256];
	(void)l;
	(void)id;
	if (coord_nprocs(c) && !c->ckpt.active && !c->restarting &&
	    ckpt_start(c, 0, 0, err, sizeof(err)) < 0)
		warn("interval checkpoint not started: %s", err);
	return (long long)c->interval * 1000;
}

int ctl_set_interval(struct coord *c, unsigned seconds)
{
	if (c->interval_timer > 0)
		loop_del_timer(c->loop, c->interval_timer);
	c->interval_timer = 0;
	c->interval = seconds;
	if (!seconds)
		return 0;
	c->interval_timer = loop_add_timer(c->loop, (long long)seconds * 1000, interval_fired, c);
	return c->interval_timer > 0 ? 0 : -1;
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
		if (len != sizeof(struct proto_cmd_checkpoint))
			return -1;
		reply_checkpoint(k, u32_arg(m));
		return 0;
	case MSG_CMD_STATUS:
		if (len != 4)
			return -1;
		reply_status(k, u32_arg(m) != 0);
		return 0;
	case MSG_CMD_KILL:
		kill_all(k->c);
		conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		return 0;
	case MSG_CMD_SET_INTERVAL:
		if (len != 4 || ctl_set_interval(k->c, u32_arg(m)) < 0)
			return -1;
		conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		return 0;
	case MSG_CMD_RESTART_WAIT:
		return restart_on_wait(k, m);
	case MSG_CMD_QUIT:
		conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		loop_stop(k->c->loop);
		return 0;
	}
	return -1;
}
