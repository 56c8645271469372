/* epoll: the whole interest list, from fdinfo ("tfd: events: data:"). An item
 * is keyed by its target's open file description and the fd number it was
 * added with; that number may since have been closed, or reused for another
 * file, while the description lives on under another fd. kcmp(KCMP_EPOLL_TFD)
 * finds an fd of this process with the target's description (the item's own
 * number first); the restorer puts that description at the item's number just
 * long enough to add it. A target no fd of this process holds any more, and
 * the runtime's own coordinator connection, fail the checkpoint; unless the
 * epoll is shared with the parent (inherited across fork) and the parent takes
 * part: the restorer then takes the epoll from the parent, whose own record
 * has the item. A forked child that closes what its parent still watches is
 * common (redis's BGSAVE child closes the listening sockets). */
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/fd_info.h"
#include "runtime/fd_sock.h"
#include "runtime/fdkinds.h"
#include "runtime/state.h"
#include "runtime/fds.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_epoll.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EP_INFO_MAX (16u << 20) /* about 200000 items */

static int match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)st;
	return !strcmp(link, "anon_inode:[eventpoll]");
}

static int holds_target(int epfd, int tfd, int toff, int cand)
{
	struct kcmp_epoll_slot slot = {.efd = epfd, .tfd = tfd, .toff = toff};
	pid_t pid = getpid();
	return syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, cand, &slot) == 0;
}

/* An fd of ours with the item's target description, or -1. */
static int find_source(int epfd, int tfd, int toff, const int *fds, int nfds)
{
	if (holds_target(epfd, tfd, toff, tfd))
		return tfd;
	for (int k = 0; k < nfds; k++)
		if (fds[k] != epfd && holds_target(epfd, tfd, toff, fds[k]))
			return fds[k];
	return -1;
}

/* epfd is an open file description our parent (of the checkpoint) holds too
 * (1), not (0), or -1 without the memory to tell. */
static int shared_with_parent(int epfd)
{
	pid_t pid = getpid(), ppid = getppid();
	char dir[64], path[96], link[64];
	if (!rt_is_member(ppid))
		return 0;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", ppid);
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	if (!fds)
		return -1;
	int n = rt_list_numeric(dir, fds, RT_FDS_MAX, NULL);
	for (int k = 0; k < n; k++) {
		snprintf(path, sizeof(path), "%s/%d", dir, fds[k]);
		ssize_t l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (!strcmp(link, "anon_inode:[eventpoll]") &&
		    syscall(SYS_kcmp, ppid, pid, KCMP_FILE, fds[k], epfd) == 0)
			return 1;
	}
	return 0;
}

static int count_items(const char *info)
{
	int n = 0;
	for (const char *p = info; (p = rt_fdinfo_field(p, "tfd:")); n++)
		;
	return n;
}

static int same_tfd_before(const struct img_epoll_item *items, int n, int tfd)
{
	int k = 0;
	for (int j = 0; j < n; j++)
		k += items[j].tfd == tfd;
	return k;
}

static int item_error(struct rt_fd_ctx *c, const struct img_epoll_item *it, const char *why)
{
	return errf(c->err, c->errlen,
		    "pid %d fd %d (epoll) watches fd %d (events %#x), %s: not supported; remove it "
		    "from the epoll set (EPOLL_CTL_DEL) before checkpointing",
		    getpid(), c->fd, it->tfd, it->events, why);
}

static int parse_items(struct rt_fd_ctx *c, const char *info, struct img_epoll_item *items, int n)
{
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	int nfds = fds ? rt_list_own_fds(fds, RT_FDS_MAX, NULL) : -1;
	const char *p = info;
	if (!fds)
		return snprintf(c->err, c->errlen, "pid %d fd %d (epoll): out of checkpoint memory",
				getpid(), c->fd),
		       -1;
	int parents = -1; /* shared_with_parent(), once it is needed */
	for (int i = 0; i < n; i++) {
		struct img_epoll_item *it = &items[i];
		unsigned long long data;
		p = rt_fdinfo_field(p, "tfd:");
		memset(it, 0, sizeof(*it));
		if (!p || sscanf(p, "%d events: %x data: %llx", &it->tfd, &it->events, &data) != 3)
			return errf(c->err, c->errlen,
				    "pid %d fd %d (epoll): cannot parse its interest list in "
				    "/proc/self/fdinfo",
				    getpid(), c->fd);
		it->data = data;
		it->src_fd = find_source(c->fd, it->tfd, same_tfd_before(items, i, it->tfd), fds,
					 nfds < 0 ? 0 : nfds);
		if (it->src_fd < 0 && parents < 0 && (parents = shared_with_parent(c->fd)) < 0)
			return snprintf(c->err, c->errlen,
					"pid %d fd %d (epoll): out of checkpoint memory", getpid(),
					c->fd),
			       -1;
		if (it->src_fd < 0 && !parents)
			return item_error(c, it,
					  "a file no descriptor of this process holds any more");
		if (it->src_fd == rt.coord_fd)
			return item_error(c, it, "the runtime's own coordinator connection");
	}
	return 0;
}

static int dump(struct rt_fd_ctx *c)
{
	char *info = rt_alloc(EP_INFO_MAX);
	if (!info || rt_fdinfo_read(c->fd, info, EP_INFO_MAX) < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (epoll): cannot read its interest list from "
			    "/proc/self/fdinfo: %s",
			    getpid(), c->fd, info ? strerror(errno) : "out of memory");
	int n = count_items(info);
	uint32_t len = sizeof(struct img_epoll) + n * sizeof(struct img_epoll_item);
	struct img_epoll *p = rt_alloc(len);
	if (!p)
		return errf(c->err, c->errlen, "pid %d fd %d (epoll): out of memory", getpid(),
			    c->fd);
	*p = (struct img_epoll){.nitems = n};
	if (parse_items(c, info, (struct img_epoll_item *)(p + 1), n) < 0)
		return -1;
	return rt_fd_record(c, IMG_FD_EPOLL, 0, p, len);
}

const struct rt_fd_kind rt_fd_epoll = {"epoll", match, dump};
