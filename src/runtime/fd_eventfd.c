/* eventfd: its counter and EFD_SEMAPHORE, from fdinfo (EFD_NONBLOCK is the
 * description's O_NONBLOCK, kept in img_fd.open_flags). The kernel's
 * eventfd-id names it across the processes of a checkpoint, so that one
 * shared by several processes comes back as one. */
#include "runtime/fd_info.h"
#include "runtime/fdkinds.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_eventfd.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)st;
	return !strcmp(link, "anon_inode:[eventfd]");
}

static int dump(struct rt_fd_ctx *c)
{
	char info[1024];
	unsigned long long count, id, sem;
	if (rt_fdinfo_read(c->fd, info, sizeof(info)) < 0 ||
	    rt_fdinfo_u64(info, "eventfd-count:", 16, &count) < 0 ||
	    rt_fdinfo_u64(info, "eventfd-id:", 10, &id) < 0 ||
	    rt_fdinfo_u64(info, "eventfd-semaphore:", 10, &sem) < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (eventfd): cannot read its counter from "
			    "/proc/self/fdinfo (needs Linux 6.6 or later)",
			    getpid(), c->fd);
	struct img_eventfd p = {.count = count, .flags = sem ? IMG_EVENTFD_SEMAPHORE : 0};
	return rt_fd_record(c, IMG_FD_EVENTFD, id, &p, sizeof(p));
}

const struct rt_fd_kind rt_fd_eventfd = {"eventfd", match, dump};
