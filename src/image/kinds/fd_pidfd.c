/* pidfd: its payload checked and described (fd_pidfd.h). */
#include "image/kinds/fd_pidfd.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_pidfd *p = rec;
	(void)v, (void)i, (void)len;
	if (p->pid < 1 || p->pid > 4194304)
		return errf(why, whylen, "pid %d", p->pid);
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_pidfd *p = rec;
	(void)v, (void)i, (void)len;
	out_i64(o, "pid", p->pid);
	out_hex(o, "flags", p->flags);
}

const struct img_kind img_kind_pidfd = {
    .name = "pidfd",
    .about = "pidfd of a process of the computation",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_PIDFD,
    .size = sizeof(struct img_pidfd),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
