/* Shared descriptions: their records checked and described (shares.h). */
#include "image/kinds/shares.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_share *s = rec, *prev = s - 1;
	const struct img_fd *d = img_view_fd(v, s->fd);
	(void)len;
	if (!d || d->share >= 0 || d->type == IMG_FD_RUNTIME || (i && s->fd <= prev->fd) ||
	    s->owner_pid < 2 || s->owner_pid > 4194304 || s->owner_fd < 0 || s->reserved ||
	    (s->owner_pid == v->pid && s->owner_fd > s->fd))
		return errf(why, whylen,
			    "shared description record %u (fd %d, owner pid %u fd %d) is invalid",
			    i, s->fd, s->owner_pid, s->owner_fd);
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_share *s = rec;
	(void)v, (void)i, (void)len;
	out_i64(o, "fd", s->fd);
	out_u64(o, "owner_pid", s->owner_pid);
	out_i64(o, "owner_fd", s->owner_fd);
}

const struct img_kind img_kind_share = {
    .name = "share",
    .about = "an open file description other processes hold too",
    .section = IMG_SEC_SHARES,
    .size = sizeof(struct img_share),
    .validate = validate,
    .describe = describe,
};
