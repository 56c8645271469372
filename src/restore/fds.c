/* Descriptors at restart: every saved fd at its number, with its flags, made
 * by its kind (fdkinds.c) or taken from the parent or a dup; the restorer's
 * own fds are moved above all of them first. */
#include "restore/fds.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/mem.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "restore/shares.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rst_fd_open(const struct rst_set *set, int i, const struct img_fd *d)
{
	const struct rst_fd_kind *kind = rst_fd_kind(d->type);
	if (!kind || !kind->open) {
		errno = ENOTSUP;
		return -1;
	}
	return kind->open(set, i, d, rst_fdx(&set->img[i], d));
}

/* A description other processes hold too is taken where an ancestor made it. */
static int open_one(const struct rst_set *set, int i, const struct img_fd *d)
{
	int slot = rst_share_slot(set, i, d);
	if (slot >= 0)
		return fcntl(slot, F_DUPFD_CLOEXEC, 0);
	return rst_fd_open(set, i, d);
}

static int place(int fd, int at, uint32_t fd_flags)
{
	if (fd != at) {
		if (dup3(fd, at, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
			return -1;
		close(fd);
		return 0;
	}
	return fcntl(at, F_SETFD, fd_flags & FD_CLOEXEC);
}

/* In a child, the parent's descriptors are inherited at the parent's numbers:
 * keep a copy (above top) of each one this process shares, before the low
 * numbers are cleared. src[k] is the copy for image fd k, or -1. */
static int keep_parent_shares(struct rst_set *set, int i, int *src)
{
	const struct rst_image *img = &set->img[i];
	for (uint32_t k = 0; k < img->nfds; k++) {
		src[k] = -1;
		if (set->parent[i] < 0 || !img->fds[k].parent_fd1)
			continue;
		src[k] = fcntl(img->fds[k].parent_fd1 - 1, F_DUPFD_CLOEXEC, set->top);
		if (src[k] < 0)
			return error("pid %u: cannot take fd %u from its parent: %s",
				     img->proc->pid, img->fds[k].parent_fd1 - 1, strerror(errno));
	}
	return 0;
}

int rst_fds(struct rst_set *set, int i)
{
	struct rst_image *img = &set->img[i];
	int *src = calloc(img->nfds + 1, sizeof(int));
	if (!src || keep_parent_shares(set, i, src) < 0)
		return -1;
	close_range(0, set->base - 1, 0);
	log_set_fd(set->base + 2);
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		int fd = src[k] >= 0	 ? fcntl(src[k], F_DUPFD_CLOEXEC, 0)
			 : d->share >= 0 ? fcntl(d->share, F_DUPFD_CLOEXEC, 0)
					 : open_one(set, i, d);
		if (fd < 0 || place(fd, d->fd, d->fd_flags) < 0)
			return error("cannot restore fd %d (%s) of pid %u: %s", d->fd,
				     img_fd_type_name(d->type), img->proc->pid, strerror(errno));
		if (src[k] >= 0)
			close(src[k]);
	}
	free(src);
	return 0;
}
