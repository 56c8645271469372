/* signalfd: its payload described (fd_signalfd.h). */
#include "image/kinds/fd_signalfd.h"
#include "image/kinds/kind.h"

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_signalfd *p = rec;
	(void)v, (void)i, (void)len;
	out_begin_list(o, "signals");
	for (int sig = 1; sig <= 64; sig++)
		if (p->sigmask & (1ull << (sig - 1)))
			out_u64(o, NULL, sig);
	out_end(o, 1);
}

const struct img_kind img_kind_signalfd = {
    .name = "signalfd",
    .about = "signalfd",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_SIGNALFD,
    .size = sizeof(struct img_signalfd),
    .payload = 1,
    .describe = describe,
};
