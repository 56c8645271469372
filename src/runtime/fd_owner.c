/* Signal-driven I/O of the program's descriptors (fd_owner.h). */
#include "runtime/fd_owner.h"
#include "common/log.h"
#include "runtime/fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct fd_owner {
	int32_t fd;
	int32_t type; /* F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP */
	int32_t pid;  /* 0: none */
	int32_t sig;  /* F_SETSIG, 0: SIGIO */
	int32_t async;
};

/* In the runtime's memory, restored with it: untouched pages cost nothing. */
static struct fd_owner owners[RT_FDS_MAX];
static uint32_t nowners;

void rt_fd_owner_reset(void)
{
	nowners = 0;
}

void rt_fd_owner_note(int fd, int open_flags)
{
	struct f_owner_ex o = {0};
	if (fcntl(fd, F_GETOWN_EX, &o) < 0)
		o.pid = 0;
	int async = !!(open_flags & O_ASYNC);
	int sig = async || o.pid ? fcntl(fd, F_GETSIG) : 0;
	if ((!async && !o.pid && sig <= 0) || nowners >= RT_FDS_MAX)
		return;
	owners[nowners++] = (struct fd_owner){fd, o.type, o.pid, sig > 0 ? sig : 0, async};
}

static const char *owner_kind(int type)
{
	return type == F_OWNER_TID ? "thread" : type == F_OWNER_PGRP ? "process group" : "process";
}

void rt_fd_owner_restore(void)
{
	for (uint32_t k = 0; k < nowners; k++) {
		const struct fd_owner *w = &owners[k];
		struct f_owner_ex o = {.type = (enum __pid_type)w->type, .pid = w->pid};
		if (w->pid && fcntl(w->fd, F_SETOWN_EX, &o) < 0)
			warn(
			    "pid %d fd %d: cannot give its signal-driven I/O back to %s %d: %s (it "
			    "is not in the restarted computation?); the descriptor has no owner",
			    getpid(), w->fd, owner_kind(w->type), w->pid, strerror(errno));
		if (w->sig && fcntl(w->fd, F_SETSIG, w->sig) < 0)
			warn("pid %d fd %d: cannot set its I/O signal %d again: %s", getpid(),
			     w->fd, w->sig, strerror(errno));
		int fl = w->async ? fcntl(w->fd, F_GETFL) : 0;
		if (w->async && (fl < 0 || fcntl(w->fd, F_SETFL, fl | O_ASYNC) < 0))
			warn("pid %d fd %d: cannot set O_ASYNC again: %s", getpid(), w->fd,
			     strerror(errno));
	}
}
