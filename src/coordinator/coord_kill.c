/* stasis kill: KILL to every process; those that do not act on it within
 * KILL_WAIT_MS (stopped, or stuck in a checkpoint that gave up on them) get
 * SIGKILL from here when they run on this host. The client is answered once
 * every process is gone (OK), or after KILL_GIVEUP_MS with the ones left
 * (ERROR). A process that joins meanwhile (a child being born, a restart) gets
 * KILL too. */
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

static void kill_all(struct coord *c, struct conn *requester)
{
	for (struct conn *k = c->conns; k; k = k->next)
		send_kill(k);
	if (requester)
		requester->waits_kill = 1;
	if (!c->kill_since_ms)
		c->kill_since_ms = now_ms();
	kill_check(c);
}

void kill_start(struct conn *requester)
{
	kill_all(requester->c, requester);
}

void kill_after_checkpoint(struct coord *c, struct conn *requester, const void *result, size_t len)
{
	if (requester && sbuf_add(&requester->kill_result, result, len) < 0) {
		conn_send(requester, MSG_CKPT_RESULT, result, len, NULL, 0);
		requester = NULL; /* no memory to hold it: answered now */
	}
	kill_all(c, requester);
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
		if (k->kill_result.len) /* the images are good whatever is left */
			conn_send(k, MSG_CKPT_RESULT, k->kill_result.p, k->kill_result.len, NULL,
				  0);
		else if (left)
			conn_send(k, MSG_ERROR, text, n, NULL, 0);
		else
			conn_send(k, MSG_OK, NULL, 0, NULL, 0);
		if (k->kill_result.len && left)
			warn("%s", text);
		sbuf_reset(&k->kill_result);
		k->waits_kill = 0;
	}
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
