/* signalfd: its mask (fdinfo "sigmask"); flags are the description's. The
 * runtime's checkpoint signal is kept out of every signalfd mask the program
 * sets (wrapper below), so that no signalfd read can take it from the
 * runtime's handler. Pending signals are the runtime's business already
 * (sigqueue.c). */
#include "runtime/fd_info.h"
#include "runtime/fdkinds.h"
#include "runtime/state.h"
#include "runtime/libc.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_signalfd.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)st;
	return !strcmp(link, "anon_inode:[signalfd]");
}

static int dump(struct rt_fd_ctx *c)
{
	char info[1024];
	unsigned long long mask;
	if (rt_fdinfo_read(c->fd, info, sizeof(info)) < 0 ||
	    rt_fdinfo_u64(info, "sigmask:", 16, &mask) < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (signalfd): cannot read its mask from "
			    "/proc/self/fdinfo",
			    getpid(), c->fd);
	struct img_signalfd p = {.sigmask = mask};
	return rt_fd_record(c, IMG_FD_SIGNALFD, 0, &p, sizeof(p));
}

const struct rt_fd_kind rt_fd_signalfd = {"signalfd", match, dump};

EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	sigset_t copy;
	if (rt.enabled && rt.sig > 0 && sigismember(mask, rt.sig)) {
		copy = *mask;
		sigdelset(&copy, rt.sig);
		mask = &copy;
	}
	return REAL(signalfd)(fd, mask, flags);
}
