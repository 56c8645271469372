/* Files: the descriptor kinds file, dir and chardev, and the records of
 * IMG_SEC_FILES, checked and described (fd_file.h). */
#include "image/kinds/fd_file.h"
#include "common/log.h"

static const char *const file_flags[] = {"deleted", "pipe", "shmem", "saved", "sysv", "restore"};

void img_file_describe(const struct img_view *v, const struct img_file *f, struct img_out *o)
{
	out_str(o, "path", img_view_str(v, f->path_str));
	out_flags(o, "flags", f->flags, OUT_NAMES(file_flags));
	out_u64(o, "size", f->size);
	out_u64(o, "mtime_ns", f->mtime_ns);
	out_u64(o, "ino", f->ino);
	out_u64(o, "dev", f->dev);
	out_u64(o, "mode", f->mode);
	if (f->flags & IMG_FILE_PIPE)
		out_u64(o, "capacity", f->capacity);
	if (f->flags & (IMG_FILE_DELETED | IMG_FILE_PIPE | IMG_FILE_SAVED))
		out_u64(o, "data_off", f->data_off);
}

/* A record of IMG_SEC_FILES: its name, and its contents when it has some. */
static int validate_file(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
			 char *why, size_t whylen)
{
	const struct img_file *f = rec;
	(void)len;
	if (f->path_str >= v->strings_len)
		return errf(why, whylen, "file %u has a bad name", i);
	if ((f->flags & (IMG_FILE_DELETED | IMG_FILE_PIPE | IMG_FILE_SAVED)) &&
	    !img_view_has_data(v, f->data_off, f->size))
		return errf(why, whylen, "deleted file %u has contents out of range", i);
	return 0;
}

static void describe_file(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
			  struct img_out *o)
{
	(void)i, (void)len;
	img_file_describe(v, rec, o);
}

/* A descriptor of a file names one that is not a pipe. */
static int validate_fd(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		       char *why, size_t whylen)
{
	const struct img_fd *d = &v->fds[i];
	(void)rec, (void)len;
	if (d->file < 0 || (v->files[d->file].flags & IMG_FILE_PIPE))
		return errf(why, whylen, "it names file %d", d->file);
	return 0;
}

static void describe_fd(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
			struct img_out *o)
{
	const struct img_fd *d = &v->fds[i];
	(void)rec, (void)len;
	out_str(o, "path", img_view_str(v, v->files[d->file].path_str));
	out_bool(o, "deleted", v->files[d->file].flags & IMG_FILE_DELETED);
}

const struct img_kind img_kind_files = {
    .name = "files",
    .about = "a file behind descriptors or mappings",
    .section = IMG_SEC_FILES,
    .size = sizeof(struct img_file),
    .validate = validate_file,
    .describe = describe_file,
};

#define FILE_KIND(n, t, a)                                                                         \
	{                                                                                          \
		.name = n, .about = a, .section = IMG_SEC_FDS, .fd_type = t,                       \
		.validate = validate_fd, .describe = describe_fd,                                  \
	}
const struct img_kind img_kind_file = FILE_KIND("file", IMG_FD_REG, "regular file");
const struct img_kind img_kind_dir = FILE_KIND("dir", IMG_FD_DIR, "directory");
const struct img_kind img_kind_chardev =
    FILE_KIND("chardev", IMG_FD_CHR, "character device reopened by path (/dev/null, ...)");
