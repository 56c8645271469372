/* eventfd at restart: one object per eventfd-id across the set (struct
 * rst_obj), so that processes sharing it without being parent and child
 * still share one counter; made with the counter written back. */
#include "restore/fd_evutil.h"
#include "restore/fdkinds.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/fd_eventfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int create(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	const struct img_fd *d = o->priv;
	const struct img_eventfd *p = (const struct img_eventfd *)o->data;
	(void)set;
	int flags = EFD_CLOEXEC | ((p->flags & IMG_EVENTFD_SEMAPHORE) ? EFD_SEMAPHORE : 0);
	fd[0] = eventfd(0, flags | EFD_NONBLOCK);
	if (fd[0] < 0)
		return -1;
	if (p->count && write(fd[0], &p->count, sizeof(p->count)) != sizeof(p->count))
		return -1;
	return fcntl(fd[0], F_SETFL, d->open_flags & O_NONBLOCK);
}

static int scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		char *err, size_t errlen)
{
	struct rst_obj *o = rst_obj_get(set, IMG_FD_EVENTFD, x->ino, 0, i, create);
	if (!o)
		return errf(err, errlen, "pid %u fd %d (eventfd): out of memory",
			    set->img[i].proc->pid, d->fd);
	o->priv = d;
	o->data = rst_fdx_payload(x);
	return 0;
}

static int open_eventfd(const struct rst_set *set, int i, const struct img_fd *d,
			const struct img_fdx *x)
{
	(void)i, (void)d;
	int at = rst_obj_fd(set, IMG_FD_EVENTFD, x->ino, 0, 0);
	return at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0);
}

const struct rst_fd_kind rst_fd_eventfd = {
    .type = IMG_FD_EVENTFD, .scan = scan, .open = open_eventfd};
