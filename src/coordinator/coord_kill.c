/* stasis kill: KILL to every process; those that do not act on it within
 * KILL_WAIT_MS (stopped, or stuck in a checkpoint that gave up on them) get
 * SIGKILL from here when they run on this host. The client is answered once
 * every process is gone (OK), or after KILL_GIVEUP_MS with the ones left
 * (ERROR). A process that joins meanwhile (a child being born, a restart) gets
 * KILL too. A checkpoint --kill ends the computation the same way, and its
 * client hears of the images once the processes are gone. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define KILL_WAIT_MS 2000
#define KILL_GIVEUP_MS 4000

static void send_kill(struct conn *k)
{
	if (k->killing || k->state != CONN_READY || !conn_is_process(k))
		return;
	conn_send(k, MSG_KILL, NULL, 0, NULL, 0);
	k->killing = 1;
}

static void start(struct coord *c)
{
	for (struct conn *k = c->conns; k; k = k->next)
		send_kill(k);
	if (!c->kill_since_ms)
		c->kill_since_ms = now_ms();
	kill_check(c);
}

void kill_start(struct conn *requester)
{
	requester->waits_kill = 1;
	start(requester->c);
}

void kill_after_checkpoint(struct coord *c, struct conn *req, const struct proto_ckpt_result *r,
			   const struct sbuf *paths)
{
	struct sbuf *p = &c->kill_result.paths;
	sbuf_reset(p);
	c->kill_result.requester = 0;
	if (req && sbuf_add(p, paths->p, paths->len) == 0) {
		c->kill_result.requester = req->id;
		c->kill_result.r = *r;
	} else if (req) { /* no memory to keep them: answer now */
		conn_send(req, MSG_CKPT_RESULT, r, sizeof(*r), paths->p, paths->len);
	}
	start(c);
}

/* The result of a checkpoint --kill, now that its processes are gone (or
 * KILL_GIVEUP_MS passed: its images are written all the same). */
static void answer_checkpoint(struct coord *c)
{
	struct conn *req = conn_by_id(c, c->kill_result.requester);
	struct sbuf *p = &c->kill_result.paths;
	if (req)
		conn_send(req, MSG_CKPT_RESULT, &c->kill_result.r, sizeof(c->kill_result.r), p->p,
			  p->len);
	c->kill_result.requester = 0;
	sbuf_reset(p);
}

static void escalate(struct coord *c)
{
	for (struct conn *k = c->conns; k; k = k->next) {
		if (!k->killing || k->state != CONN_READY)
			continue;
		int pid = peer_host_pid(k->fd, k->pid);
		if (pid <= 0)
			continue;
		warn("process %u (%s) did not act on KILL within %d s: SIGKILL to pid %d", k->pid,
		     k->name, KILL_WAIT_MS / 1000, pid);
		kill(pid, SIGKILL);
	}
}

static void answer(struct coord *c, int left)
{
	char text[2048] = "";
	size_t n = 0;
	for (struct conn *k = c->conns; k && left; k = k->next)
		if (k->killing && k->state == CONN_READY && n < sizeof(text) - 256)
			n += snprintf(
			    text + n, sizeof(text) - n,
			    "%sprocess %u (%s) did not end within %d s: it does not act on "
			    "KILL and cannot be signalled from here (another host?)",
			    n ? "\n" : "", k->pid, k->name, KILL_GIVEUP_MS / 1000);
	for (struct conn *k = c->conns; k; k = k->next) {
		if (!k->waits_kill || k->state != CONN_READY)
			continue;
		if (left)
			conn_send(k, MSG_ERROR, text, n, NULL, 0);
		else
			conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		k->waits_kill = 0;
	}
	if (c->kill_result.requester)
		answer_checkpoint(c);
	c->kill_since_ms = 0;
}

void kill_check(struct coord *c)
{
	if (!c->kill_since_ms)
		return;
	long long t = now_ms() - c->kill_since_ms;
	int left = 0;
	for (struct conn *k = c->conns; k; k = k->next) {
		send_kill(k); /* joined since */
		left += k->killing && k->state == CONN_READY;
	}
	if (left && t >= KILL_WAIT_MS && !c->kill_escalated) {
		escalate(c);
		c->kill_escalated = 1;
	}
	if (left && t < KILL_GIVEUP_MS)
		return;
	answer(c, left);
	c->kill_escalated = 0;
}
