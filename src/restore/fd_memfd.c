/* memfd descriptors at restart: the object is shared memory (shm.c), made
 * once for the set; each descriptor is a new open file description of it
 * (its own offset), taken from the object's fixed descriptor through /proc. */
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/shm.h"
#include "common/log.h"
#include "image/kinds/fd_memfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int memfd_scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		      char *err, size_t errlen)
{
	const struct rst_image *img = &set->img[i];
	struct img_memfd m = {0};
	memcpy(&m, rst_fdx_payload(x), sizeof(m));
	if (rst_shm_note(set, i, &img->files[d->file], &m) < 0)
		return errf(err, errlen, "out of memory");
	return 0;
}

static int memfd_open(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	const struct img_file *f = &set->img[i].files[d->file];
	struct img_memfd m;
	char path[64];
	memcpy(&m, rst_fdx_payload(x), sizeof(m));
	int at = rst_obj_fd(set, IMG_FD_MEMFD, f->ino, f->dev, 0);
	if (at < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", at);
	int fd = open(path, (d->open_flags & (O_ACCMODE | O_APPEND | O_NONBLOCK)) | O_CLOEXEC);
	if (fd >= 0 && lseek(fd, m.pos, SEEK_SET) < 0 && m.pos)
		warn("cannot seek memfd fd %d to %llu: %s", d->fd, (unsigned long long)m.pos,
		     strerror(errno));
	return fd;
}

const struct rst_fd_kind rst_fd_memfd = {
    .type = IMG_FD_MEMFD, .scan = memfd_scan, .open = memfd_open};
