/* Helpers the event descriptor kinds share at restart. */
#include "restore/fd_evutil.h"
#include "restore/load.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int put_at(int fd, const struct img_fd *d)
{
	return dup3(fd, d->fd, (d->fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ? -1 : 0;
}

int rst_ev_replace(const struct rst_image *img, const struct img_fd *d, int fd)
{
	int rc = put_at(fd, d);
	for (uint32_t k = 0; rc == 0 && k < img->nfds; k++)
		if (img->fds[k].share == d->fd)
			rc = put_at(fd, &img->fds[k]);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
