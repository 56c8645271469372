/* eventfd: its payload described (fd_eventfd.h). */
#include "image/kinds/fd_eventfd.h"
#include "image/kinds/kind.h"

static const char *const flags[] = {"semaphore"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_eventfd *p = rec;
	(void)v, (void)i, (void)len;
	out_u64(o, "count", p->count);
	out_flags(o, "flags", p->flags, OUT_NAMES(flags));
}

const struct img_kind img_kind_eventfd = {
    .name = "eventfd",
    .about = "eventfd counter",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_EVENTFD,
    .size = sizeof(struct img_eventfd),
    .payload = 1,
    .describe = describe,
};
