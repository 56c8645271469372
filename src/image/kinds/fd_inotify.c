/* inotify: its watches checked and described (fd_inotify.h). */
#include "image/kinds/fd_inotify.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_inotify *h = rec;
	const struct img_inotify_watch *w = (const void *)(h + 1);
	(void)i;
	if ((len - sizeof(*h)) / sizeof(*w) < h->nwatches)
		return errf(why, whylen, "its %u watches do not fit the record", h->nwatches);
	for (uint32_t k = 0; k < h->nwatches; k++)
		if (!img_view_has_str(v, w[k].path_str))
			return errf(why, whylen, "watch %d has no path", w[k].wd);
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_inotify *h = rec;
	const struct img_inotify_watch *w = (const void *)(h + 1);
	(void)i, (void)len;
	out_begin_list(o, "watches");
	for (uint32_t k = 0; k < h->nwatches; k++) {
		out_begin_object(o, NULL);
		out_i64(o, "wd", w[k].wd);
		out_hex(o, "mask", w[k].mask);
		out_str(o, "path", img_view_str(v, w[k].path_str));
		out_u64(o, "ino", w[k].ino);
		out_u64(o, "dev", w[k].dev);
		out_end(o, 0);
	}
	out_end(o, 1);
}

const struct img_kind img_kind_inotify = {
    .name = "inotify",
    .about = "inotify instance",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_INOTIFY,
    .size = sizeof(struct img_inotify),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
