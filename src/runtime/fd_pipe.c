/* Pipes of the computation at checkpoint (fd_pipe.h). Every process records
 * each pipe end it holds, by the pipe's inode; a read end's record keeps the
 * bytes in flight, copied without taking them. A pipe inherited from outside
 * is not one of these (fd_outside.c). */
#include "runtime/fd_pipe.h"
#include "runtime/fd_file.h"
#include "runtime/fd_outside.h"
#include "runtime/fdkinds.h"
#include "runtime/strtab.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int rt_pipe_peek(int fd, uint8_t *buf, uint64_t cap, uint64_t *len)
{
	int avail = 0, tp[2];
	*len = 0;
	if (ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0)
		return 0;
	if ((uint64_t)avail > cap) {
		errno = ENOSPC;
		return -1;
	}
	if (pipe2(tp, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	fcntl(tp[1], F_SETPIPE_SZ, fcntl(fd, F_GETPIPE_SZ));
	ssize_t n = tee(fd, tp[1], avail, SPLICE_F_NONBLOCK);
	ssize_t got = n > 0 ? read_full(tp[0], buf, n) : n;
	int e = got < 0 ? errno : EIO;
	close(tp[0]);
	close(tp[1]);
	if (got != avail) {
		errno = e;
		return -1;
	}
	*len = got;
	return 0;
}

/* The bytes in flight of the pipe fd reads, kept for record r. */
static int keep_contents(struct rt_fd_ctx *c, struct img_file *r)
{
	struct rt_files *f = c->files;
	uint8_t *room = rt_filedata_room(f, 0);
	uint64_t len;
	if (!room || rt_pipe_peek(c->fd, room, f->data_cap - f->data_len, &len) < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (pipe): cannot keep its bytes in flight: %s", getpid(),
			    c->fd, room ? strerror(errno) : "out of checkpoint memory");
	r->data_off = f->data_len;
	r->size = len;
	f->data_len += len;
	return 0;
}

/* The pipe's record (one per pipe, by inode; the data once): its index. */
static int pipe_record(struct rt_fd_ctx *c, int read_end)
{
	struct rt_files *f = c->files;
	int i = rt_file_find(f, c->st->st_dev, c->st->st_ino, IMG_FILE_PIPE);
	if (i >= 0)
		return i;
	struct img_file *r = rt_file_new(f);
	if (!r)
		return errf(c->err, c->errlen, "too many files (over %d)", RT_FILES_MAX);
	r->path_str = rt_str_add(c->tab, "pipe");
	r->flags = IMG_FILE_PIPE;
	r->ino = c->st->st_ino;
	r->dev = c->st->st_dev;
	r->capacity = fcntl(c->fd, F_GETPIPE_SZ);
	if (read_end && keep_contents(c, r) < 0) {
		f->n--;
		return -1;
	}
	return r - f->files;
}

static int pipe_match(int fd, const char *link, const struct stat *st)
{
	(void)fd;
	return S_ISFIFO(st->st_mode) && !strncmp(link, "pipe:", 5) && !rt_fd_inherited(st);
}

static int pipe_dump(struct rt_fd_ctx *c)
{
	c->e->type = IMG_FD_PIPE;
	c->e->file = pipe_record(c, (c->e->open_flags & O_ACCMODE) != O_WRONLY);
	return c->e->file < 0 ? -1 : 0;
}

const struct rt_fd_kind rt_fd_pipe = {"pipe", pipe_match, pipe_dump};
