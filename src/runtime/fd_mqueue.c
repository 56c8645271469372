/* POSIX message queue descriptors: name, attributes and the queued messages
 * with their priorities. There is no way to read a queue without taking the
 * messages, so they are drained and sent back at once, in the order they came
 * (priority, then arrival: the same order again), under an exclusive flock on
 * the queue so that two holders checkpointed together do not interleave. The
 * queue is whole again before anything is written: a checkpoint that fails
 * later loses nothing. */
#include "runtime/arena.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_mqueue.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

static int mq_match(int fd, const char *link, const struct stat *st)
{
	(void)link;
	return S_ISREG(st->st_mode) && rt_fd_fstype(fd, st) == MQUEUE_MAGIC;
}

/* A record for the queue's messages (in filedata). */
static int queue_record(struct rt_fd_ctx *c, const char *name)
{
	struct rt_files *f = c->files;
	struct img_file *r = rt_filedata_room(f, 0) ? rt_file_new(f) : NULL;
	if (!r)
		return errf(c->err, c->errlen, "too many files (over %d)", RT_FILES_MAX);
	r->path_str = rt_str_add(c->tab, name);
	r->flags = IMG_FILE_SAVED;
	r->ino = c->st->st_ino;
	r->dev = c->st->st_dev;
	r->mode = c->st->st_mode;
	r->data_off = f->data_len;
	return r - f->files;
}

/* Take every message out of q (a descriptor that can read), keeping them in
 * filedata, then send them back in the same order. */
static int drain_and_refill(struct rt_fd_ctx *c, int q, const struct mq_attr *a, struct img_file *r)
{
	struct rt_files *f = c->files;
	struct timespec now = {0, 0};
	uint64_t start = f->data_len;
	long n = 0;
	for (; n < a->mq_curmsgs; n++) {
		uint8_t *rec = rt_filedata_room(f, 8 + ((a->mq_msgsize + 7) & ~7ull));
		if (!rec)
			break;
		unsigned prio;
		ssize_t len = mq_timedreceive(q, (char *)rec + 8, a->mq_msgsize, &prio, &now);
		if (len < 0)
			break;
		uint32_t hdr[2] = {prio, (uint32_t)len};
		memcpy(rec, hdr, 8);
		f->data_len += 8 + ((len + 7) & ~7ull);
	}
	int lost = 0;
	for (uint64_t off = start; off < f->data_len;) {
		uint32_t hdr[2];
		memcpy(hdr, f->data + off, 8);
		if (mq_timedsend(q, (const char *)f->data + off + 8, hdr[1], hdr[0], &now) < 0)
			lost++;
		off += 8 + ((hdr[1] + 7ull) & ~7ull);
	}
	r->size = f->data_len - start;
	if (lost || n < a->mq_curmsgs)
		return errf(c->err, c->errlen,
			    "pid %d fd %d: cannot copy the %ld messages of queue %s (%ld "
			    "copied, %d not put back: %s)",
			    getpid(), c->fd, (long)a->mq_curmsgs, c->link, n, lost,
			    strerror(errno));
	return 0;
}

static int mq_dump(struct rt_fd_ctx *c)
{
	struct mq_attr a;
	char name[PATH_MAX], path[64];
	snprintf(name, sizeof(name), "%s", c->link);
	size_t len = strlen(name);
	int unlinked = len > 10 && !strcmp(name + len - 10, " (deleted)");
	if (unlinked)
		name[len - 10] = 0;
	if (mq_getattr(c->fd, &a) < 0)
		return errf(c->err, c->errlen, "pid %d fd %d: cannot read queue %s: %s", getpid(),
			    c->fd, name, strerror(errno));
	int idx = queue_record(c, name);
	if (idx < 0)
		return -1;
	/* our own reading descriptor, whatever the program's access mode */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fd);
	int q = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (q < 0)
		return errf(c->err, c->errlen, "pid %d fd %d: cannot open queue %s: %s", getpid(),
			    c->fd, name, strerror(errno));
	flock(q, LOCK_EX);
	mq_getattr(q, &a); /* the count as it is under the lock */
	int rc = drain_and_refill(c, q, &a, &c->files->files[idx]);
	flock(q, LOCK_UN);
	close(q);
	if (rc < 0)
		return -1;
	struct img_mqueue m = {.maxmsg = a.mq_maxmsg,
			       .msgsize = a.mq_msgsize,
			       .curmsgs = a.mq_curmsgs,
			       .unlinked = unlinked};
	c->e->file = idx;
	return rt_fd_record(c, IMG_FD_MQUEUE, c->st->st_ino, &m, sizeof(m));
}

const struct rt_fd_kind rt_fd_mqueue = {"mqueue", mq_match, mq_dump};
