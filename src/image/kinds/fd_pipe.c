/* Pipes: a descriptor's pipe checked and described (fd_pipe.h). */
#include "image/kinds/fd_pipe.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <fcntl.h>

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_fd *d = &v->fds[i];
	(void)rec, (void)len;
	if (d->file < 0 || !(v->files[d->file].flags & IMG_FILE_PIPE))
		return errf(why, whylen, "it names no pipe");
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_fd *d = &v->fds[i];
	const struct img_file *f = &v->files[d->file];
	(void)rec, (void)len;
	out_str(o, "end", (d->open_flags & O_ACCMODE) == O_WRONLY ? "write" : "read");
	out_u64(o, "ino", f->ino);
	out_u64(o, "capacity", f->capacity);
	out_bytes(o, "data", v->filedata + f->data_off, f->size);
}

const struct img_kind img_kind_pipe = {
    .name = "pipe",
    .about = "an end of a pipe of the computation",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_PIPE,
    .validate = validate,
    .describe = describe,
};
