/* timerfd: its payload checked and described (fd_timerfd.h). */
#include "image/kinds/fd_timerfd.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_timerfd *p = rec;
	(void)v, (void)i, (void)len;
	if (p->value_ns < 0 || p->interval_ns < 0)
		return errf(why, whylen, "a negative time");
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_timerfd *p = rec;
	(void)v, (void)i, (void)len;
	out_i64(o, "clock", p->clock);
	out_u64(o, "settime_flags", p->settime_flags);
	out_u64(o, "ticks", p->ticks);
	out_i64(o, "value_ns", p->value_ns);
	out_i64(o, "interval_ns", p->interval_ns);
}

const struct img_kind img_kind_timerfd = {
    .name = "timerfd",
    .about = "timerfd timer",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_TIMERFD,
    .size = sizeof(struct img_timerfd),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
