/* epoll at restart: an empty epoll at `open`; its interest list in `late`,
 * once every descriptor of the process (and pidfds, pass 0) is in place. An
 * item whose fd number no longer held its target is added through that
 * number all the same (the number is its key in the kernel): the description
 * is put there for the call, and whatever held the number is put back. */
#include "restore/fd_evutil.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/fd_epoll.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

static int open_epoll(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	(void)set, (void)i, (void)d, (void)x;
	return epoll_create1(EPOLL_CLOEXEC);
}

#define EP_PRIVATE (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
#define EP_ANY                                                                                     \
	(EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND |   \
	 EPOLLMSG | EPOLLRDHUP)

/* A one-shot item whose event was taken keeps only its flags, but adding it
 * back with only flags arms it for EPOLLERR|EPOLLHUP (the kernel adds them).
 * So it is added armed for anything, and its event taken once more: that
 * leaves exactly its flags. Items of this kind go first, while nothing else
 * in the set could be reported. A target with nothing to report stays armed
 * for EPOLLERR|EPOLLHUP only. */
static int disarmed(const struct img_epoll_item *it)
{
	return !(it->events & ~EP_PRIVATE);
}

static int add(int ep, const struct img_epoll_item *it)
{
	struct epoll_event ev = {.events = it->events, .data.u64 = it->data}, got[64];
	if (!disarmed(it))
		return epoll_ctl(ep, EPOLL_CTL_ADD, it->tfd, &ev);
	ev.events |= EP_ANY;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, it->tfd, &ev) < 0)
		return -1;
	if (epoll_wait(ep, got, 64, 0) > 0)
		return 0;
	ev.events = it->events;
	return epoll_ctl(ep, EPOLL_CTL_MOD, it->tfd, &ev);
}

/* Add through it->tfd while it->src_fd's description sits there. */
static int add_borrowed(int ep, const struct img_epoll_item *it, int spare_from)
{
	int flags = fcntl(it->tfd, F_GETFD);
	int keep = flags < 0 ? -1 : fcntl(it->tfd, F_DUPFD_CLOEXEC, spare_from);
	if (flags >= 0 && keep < 0)
		return -1;
	int rc = dup2(it->src_fd, it->tfd) < 0 ? -1 : add(ep, it);
	int saved = errno;
	if (keep >= 0) {
		dup3(keep, it->tfd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
		close(keep);
	} else {
		close(it->tfd);
	}
	errno = saved;
	return rc;
}

/* fd is a stand-in for what was outside the computation (stdio, external) */
static int stands_in(const struct rst_image *img, int fd)
{
	for (uint32_t k = 0; k < img->nfds; k++)
		if (img->fds[k].fd == fd)
			return img->fds[k].type == IMG_FD_STDIO ||
			       img->fds[k].type == IMG_FD_EXTERNAL;
	return 0;
}

static int late_epoll(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	const struct img_epoll *h = rst_fdx_payload(x); /* its items fit: kinds/fd_epoll.c */
	const struct img_epoll_item *items = (const void *)(h + 1);
	/* a copy of our own: an item's number may be the epoll's own */
	int ep = fcntl(d->fd, F_DUPFD_CLOEXEC, set->top);
	if (ep < 0)
		return -1;
	for (uint32_t n = 0; n < 2 * h->nitems; n++) {
		const struct img_epoll_item *it = &items[n % h->nitems];
		if (disarmed(it) != (n < h->nitems))
			continue; /* disarmed one-shot items first */
		/* only the parent held the target, and the epoll was not taken from it */
		if (it->src_fd < 0) {
			error("pid %u fd %d (epoll): fd %d was watched through the epoll it shares "
			      "with its parent (pid %u), whose image is not being restarted: "
			      "restart the parent's image too",
			      set->img[i].proc->pid, d->fd, it->tfd, set->img[i].proc->ppid);
			close(ep);
			errno = EINVAL;
			return -1;
		}
		int rc = it->src_fd == it->tfd ? add(ep, it) : add_borrowed(ep, it, set->top);
		if (rc < 0 && errno == EPERM && stands_in(&set->img[i], it->src_fd)) {
			warn("pid %u fd %d (epoll): fd %d now leads to restart's own stdio or "
			     "/dev/null, which cannot be watched; it is left out",
			     set->img[i].proc->pid, d->fd, it->tfd);
			continue;
		}
		if (rc < 0) {
			int saved = errno;
			error("pid %u fd %d (epoll): cannot watch fd %d again (events %#x): %s",
			      set->img[i].proc->pid, d->fd, it->tfd, it->events, strerror(errno));
			close(ep);
			errno = saved;
			return -1;
		}
	}
	close(ep);
	return 0;
}

const struct rst_fd_kind rst_fd_epoll = {
    .type = IMG_FD_EPOLL, .open = open_epoll, .late = late_epoll, .late_pass = 1};
