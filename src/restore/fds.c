/* Descriptors at restart: every saved fd at its number, with its flags, made
 * by its kind (fdkinds.c) or taken from the parent or a dup; the restorer's
 * own fds are moved above all of them first. */
#include "restore/fds.h"
#include "restore/fd_file.h"
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

#define IN_PLACE (-2) /* src[k]: inherited at its own number, kept there */

/* In a child, the parent's descriptors are inherited at the parent's numbers.
 * One this process holds at the same number (the usual inheritance) stays
 * where it is; of each other one it shares, a copy is kept above top before
 * the low numbers are cleared. src[k] is the copy for image fd k, IN_PLACE,
 * or -1. */
static int keep_parent_shares(struct rst_set *set, int i, int *src)
{
	const struct rst_image *img = &set->img[i];
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		src[k] = -1;
		if (set->parent[i] < 0 || !d->parent_fd1)
			continue;
		int from = d->parent_fd1 - 1;
		src[k] = from == d->fd && from < set->base ? IN_PLACE
							   : fcntl(from, F_DUPFD_CLOEXEC, set->top);
		if (src[k] == -1)
			return error("pid %u: cannot take fd %d from its parent: %s",
				     img->proc->pid, from, strerror(errno));
	}
	return 0;
}

/* Close what the restorer holds below base but the descriptors kept in place
 * (image fds in increasing order). */
static void clear_low(const struct rst_set *set, const struct rst_image *img, const int *src)
{
	unsigned from = 0;
	for (uint32_t k = 0; k < img->nfds; k++) {
		unsigned fd = (unsigned)img->fds[k].fd;
		if (src[k] != IN_PLACE)
			continue;
		if (fd > from)
			close_range(from, fd - 1, 0);
		from = fd + 1;
	}
	if ((int)from < set->base)
		close_range(from, set->base - 1, 0);
}

/* An inherited descriptor kept at its number: with its own close-on-exec flag. */
static int keep_in_place(const struct img_fd *d)
{
	int now = fcntl(d->fd, F_GETFD);
	if (now < 0)
		return -1; /* the parent does not hold it: the image is wrong */
	if ((now & FD_CLOEXEC) == (int)(d->fd_flags & FD_CLOEXEC))
		return 0;
	return fcntl(d->fd, F_SETFD, d->fd_flags & FD_CLOEXEC);
}

/* Image fd d, not kept in place: from its copy of the parent's (src), from a
 * lower dup of its own, or made by its kind. */
static int restore_one(const struct rst_set *set, int i, const struct img_fd *d, int src)
{
	int cloexec = (d->fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0;
	if (src >= 0) {
		int rc = dup3(src, d->fd, cloexec);
		close(src);
		return rc < 0 ? -1 : 0;
	}
	if (d->share >= 0)
		return dup3(d->share, d->fd, cloexec) < 0 ? -1 : 0;
	int fd = open_one(set, i, d); /* lands at d->fd when every lower one is in place */
	return fd < 0 ? -1 : place(fd, d->fd, d->fd_flags);
}

int rst_fds(struct rst_set *set, int i)
{
	struct rst_image *img = &set->img[i];
	int *src = calloc(img->nfds + 1, sizeof(int));
	if (!src || keep_parent_shares(set, i, src) < 0)
		return -1;
	clear_low(set, img, src);
	log_set_fd(set->base + 2);
	rst_file_dir_slot(set->base - 1); /* above every image's descriptors */
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		int rc = src[k] == IN_PLACE ? keep_in_place(d) : restore_one(set, i, d, src[k]);
		if (rc < 0) {
			rst_file_dir_slot(-1);
			return error("cannot restore fd %d (%s) of pid %u: %s", d->fd,
				     img_fd_type_name(d->type), img->proc->pid, strerror(errno));
		}
	}
	rst_file_dir_slot(-1);
	free(src);
	return 0;
}
