/* epoll: its interest list checked and described (fd_epoll.h). */
#include "image/kinds/fd_epoll.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_epoll *h = rec;
	(void)v, (void)i;
	if ((len - sizeof(*h)) / sizeof(struct img_epoll_item) < h->nitems)
		return errf(why, whylen, "its %u items do not fit the record", h->nitems);
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_epoll *h = rec;
	const struct img_epoll_item *it = (const void *)(h + 1);
	(void)v, (void)i, (void)len;
	out_begin_list(o, "items");
	for (uint32_t k = 0; k < h->nitems; k++) {
		out_begin_object(o, NULL);
		out_i64(o, "tfd", it[k].tfd);
		out_hex(o, "events", it[k].events);
		out_hex(o, "data", it[k].data);
		out_i64(o, "src_fd", it[k].src_fd);
		out_end(o, 0);
	}
	out_end(o, 1);
}

const struct img_kind img_kind_epoll = {
    .name = "epoll",
    .about = "epoll instance",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_EPOLL,
    .size = sizeof(struct img_epoll),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
