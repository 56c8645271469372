/* File locks: their records checked and described (locks.h). */
#include "image/kinds/locks.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_lock *l = rec;
	const struct img_fd *d = img_view_fd(v, l->fd);
	(void)len;
	if (!d || d->type != IMG_FD_REG || l->kind < IMG_LOCK_POSIX || l->kind > IMG_LOCK_OFD ||
	    l->start < 0 || (l->end != -1 && l->end < l->start))
		return errf(why, whylen, "file lock %u (fd %d) is invalid", i, l->fd);
	return 0;
}

static const char *const kinds[] = {
    [IMG_LOCK_POSIX] = "posix", [IMG_LOCK_FLOCK] = "flock", [IMG_LOCK_OFD] = "ofd"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_lock *l = rec;
	(void)v, (void)i, (void)len;
	out_i64(o, "fd", l->fd);
	out_enum(o, "lock", l->kind, OUT_NAMES(kinds));
	out_bool(o, "write", l->write);
	out_i64(o, "start", l->start);
	out_i64(o, "end", l->end);
}

const struct img_kind img_kind_lock = {
    .name = "lock",
    .about = "a file lock held through a descriptor",
    .section = IMG_SEC_LOCKS,
    .size = sizeof(struct img_lock),
    .validate = validate,
    .describe = describe,
};
