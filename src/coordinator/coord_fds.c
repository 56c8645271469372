/* The coordinator's descriptors: one per connected process. At start the
 * soft RLIMIT_NOFILE goes up to the hard limit. When accept fails for want
 * of descriptors (or memory), the listening socket is not watched for
 * ACCEPT_PAUSE_MS: the connections wait in its backlog and are taken once
 * descriptors free, instead of a loop that fails at once again; the first
 * failure of such an episode is said, with the limit and what to do. One
 * descriptor (/dev/null) is kept in reserve, closed while the restart script
 * is written, so that a full table does not fail a checkpoint. */
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define ACCEPT_PAUSE_MS 100

void fds_setup(struct coord *c)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		rlim_t was = r.rlim_cur;
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			warn("cannot raise the descriptor limit from %llu to %llu: %s; at most "
			     "about %llu processes can connect",
			     (unsigned long long)was, (unsigned long long)r.rlim_max,
			     strerror(errno), (unsigned long long)was);
	}
	fds_reserve(c);
}

void fds_reserve(struct coord *c)
{
	if (c->reserve_fd < 0)
		c->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void fds_release(struct coord *c)
{
	if (c->reserve_fd >= 0)
		close(c->reserve_fd);
	c->reserve_fd = -1;
}

static long long resume(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	(void)id;
	fds_reserve(c); /* if it was lost: first */
	if (c->reserve_fd < 0)
		return ACCEPT_PAUSE_MS;
	c->accept_timer = 0;
	if (c->listen_fd >= 0 && loop_add_fd(l, c->listen_fd, LOOP_READ, conn_accept, c) < 0)
		warn("cannot watch port %u for connections again: %s", c->port, strerror(errno));
	return LOOP_NOMORE;
}

static void say_why(struct coord *c, int err)
{
	struct rlimit r = {0};
	getrlimit(RLIMIT_NOFILE, &r);
	if (err == EMFILE)
		warn("cannot accept a connection on port %u: %s (%d processes connected, limit "
		     "%llu descriptors): the others wait until descriptors free; for more "
		     "processes raise the hard limit of the coordinator (ulimit -Hn, as root; at "
		     "most /proc/sys/fs/nr_open)",
		     c->port, strerror(err), c->nprocs, (unsigned long long)r.rlim_cur);
	else
		warn("cannot accept a connection on port %u: %s (%d processes connected): the "
		     "others wait until %s frees",
		     c->port, strerror(err), c->nprocs,
		     err == ENFILE ? "the system's file table (fs.file-max)" : "memory");
}

int fds_accept_failed(struct coord *c, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return 0;
	if (!c->accept_failing++)
		say_why(c, err);
	if (c->accept_timer)
		return 1;
	c->accept_timer = loop_add_timer(c->loop, ACCEPT_PAUSE_MS, resume, c);
	if (c->accept_timer > 0)
		loop_del_fd(c->loop, c->listen_fd, LOOP_READ);
	else
		c->accept_timer = 0; /* no timer to resume: go on trying */
	return 1;
}

void fds_accepted(struct coord *c)
{
	if (c->accept_failing)
		log_msg(NULL, "accepting connections on port %u again (%d processes connected)",
			c->port, c->nprocs);
	c->accept_failing = 0;
}
