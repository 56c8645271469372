/* memfd: its payload checked and described (fd_memfd.h). */
#include "image/kinds/fd_memfd.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_fd *d = &v->fds[i];
	(void)rec, (void)len;
	if (d->file < 0 || !(v->files[d->file].flags & IMG_FILE_SHMEM))
		return errf(why, whylen, "it has no object");
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_memfd *m = rec;
	(void)v, (void)i, (void)len;
	out_u64(o, "offset", m->pos);
	out_hex(o, "seals", m->seals);
}

const struct img_kind img_kind_memfd = {
    .name = "memfd",
    .about = "memfd (its object is a shared memory file)",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_MEMFD,
    .size = sizeof(struct img_memfd),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
