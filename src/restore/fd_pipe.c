/* Pipes of the computation at restart: each is a shared object (objs.c),
 * made by the nearest common ancestor of its holders (PID 1 when they have
 * none), which writes the bytes in flight back into it before forking; every
 * holder then takes its end from the object's fixed descriptors. */
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

/* A pipe with its bytes in flight written back into it. */
static int create_pipe(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	(void)set;
	if (pipe2(fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	if (o->capacity)
		fcntl(fd[1], F_SETPIPE_SZ, o->capacity);
	if (o->len && write(fd[1], o->data, o->len) != (ssize_t)o->len)
		return -1;
	return fcntl(fd[0], F_SETFL, 0) < 0 || fcntl(fd[1], F_SETFL, 0) < 0 ? -1 : 0;
}

static int pipe_scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		     char *err, size_t errlen)
{
	const struct rst_image *img = &set->img[i];
	const struct img_file *f = &img->files[d->file];
	(void)x;
	struct rst_obj *o = rst_obj_get(set, IMG_FD_PIPE, f->ino, f->dev, i, create_pipe);
	if (!o)
		return errf(err, errlen, "out of memory");
	o->capacity = f->capacity;
	if (f->size && !o->len) { /* a read end's record holds the bytes */
		o->data = img->filedata + f->data_off;
		o->len = f->size;
	}
	return 0;
}

static int pipe_open(const struct rst_set *set, int i, const struct img_fd *d,
		     const struct img_fdx *x)
{
	const struct img_file *f = &set->img[i].files[d->file];
	(void)x;
	int at =
	    rst_obj_fd(set, IMG_FD_PIPE, f->ino, f->dev, (d->open_flags & O_ACCMODE) == O_WRONLY);
	int fd = at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFL, d->open_flags & O_NONBLOCK);
	return fd;
}

const struct rst_fd_kind rst_fd_pipe = {.type = IMG_FD_PIPE, .scan = pipe_scan, .open = pipe_open};
