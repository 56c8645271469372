/* Descriptors at restart: every saved fd at its number, with its flags and
 * offset; the restorer's own fds are moved above all of them first. */
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

#define KEEP_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_SYNC | O_DSYNC)

static int open_pipe_end(const struct rst_set *set, struct rst_image *img, const struct img_fd *d)
{
	const struct img_file *f = &img->files[d->file];
	int at =
	    rst_obj_fd(set, IMG_FD_PIPE, f->ino, f->dev, (d->open_flags & O_ACCMODE) == O_WRONLY);
	int fd = at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFL, d->open_flags & O_NONBLOCK);
	return fd;
}

static int open_kind(const struct rst_set *set, int i, const struct img_fd *d)
{
	const struct rst_fd_kind *kind = rst_fd_kind(d->type);
	if (!kind || !kind->open) {
		errno = ENOTSUP;
		return -1;
	}
	return kind->open(set, i, d, rst_fdx(&set->img[i], d));
}

static int open_new(const struct rst_set *set, int i, const struct img_fd *d, const int *std,
		    int coord_fd)
{
	struct rst_image *img = &set->img[i];
	int flags = d->open_flags & KEEP_FLAGS;
	switch (d->type) {
	case IMG_FD_PIPE:
		return open_pipe_end(set, img, d);
	case IMG_FD_STDIO:
		return fcntl(std[d->std], F_DUPFD_CLOEXEC, 0);
	case IMG_FD_RUNTIME:
		return coord_fd >= 0 ? fcntl(coord_fd, F_DUPFD_CLOEXEC, 0)
				     : open("/dev/null", O_RDWR);
	case IMG_FD_EXTERNAL:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	case IMG_FD_DIR:
		return rst_open_file(img, d->file, O_RDONLY | O_DIRECTORY);
	case IMG_FD_CHR:
		return rst_open_file(img, d->file, flags);
	case IMG_FD_REG: {
		int fd = rst_open_file(img, d->file, flags);
		if (fd >= 0 && (img->files[d->file].flags & IMG_FILE_DELETED)) {
			char p[64];
			snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
			int nfd = open(p, flags | O_CLOEXEC);
			close(fd);
			fd = nfd;
		}
		if (fd >= 0 && lseek(fd, d->pos, SEEK_SET) < 0 && d->pos)
			warn("cannot seek fd %d to %lld: %s", d->fd, (long long)d->pos,
			     strerror(errno));
		return fd;
	}
	}
	return open_kind(set, i, d);
}

int rst_fd_open(const struct rst_set *set, int i, const struct img_fd *d)
{
	const int std[3] = {set->base, set->base + 1, set->base + 2};
	return open_new(set, i, d, std, set->conn[i].coord_fd);
}

/* A description other processes hold too is taken where an ancestor made it. */
static int open_one(const struct rst_set *set, int i, const struct img_fd *d, const int *std,
		    int coord_fd)
{
	int slot = rst_share_slot(set, i, d);
	if (slot >= 0)
		return fcntl(slot, F_DUPFD_CLOEXEC, 0);
	return open_new(set, i, d, std, coord_fd);
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
	const int std[3] = {set->base, set->base + 1, set->base + 2};
	int coord_fd = set->conn[i].coord_fd;
	int *src = calloc(img->nfds + 1, sizeof(int));
	if (!src || keep_parent_shares(set, i, src) < 0)
		return -1;
	close_range(0, set->base - 1, 0);
	log_set_fd(set->base + 2);
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		int fd = src[k] >= 0	 ? fcntl(src[k], F_DUPFD_CLOEXEC, 0)
			 : d->share >= 0 ? fcntl(d->share, F_DUPFD_CLOEXEC, 0)
					 : open_one(set, i, d, std, coord_fd);
		if (fd < 0 || place(fd, d->fd, d->fd_flags) < 0)
			return error("cannot restore fd %d (%s) of pid %u: %s", d->fd,
				     img_fd_type_name(d->type), img->proc->pid, strerror(errno));
		if (src[k] >= 0)
			close(src[k]);
	}
	free(src);
	return 0;
}
