/* POSIX message queues at restart: each queue (by its old inode) is one
 * struct rst_obj, created by the nearest common ancestor of its holders in the
 * restart's IPC namespace with its name, attributes and messages (in their
 * order, with their priorities), and unlinked again if it was; every holder
 * opens its own description of it through /proc, with its access mode. */
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/fd_mqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct mq_desc {
	const char *name;
	struct img_mqueue m;
	uint32_t mode;
};

static int send_all(int q, const uint8_t *p, uint64_t len)
{
	const uint8_t *end = p + len;
	while (end - p >= 8) {
		uint32_t hdr[2];
		memcpy(hdr, p, 8);
		if (hdr[1] > (uint64_t)(end - p) - 8)
			return errno = EINVAL, -1;
		if (mq_send(q, (const char *)p + 8, hdr[1], hdr[0]) < 0)
			return -1;
		p += 8 + ((hdr[1] + 7ull) & ~7ull);
	}
	return 0;
}

static int mq_create(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	const struct mq_desc *d = o->priv;
	struct mq_attr a = {.mq_maxmsg = d->m.maxmsg, .mq_msgsize = d->m.msgsize};
	(void)set;
	int q = mq_open(d->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, d->mode & 0777, &a);
	if (q < 0)
		return error("cannot recreate message queue %s: %s", d->name, strerror(errno));
	if (send_all(q, o->data, o->len) < 0 || (d->m.unlinked && mq_unlink(d->name) < 0)) {
		error("cannot refill message queue %s: %s", d->name, strerror(errno));
		close(q);
		return -1;
	}
	fd[0] = q;
	return 0;
}

static int mq_scan(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		   char *err, size_t errlen)
{
	const struct rst_image *img = &set->img[i];
	const struct img_file *f = &img->files[d->file];
	struct rst_obj *o = rst_obj_get(set, IMG_FD_MQUEUE, f->ino, f->dev, i, mq_create);
	if (!o)
		return errf(err, errlen, "out of memory");
	if (!o->priv) {
		struct mq_desc *m = calloc(1, sizeof(*m));
		if (!m)
			return errf(err, errlen, "out of memory");
		m->name = rst_str(img, f->path_str);
		m->mode = f->mode;
		memcpy(&m->m, rst_fdx_payload(x), sizeof(m->m));
		o->priv = m;
		o->data = img->filedata + f->data_off;
		o->len = f->size;
	}
	return 0;
}

static int mq_open_fd(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	const struct img_file *f = &set->img[i].files[d->file];
	char path[64];
	(void)x;
	int at = rst_obj_fd(set, IMG_FD_MQUEUE, f->ino, f->dev, 0);
	if (at < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", at);
	return open(path, (d->open_flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC);
}

const struct rst_fd_kind rst_fd_mqueue = {
    .type = IMG_FD_MQUEUE, .scan = mq_scan, .open = mq_open_fd};
