/* FIFOs: their payload checked and described (fd_fifo.h). */
#include "image/kinds/fd_fifo.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_fifo *r = rec;
	(void)i;
	if (r->data_len != len - sizeof(*r))
		return errf(why, whylen, "its bytes in flight do not fit the record");
	if (!img_view_has_str(v, r->path_str))
		return errf(why, whylen, "it has no path");
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_fifo *r = rec;
	(void)i, (void)len;
	out_str(o, "path", img_view_str(v, r->path_str));
	out_u64(o, "mode", r->mode);
	out_u64(o, "ino", r->ino);
	out_u64(o, "dev", r->dev);
	out_u64(o, "capacity", r->capacity);
	out_bytes(o, "data", r + 1, r->data_len);
}

const struct img_kind img_kind_fifo = {
    .name = "fifo",
    .about = "FIFO (named pipe)",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_FIFO,
    .size = sizeof(struct img_fifo),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
