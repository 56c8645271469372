/* POSIX message queues: their payload checked and described (fd_mqueue.h). */
#include "image/kinds/fd_mqueue.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <string.h>

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_fd *d = &v->fds[i];
	(void)rec, (void)len;
	if (d->file < 0 || !(v->files[d->file].flags & IMG_FILE_SAVED))
		return errf(why, whylen, "it has no queue");
	return 0;
}

/* The queued messages, from the descriptor's saved file. */
static void messages(const struct img_view *v, const struct img_file *f, struct img_out *o)
{
	const uint8_t *p = v->filedata + f->data_off;
	out_begin_list(o, "messages");
	for (uint64_t off = 0; f->size - off >= 8;) {
		uint32_t prio, len;
		memcpy(&prio, p + off, 4);
		memcpy(&len, p + off + 4, 4);
		if (len > f->size - off - 8)
			break;
		out_begin_object(o, NULL);
		out_u64(o, "prio", prio);
		out_bytes(o, "data", p + off + 8, len);
		out_end(o, 0);
		off += (8 + (uint64_t)len + 7) & ~7ull;
	}
	out_end(o, 1);
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_mqueue *m = rec;
	(void)len;
	out_i64(o, "maxmsg", m->maxmsg);
	out_i64(o, "msgsize", m->msgsize);
	out_i64(o, "curmsgs", m->curmsgs);
	out_bool(o, "unlinked", m->unlinked);
	messages(v, &v->files[v->fds[i].file], o);
}

const struct img_kind img_kind_mqueue = {
    .name = "mqueue",
    .about = "POSIX message queue",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_MQUEUE,
    .size = sizeof(struct img_mqueue),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
