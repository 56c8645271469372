/* Descriptors that stood for the outside, at restart: restart's own stdin,
 * stdout or stderr (the computation's terminal or pipes to outside), the
 * coordinator connection the restorer joined with, and /dev/null for a pipe
 * or socket that came from outside. */
#include "restore/fdkinds.h"
#include "restore/set.h"

#include <fcntl.h>

static int open_stdio(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	(void)i, (void)x;
	return fcntl(set->base + d->std, F_DUPFD_CLOEXEC, 0);
}

static int open_runtime(const struct rst_set *set, int i, const struct img_fd *d,
			const struct img_fdx *x)
{
	int coord_fd = set->conn[i].coord_fd;
	(void)d, (void)x;
	return coord_fd >= 0 ? fcntl(coord_fd, F_DUPFD_CLOEXEC, 0) : open("/dev/null", O_RDWR);
}

static int open_external(const struct rst_set *set, int i, const struct img_fd *d,
			 const struct img_fdx *x)
{
	(void)set, (void)i, (void)d, (void)x;
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

const struct rst_fd_kind rst_fd_stdio = {.type = IMG_FD_STDIO, .open = open_stdio};
const struct rst_fd_kind rst_fd_runtime = {.type = IMG_FD_RUNTIME, .open = open_runtime};
const struct rst_fd_kind rst_fd_external = {.type = IMG_FD_EXTERNAL, .open = open_external};
