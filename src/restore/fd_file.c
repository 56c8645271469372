/* Files at restart (fd_file.h): the file behind a descriptor or a mapping
 * opened by its path again (a deleted one recreated from its saved
 * contents), and the descriptor kinds file, dir and chardev. */
#include "restore/fd_file.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/shm.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEEP_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_SYNC | O_DSYNC)

int rst_tmpfile_named(const char *path, unsigned mode)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = slash == dir ? '/' : 0, slash[1] = 0;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	/* give it its old name for a moment, so that it is "NAME (deleted)" again */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) {
		int named = open(path, O_RDWR | O_CLOEXEC);
		unlink(path);
		if (named >= 0) {
			close(fd);
			fd = named;
		}
	}
	return fd;
}

/* A deleted file's saved contents, as a new unlinked file in its old directory
 * (or /tmp). Returns an fd or -1. */
static int recreate_deleted(const struct rst_image *img, const struct img_file *f)
{
	int fd = rst_tmpfile_named(rst_str(img, f->path_str), f->mode & 07777);
	if (fd >= 0 && write_full(fd, img->filedata + f->data_off, f->size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A log the program only appends to (write-only, O_APPEND: a batch job's
 * output file, which the job's next run appended to) that has grown: the
 * program reads nothing from it and writes after what was added. */
static int only_appended(const struct stat *st, const struct img_file *f, int flags)
{
	return (flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND) &&
	       (uint64_t)st->st_size >= f->size;
}

/* What this restorer process has done with a file of the image (file_state):
 * its saved contents are back, it was compared with the image. Once is enough
 * (nothing runs the program before every process is restored): 10000
 * descriptors of one file open it once each, not put it back 10000 times. */
#define RST_FILE_PUT_BACK 1
#define RST_FILE_COMPARED 2

/* Whether the file fd opened (with flags) is as the image saw it: a warning
 * if not, once per file. */
static void compare_file(const struct rst_image *img, int idx, int fd, int flags)
{
	const struct img_file *f = &img->files[idx];
	struct stat st;
	if ((img->file_state[idx] & RST_FILE_COMPARED) || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || only_appended(&st, f, flags))
		return;
	img->file_state[idx] |= RST_FILE_COMPARED;
	if ((uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec != f->mtime_ns ||
	    (uint64_t)st.st_size != f->size)
		warn("%s changed since the checkpoint (size %llu, was %llu): the program may see "
		     "different data",
		     rst_str(img, f->path_str), (unsigned long long)st.st_size,
		     (unsigned long long)f->size);
}

/* The directory of the last file opened, held at slot from the second file
 * opened there in a row. */
static struct {
	int slot, held;
	char dir[PATH_MAX];
} last_dir = {-1, 0, ""};

void rst_file_dir_slot(int slot)
{
	if (last_dir.held)
		close(last_dir.slot);
	last_dir.slot = slot;
	last_dir.held = 0;
	last_dir.dir[0] = 0;
}

/* path opened (a directory it is in held at the slot when it repeats) */
static int open_path(const char *path, int flags)
{
	const char *base = strrchr(path, '/');
	size_t len = base ? (size_t)(base - path) : 0;
	if (last_dir.slot < 0 || !base || len == 0 || len >= sizeof(last_dir.dir))
		return open(path, flags);
	if (strncmp(last_dir.dir, path, len) || last_dir.dir[len]) {
		if (last_dir.held)
			close(last_dir.slot);
		last_dir.held = 0;
		memcpy(last_dir.dir, path, len);
		last_dir.dir[len] = 0;
		return open(path, flags);
	}
	if (!last_dir.held) { /* a second file there: keep its directory */
		int d = open(last_dir.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		last_dir.held = d >= 0 && dup3(d, last_dir.slot, O_CLOEXEC) == last_dir.slot;
		if (d >= 0)
			close(d);
		if (!last_dir.held)
			return open(path, flags);
	}
	return openat(last_dir.slot, base + 1, flags);
}

/* Open the file behind a mapping or descriptor, checking that it is the one the
 * image saw. */
int rst_open_file(const struct rst_image *img, int idx, int flags)
{
	const struct img_file *f = &img->files[idx];
	const char *path = rst_str(img, f->path_str);
	if (f->flags & IMG_FILE_DELETED)
		return recreate_deleted(img, f);
	int fd = open_path(path, flags | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && (f->flags & IMG_FILE_SAVED))
		return rst_shm_recreate_file(img, f, flags); /* kept by the checkpoint (shm.c) */
	if (fd < 0)
		return error("cannot open %s: %s", path, strerror(errno));
	if ((f->flags & IMG_FILE_RESTORE) && (f->flags & IMG_FILE_SAVED)) {
		if (img->file_state[idx] & RST_FILE_PUT_BACK)
			return fd;
		if (rst_shm_put_back(img, f) == 0) {
			img->file_state[idx] |= RST_FILE_PUT_BACK;
			return fd; /* the computation's shared memory, as of the checkpoint */
		}
		close(fd);
		return -1;
	}
	compare_file(img, idx, fd, flags);
	return fd;
}

/* A regular file at its offset; a deleted one gets a description of its own
 * (through /proc), as the original had one besides the name's. */
static int open_reg(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x)
{
	const struct rst_image *img = &set->img[i];
	int flags = d->open_flags & KEEP_FLAGS;
	(void)x;
	int fd = rst_open_file(img, d->file, flags);
	if (fd >= 0 && (img->files[d->file].flags & IMG_FILE_DELETED)) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		int nfd = open(p, flags | O_CLOEXEC);
		close(fd);
		fd = nfd;
	}
	if (fd >= 0 && lseek(fd, d->pos, SEEK_SET) < 0 && d->pos)
		warn("cannot seek fd %d to %lld: %s", d->fd, (long long)d->pos, strerror(errno));
	return fd;
}

static int open_dir(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x)
{
	(void)x;
	return rst_open_file(&set->img[i], d->file, O_RDONLY | O_DIRECTORY);
}

static int open_chr(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x)
{
	(void)x;
	return rst_open_file(&set->img[i], d->file, d->open_flags & KEEP_FLAGS);
}

const struct rst_fd_kind rst_fd_file = {.type = IMG_FD_REG, .open = open_reg};
const struct rst_fd_kind rst_fd_dir = {.type = IMG_FD_DIR, .open = open_dir};
const struct rst_fd_kind rst_fd_chardev = {.type = IMG_FD_CHR, .open = open_chr};
