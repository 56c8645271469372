/* pidfd (pidfd_open, CLONE_PIDFD): the process it refers to, which must be
 * this process or one of its descendants (those are the computation's: a
 * child that is not makes the checkpoint fail anyway). A pidfd of any other
 * process, or of one that has exited, fails the checkpoint. */
#include "runtime/fd_info.h"
#include "runtime/fdkinds.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_pidfd.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static int match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)st;
	return !strcmp(link, "anon_inode:[pidfd]");
}

/* The parent of pid (from /proc/PID/stat), or -1. */
static int parent_of(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
	if (f >= 0)
		close(f);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* comm may hold anything */
	int ppid;
	return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : -1;
}

static int is_self_or_descendant(int pid)
{
	int me = getpid();
	for (int hops = 0; pid > 1 && hops < 4096; hops++, pid = parent_of(pid))
		if (pid == me)
			return 1;
	return 0;
}

static int refuse(struct rt_fd_ctx *c, long long pid, const char *why)
{
	return errf(c->err, c->errlen,
		    "pid %d fd %d is a pidfd of process %lld, %s: not supported; close it before "
		    "checkpointing or see docs/supported.md",
		    getpid(), c->fd, pid, why);
}

static int dump(struct rt_fd_ctx *c)
{
	char info[1024];
	const char *v;
	long long pid;
	if (rt_fdinfo_read(c->fd, info, sizeof(info)) < 0 || !(v = rt_fdinfo_field(info, "Pid:")) ||
	    sscanf(v, "%lld", &pid) != 1)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (pidfd): cannot read its process from "
			    "/proc/self/fdinfo",
			    getpid(), c->fd);
	if (pid <= 0)
		return refuse(c, pid, "which has exited");
	if (!is_self_or_descendant(pid))
		return refuse(c, pid,
			      "which is not this process or one of its descendants (the "
			      "computation's)");
	struct img_pidfd p = {.pid = pid, .flags = c->e->open_flags & (O_NONBLOCK | PIDFD_THREAD)};
	return rt_fd_record(c, IMG_FD_PIDFD, 0, &p, sizeof(p));
}

const struct rt_fd_kind rt_fd_pidfd = {"pidfd", match, dump};
