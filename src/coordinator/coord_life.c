/* The coordinator's lifetime: with --exit-on-last it exits once nothing uses
 * it (no connection of any kind, no checkpoint) and its grace has passed; the
 * lock that names the computation it serves; its log file as a daemon.
 *
 * Exiting never loses a client: the coordinator takes a last look at its
 * backlog, then removes its token and closes its listening socket, in that
 * order. A client that connected in between is reset before any challenge
 * (proto_client_connect: ECONNABORTED) and starts a new coordinator, which can
 * bind the port only once the old one has closed it, after its token is gone. */
#include "common/complock.h"
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void life_linger(struct coord *c, long long ms)
{
	long long t = now_ms() + ms;
	if (t > c->linger_until_ms)
		c->linger_until_ms = t;
}

/* A connection (a process, a client in the middle of a command, a launch or a
 * restart holding the coordinator) or a checkpoint keeps the coordinator. */
static int in_use(const struct coord *c)
{
	for (const struct conn *k = c->conns; k; k = k->next)
		if (k->state != CONN_DEAD)
			return 1;
	return ckpt_busy(c);
}

void life_stop_listening(struct coord *c)
{
	if (c->token_path[0])
		unlink(c->token_path);
	c->token_path[0] = 0;
	if (c->listen_fd >= 0) {
		if (c->loop)
			loop_del_fd(c->loop, c->listen_fd, LOOP_READ);
		close(c->listen_fd);
	}
	c->listen_fd = -1;
	portlock_release(c->port, c->port_lock_fd); /* another may listen on the port now */
	c->port_lock_fd = -1;
}

static long long exit_fired(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	c->exit_timer = 0;
	if (in_use(c))
		return LOOP_NOMORE;
	long long left = c->linger_until_ms - now_ms();
	if (left > 0) {
		c->exit_timer = id;
		return left;
	}
	conn_accept(l, c->listen_fd, c, LOOP_READ); /* a client that just connected is served */
	if (in_use(c))
		return LOOP_NOMORE;
	debug("no process, no client, nothing on its way: exiting");
	life_stop_listening(c);
	loop_stop(l);
	return LOOP_NOMORE;
}

void life_check_exit(struct coord *c)
{
	if (!c->opts.exit_on_last)
		return;
	if (in_use(c)) {
		if (c->exit_timer)
			loop_del_timer(c->loop, c->exit_timer);
		c->exit_timer = 0;
		return;
	}
	if (!c->exit_timer) {
		long long left = c->linger_until_ms - now_ms();
		c->exit_timer = loop_add_timer(c->loop, left > 0 ? left : 0, exit_fired, c);
	}
}

/* This coordinator serves comp_id from now on: take its lock. Refused (-1, the
 * reason in err) when another coordinator serves it. */
int life_adopt(struct coord *c, uint64_t comp_id, char *err, size_t errlen)
{
	struct complock_holder h;
	int fd;
	if (c->lock_fd >= 0 && c->locked_comp == comp_id)
		return 0;
	life_release(c);
	if (complock_take(comp_id, c->port, &fd, &h) == 0) {
		c->lock_fd = fd;
		c->locked_comp = comp_id;
		return 0;
	}
	if (errno != EWOULDBLOCK) { /* no lock file: serve it all the same */
		warn("cannot lock computation %016llx in the run directory: %s",
		     (unsigned long long)comp_id, strerror(errno));
		return 0;
	}
	if (!h.port)
		return errf(err, errlen,
			    "computation %016llx is already served by another coordinator",
			    (unsigned long long)comp_id);
	return errf(err, errlen,
		    "computation %016llx is already running under the coordinator on port %u "
		    "(pid %d): end it first with 'stasis kill -p %u'",
		    (unsigned long long)comp_id, h.port, h.pid, h.port);
}

void life_release(struct coord *c)
{
	complock_release(c->locked_comp, c->lock_fd);
	c->lock_fd = -1;
	c->locked_comp = 0;
}

#define LOG_MAX (1 << 20) /* a larger log is moved to .log.1 when a daemon starts */

/* A daemon's stderr, or a coordinator's given --log-file: that file, else
 * <rundir>/coord-<port>.log (what failed periodic checkpoints say); its path
 * in c->log_path. */
int life_open_log(struct coord *c)
{
	char old[PATH_MAX + 8];
	struct stat st;
	if (!c->log_path[0]) { /* not --log-file */
		if (proto_run_file(c->port, "coord", c->log_path, sizeof(c->log_path) - 4) < 0)
			return -1;
		strcat(c->log_path, ".log");
	}
	if (stat(c->log_path, &st) == 0 && st.st_size > LOG_MAX) {
		snprintf(old, sizeof(old), "%s.1", c->log_path);
		rename(c->log_path, old);
	}
	int fd = open(c->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		c->log_path[0] = 0;
		return -1;
	}
	dup2(fd, 2);
	close(fd);
	log_set_timestamps(1);
	return 0;
}
