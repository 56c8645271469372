/* Descriptors at restart: every saved fd at its number, with its flags and
 * offset; the restorer's own fds are moved above all of them first. */
#include "restore/restore.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KEEP_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_SYNC | O_DSYNC)

static int open_one(struct rst_image *img, const struct img_fd *d, const int *std, int coord_fd)
{
	int flags = d->open_flags & KEEP_FLAGS;
	switch (d->type) {
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
	errno = EINVAL;
	return -1;
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

/* On return every fd below *close_from is the target's; *log_fd (above) is a copy
 * of our stderr for the blob's messages. */
int rst_fds(struct rst_image *img, int coord_fd, int *close_from, int *log_fd)
{
	int top = 10;
	int std[3];
	for (uint32_t i = 0; i < img->nfds; i++)
		if (img->fds[i].fd + 1 > top)
			top = img->fds[i].fd + 1;
	for (int i = 0; i < 3; i++) {
		std[i] = fcntl(i, F_DUPFD_CLOEXEC, top);
		if (std[i] < 0)
			std[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	*log_fd = fcntl(2, F_DUPFD_CLOEXEC, top);
	if (coord_fd >= 0)
		coord_fd = fd_move_above(coord_fd, top);
	img->r.fd = fd_move_above(img->r.fd, top);
	close_range(0, top - 1, 0);
	log_set_fd(*log_fd);
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fd *d = &img->fds[i];
		int fd = d->share >= 0 ? fcntl(d->share, F_DUPFD_CLOEXEC, 0)
				       : open_one(img, d, std, coord_fd);
		if (fd < 0 || place(fd, d->fd, d->fd_flags) < 0)
			return error("cannot restore fd %d (%s): %s", d->fd,
				     img_fd_type_name(d->type), strerror(errno));
	}
	*close_from = top;
	return 0;
}
