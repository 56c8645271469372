/* FIFOs at restart: one shared object per FIFO (objs.c), made by the nearest
 * common ancestor of its holders: the FIFO at its path (made again with
 * mkfifo if it is gone), opened read-write (which never blocks) with the bytes
 * in flight written back once. Each holder then opens the FIFO again through
 * that descriptor with its own access mode, so the bytes are there for it and
 * no open waits for a peer. */
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "restore/shm.h"
#include "common/io.h"
#include "common/log.h"
#include "image/kinds/fd_fifo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fobj {
	const char *path;
	uint32_t mode, capacity;
	const uint8_t *data;
	uint64_t len;
};

static int create_fifo(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	(void)set;
	const struct fobj *f = o->priv;
	struct stat st;
	if (lstat(f->path, &st) < 0 && errno == ENOENT)
		rst_make_parents(f->path);
	if (lstat(f->path, &st) < 0 && errno == ENOENT && mkfifo(f->path, f->mode & 07777) < 0)
		return error("cannot make FIFO %s again: %s", f->path, strerror(errno));
	int s = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s < 0)
		return error("cannot open FIFO %s again: %s", f->path, strerror(errno));
	fd[0] = s;
	if (fstat(s, &st) < 0 || !S_ISFIFO(st.st_mode))
		return error("%s is no longer a FIFO: move what is there away and restart again",
			     f->path);
	if (f->capacity)
		fcntl(s, F_SETPIPE_SZ, f->capacity);
	if (f->len && write(s, f->data, f->len) != (ssize_t)f->len)
		return error("cannot put back the %llu bytes in flight in FIFO %s: %s",
			     (unsigned long long)f->len, f->path, strerror(errno));
	return 0;
}

static int fifo_scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		     char *err, size_t errlen)
{
	(void)d;
	const struct img_fifo *r = rst_fdx_payload(x);
	const struct rst_image *img = &set->img[i];
	struct rst_obj *o = rst_obj_get(set, IMG_FD_FIFO, r->ino, r->dev, i, create_fifo);
	struct fobj *f = o ? (struct fobj *)o->priv : NULL;
	if (o && !f && (f = calloc(1, sizeof(*f))))
		*f = (struct fobj){rst_str(img, r->path_str), r->mode, r->capacity, NULL, 0};
	if (!f)
		return errf(err, errlen, "out of memory");
	o->priv = f;
	if (!f->len && r->data_len) { /* every holder recorded the same bytes: once */
		f->data = (const uint8_t *)(r + 1);
		f->len = r->data_len;
	}
	return 0;
}

static int fifo_open(const struct rst_set *set, int i, const struct img_fd *d,
		     const struct img_fdx *x)
{
	(void)i;
	const struct img_fifo *r = rst_fdx_payload(x);
	char path[64];
	int at = rst_obj_fd(set, IMG_FD_FIFO, r->ino, r->dev, 0);
	if (at < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", at);
	int fd = open(path, (d->open_flags & (O_ACCMODE | O_APPEND)) | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		fcntl(fd, F_SETFL, d->open_flags & (O_NONBLOCK | O_APPEND));
	return fd;
}

const struct rst_fd_kind rst_fd_fifo = {IMG_FD_FIFO, fifo_scan, fifo_open, NULL};
