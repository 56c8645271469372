/* The descriptor kinds beyond files and pipes, each defined in its own module
 * (fd_KIND.c); this table is the one place that lists them. */
#include "runtime/fdkinds.h"

#include <stddef.h>

extern const struct rt_fd_kind rt_fd_eventfd, rt_fd_timerfd, rt_fd_signalfd, rt_fd_epoll,
    rt_fd_inotify, rt_fd_pidfd, rt_fd_memfd, rt_fd_mqueue, rt_fd_unix, rt_fd_inet, rt_fd_fifo,
    rt_fd_kind_tty;

static const struct rt_fd_kind *const kinds[] = {
    &rt_fd_eventfd, &rt_fd_timerfd, &rt_fd_signalfd, &rt_fd_epoll, &rt_fd_inotify, &rt_fd_pidfd,
    &rt_fd_memfd,   &rt_fd_mqueue,  &rt_fd_unix,     &rt_fd_inet,  &rt_fd_fifo,	   &rt_fd_kind_tty,
    NULL,
};

int rt_fd_kinds_dump(struct rt_fd_ctx *c)
{
	for (size_t k = 0; kinds[k]; k++) {
		if (!kinds[k]->match(c->fd, c->link, c->st))
			continue;
		return kinds[k]->dump(c) < 0 ? -1 : 1;
	}
	return 0;
}
