/* Files at checkpoint (fd_file.h): the files section and its saved
 * contents, and the descriptor kind of regular files, directories and
 * character devices, which are reopened by path at restart. */
#include "runtime/fd_file.h"
#include "runtime/arena.h"
#include "runtime/fdkinds.h"
#include "runtime/shm.h"
#include "runtime/strtab.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct img_file *rt_file_new(struct rt_files *f)
{
	if (!f->files) {
		f->files = rt_alloc(RT_FILES_MAX * sizeof(struct img_file));
		f->cap = f->files ? RT_FILES_MAX : 0;
	}
	if (f->n >= f->cap)
		return NULL;
	struct img_file *r = &f->files[f->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

uint8_t *rt_filedata_room(struct rt_files *f, uint64_t len)
{
	if (!f->data) {
		f->data = rt_alloc(RT_FILEDATA_MAX);
		f->data_cap = f->data ? RT_FILEDATA_MAX : 0;
	}
	return f->data && len <= f->data_cap - f->data_len ? f->data + f->data_len : NULL;
}

#define HASH_BITS 17 /* twice RT_FILES_MAX buckets */

static uint32_t hash_of(uint64_t dev, uint64_t ino)
{
	return (uint32_t)(((ino ^ (dev << 32) ^ (dev >> 32)) * 0x9E3779B97F4A7C15ull) >>
			  (64 - HASH_BITS));
}

/* Chain the records made since the last lookup; -1 when out of memory. */
static int chain_new(struct rt_files *f)
{
	if (!f->head) {
		f->head = rt_alloc(sizeof(int32_t) << HASH_BITS);
		f->tail = rt_alloc(sizeof(int32_t) << HASH_BITS);
		f->next = rt_alloc(RT_FILES_MAX * sizeof(int32_t));
		f->hashed = 0;
		if (!f->head || !f->tail || !f->next)
			return f->head = NULL, -1;
	}
	if (f->hashed > f->n) { /* a record chained was taken back: chain again */
		memset(f->head, 0, sizeof(int32_t) << HASH_BITS);
		memset(f->tail, 0, sizeof(int32_t) << HASH_BITS);
		f->hashed = 0;
	}
	for (; f->hashed < f->n; f->hashed++) { /* 1 + index: 0 ends a chain */
		uint32_t h = hash_of(f->files[f->hashed].dev, f->files[f->hashed].ino);
		f->next[f->hashed] = 0;
		if (f->tail[h])
			f->next[f->tail[h] - 1] = f->hashed + 1;
		else
			f->head[h] = f->hashed + 1;
		f->tail[h] = f->hashed + 1;
	}
	return 0;
}

int rt_file_find(struct rt_files *f, uint64_t dev, uint64_t ino, uint32_t flags)
{
	if (chain_new(f) < 0) { /* out of memory: one by one */
		for (uint32_t i = 0; i < f->n; i++)
			if (f->files[i].ino == ino && f->files[i].dev == dev &&
			    (f->files[i].flags & flags) == flags)
				return i;
		return -1;
	}
	for (int32_t i = f->head[hash_of(dev, ino)]; i; i = f->next[i - 1]) {
		const struct img_file *r = &f->files[i - 1];
		if (r->ino == ino && r->dev == dev && (r->flags & flags) == flags)
			return i - 1;
	}
	return -1;
}

static int reopen_readable(int fd)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* A descriptor to read a deleted file through. One open write-only (a log
 * the program appends to) cannot be read: the file is opened again for
 * reading through its /proc/self/fd link. When its mode denies reading to
 * the owner (0200), read permission is lent for that open and taken back:
 * only the file's ctime shows it. Returns fd itself, a new descriptor the
 * caller closes, or -1 with errno set. */
static int readable_fd(int fd, const struct img_file *r)
{
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return fd;
	int rfd = reopen_readable(fd);
	if (rfd >= 0 || errno != EACCES || (r->mode & S_IRUSR))
		return rfd;
	if (fchmod(fd, (r->mode & 07777) | S_IRUSR) < 0) {
		errno = EACCES;
		return -1;
	}
	rfd = reopen_readable(fd);
	int e = errno;
	fchmod(fd, r->mode & 07777);
	errno = e;
	return rfd;
}

static int save_contents(struct rt_files *f, struct img_file *r, int fd, const char *path,
			 char *err, size_t errlen)
{
	uint8_t *room = rt_filedata_room(f, r->size);
	if (!room)
		return errf(err, errlen, "deleted file %s is too large to keep (%llu bytes)", path,
			    (unsigned long long)r->size);
	r->data_off = f->data_len;
	int rfd = readable_fd(fd, r);
	if (rfd < 0)
		return errf(err, errlen,
			    "pid %d fd %d: cannot open deleted file %s for reading to keep its "
			    "contents: %s; close it before checkpointing",
			    getpid(), fd, path, strerror(errno));
	ssize_t n = pread_full(rfd, room, r->size, 0);
	int e = errno;
	if (rfd != fd)
		close(rfd);
	if (n != (ssize_t)r->size)
		return errf(err, errlen, "pid %d fd %d: cannot read deleted file %s: %s", getpid(),
			    fd, path, n < 0 ? strerror(e) : "it shrank while being read");
	f->data_len += r->size;
	r->flags |= IMG_FILE_DELETED;
	return 0;
}

static int ends_with_deleted(const char *s)
{
	size_t n = strlen(s);
	return n > 10 && !strcmp(s + n - 10, " (deleted)");
}

int rt_file_add(struct rt_files *f, struct rt_strtab *tab, const char *path, int fd,
		const struct stat *given, char *err, size_t errlen)
{
	struct stat st;
	char clean[PATH_MAX];
	int deleted = 0;
	snprintf(clean, sizeof(clean), "%s", path);
	if (ends_with_deleted(clean)) {
		clean[strlen(clean) - 10] = 0;
		deleted = 1;
	}
	if (given)
		st = *given;
	else if ((fd >= 0 ? fstat(fd, &st) : stat(clean, &st)) < 0)
		return errf(err, errlen, "cannot stat %s: %s", clean, strerror(errno));
	int i = rt_file_find(f, st.st_dev, st.st_ino, 0);
	if (i >= 0)
		return i;
	struct img_file *r = rt_file_new(f);
	if (!r)
		return errf(err, errlen, "too many files (over %d)", RT_FILES_MAX);
	r->path_str = rt_str_add(tab, clean);
	r->size = st.st_size;
	r->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
	r->ino = st.st_ino;
	r->dev = st.st_dev;
	r->mode = st.st_mode;
	if (deleted && fd >= 0 && save_contents(f, r, fd, clean, err, errlen) < 0) {
		f->n--;
		return -1;
	}
	return r - f->files;
}

static int file_match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)link;
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode);
}

static int file_dump(struct rt_fd_ctx *c)
{
	c->e->type = S_ISREG(c->st->st_mode)   ? IMG_FD_REG
		     : S_ISDIR(c->st->st_mode) ? IMG_FD_DIR
					       : IMG_FD_CHR;
	c->e->file = rt_file_add(c->files, c->tab, c->link, c->fd, c->st, c->err, c->errlen);
	if (c->e->file < 0)
		return -1;
	if (c->e->type != IMG_FD_REG)
		return 0;
	c->e->pos = lseek(c->fd, 0, SEEK_CUR);
	return rt_shm_keep_fd_file(c->files, c->e->file, c->fd, c->e->open_flags, c->st, c->link,
				   c->err, c->errlen);
}

const struct rt_fd_kind rt_fd_file = {"file", file_match, file_dump};
