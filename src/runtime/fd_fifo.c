/* FIFOs (named pipes) at checkpoint time: the path, and the bytes in flight,
 * copied with tee(2) from a read end opened for the purpose (through
 * /proc/self/fd, so that even a holder of the write end alone can) and left in
 * place. Every holder records them; the restorer writes them back once. */
#include "runtime/arena.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "common/io.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_fifo.h"
#include "runtime/fd_pipe.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int fifo_match(int fd, const char *link, const struct stat *st)
{
	(void)fd;
	return S_ISFIFO(st->st_mode) && strncmp(link, "pipe:", 5) != 0;
}

/* Copy the bytes in the FIFO to buf (at most cap), without taking them. */
static int fifo_peek(struct rt_fd_ctx *c, uint8_t *buf, uint64_t cap, uint64_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fd);
	int r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (r < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (FIFO %s): cannot open a read end to copy its contents",
			    getpid(), c->fd, c->link);
	int rc = rt_pipe_peek(r, buf, cap, len);
	close(r);
	if (rc < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (FIFO %s): cannot keep the bytes in flight: %s", getpid(),
			    c->fd, c->link, strerror(errno));
	return 0;
}

static int fifo_dump(struct rt_fd_ctx *c)
{
	size_t ll = strlen(c->link);
	if (ll > 10 && !strcmp(c->link + ll - 10, " (deleted)"))
		return errf(c->err, c->errlen,
			    "pid %d fd %d (FIFO %s): its path was removed: it cannot be opened "
			    "again; keep the FIFO in the file system while checkpointing",
			    getpid(), c->fd, c->link);
	uint64_t cap = (1u << 20) + sizeof(struct img_fifo);
	uint8_t *p = rt_alloc(cap);
	if (!p)
		return errf(c->err, c->errlen, "pid %d fd %d (FIFO %s): out of checkpoint memory",
			    getpid(), c->fd, c->link);
	struct img_fifo f = {.path_str = rt_str_add(c->tab, c->link),
			     .mode = c->st->st_mode,
			     .ino = c->st->st_ino,
			     .dev = c->st->st_dev,
			     .capacity = fcntl(c->fd, F_GETPIPE_SZ)};
	if (fifo_peek(c, p + sizeof(f), cap - sizeof(f), &f.data_len) < 0)
		return -1;
	memcpy(p, &f, sizeof(f));
	return rt_fd_record(c, IMG_FD_FIFO, f.ino, p, sizeof(f) + f.data_len);
}

const struct rt_fd_kind rt_fd_fifo = {"fifo", fifo_match, fifo_dump};
