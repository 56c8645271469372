/* Shared memory objects at restart (IMG_FILE_SHMEM records: shared anonymous
 * memory, memfds, files deleted while mapped shared). Each is one struct rst_obj
 * (kind IMG_FD_MEMFD, named by its old inode): the nearest common ancestor of
 * its holders creates it before it forks, fills it from every holder's stored
 * pages and saved contents, and seals it; each holder then maps it at its
 * premap address (memfds and files: mmap of the object's descriptor; shared
 * anonymous memory: mremap with old_size 0 of the creator's mapping, inherited
 * across fork, which maps the same pages again and keeps "/dev/zero (deleted)").
 * The holders do not fill these regions themselves: no holder resumes before
 * all are restored (the RESTARTED barrier), so the creator's copy is the one. */
#include "restore/shm.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/mem.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "restore/sysv.h"
#include "common/io.h"
#include "common/log.h"
#include "image/kinds/fd_memfd.h"
#include "restore/fd_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct shm_desc {
	const char *path;    /* "/dev/zero", "/memfd:NAME" or the deleted file's path */
	uint32_t mode;	     /* of a deleted file */
	uint64_t size;	     /* bytes of the object */
	const uint8_t *data; /* saved contents (a memfd's descriptor), or NULL */
	uint64_t data_len;
	uint32_t seals;
	uint64_t addr; /* shared anonymous memory: the creator's mapping */
};

/* The set being restarted: mem.c maps regions knowing only their image. Every
 * restorer process descends from the one that scanned the set. */
static const struct rst_set *shm_set;

static int is_anon(const struct shm_desc *s)
{
	return !strcmp(s->path, "/dev/zero");
}

static uint64_t page_up(uint64_t x)
{
	return (x + IMG_PAGE - 1) & ~(uint64_t)(IMG_PAGE - 1);
}

static const struct img_file *vma_file(const struct rst_image *img, const struct img_vma *v,
				       uint32_t flag)
{
	if (v->kind != IMG_VMA_SHMEM || v->file < 0 || (uint32_t)v->file >= img->nfiles ||
	    !(img->files[v->file].flags & flag))
		return NULL;
	return &img->files[v->file];
}

static const struct img_file *vma_object(const struct rst_image *img, const struct img_vma *v)
{
	return vma_file(img, v, IMG_FILE_SHMEM);
}

/* A region whose pages are not the holder's to fill: a shared object's or a
 * SysV segment's (PID 1 filled it) */
int rst_shm_region(const struct rst_image *img, const struct img_vma *v)
{
	return vma_file(img, v, IMG_FILE_SHMEM | IMG_FILE_SYSV) != NULL;
}

static struct shm_desc *desc_of(const struct rst_set *set, const struct img_file *f)
{
	for (int k = 0; k < set->nobjs; k++)
		if (set->objs[k].kind == IMG_FD_MEMFD && set->objs[k].ino == f->ino &&
		    set->objs[k].dev == f->dev)
			return (struct shm_desc *)set->objs[k].priv;
	return NULL;
}

/* Read every holder's stored pages of the object into map (size bytes). */
static int fill_from_images(const struct rst_set *set, const struct rst_obj *o, uint8_t *map,
			    uint64_t size)
{
	size_t tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *tmp = malloc(tmpsize);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	char err[512] = "out of memory";
	int rc = tmp && dctx ? 0 : -1;
	for (int j = 0; j < set->n && rc == 0; j++) {
		struct rst_image *img = &set->img[j];
		for (uint32_t i = 0; i < img->nvmas && rc == 0; i++) {
			const struct img_vma *v = &img->vmas[i];
			const struct img_file *f = vma_object(img, v);
			if (!f || f->ino != o->ino || f->dev != o->dev)
				continue;
			for (uint32_t c = v->first_chunk; c < v->first_chunk + v->nchunks; c++) {
				const struct img_chunk *k = &img->chunks[c];
				uint64_t off = v->pgoff + (k->vaddr - v->start);
				if (off + (uint64_t)k->npages * IMG_PAGE > page_up(size))
					continue; /* beyond the end: no page can be there */
				if (img_read_chunk(&img->r, k, map + off, dctx, tmp, tmpsize, err,
						   sizeof(err)) < 0) {
					rc = -1;
					break;
				}
			}
		}
	}
	if (rc < 0)
		error("cannot fill shared memory %s: %s", ((struct shm_desc *)o->priv)->path, err);
	ZSTD_freeDCtx(dctx);
	free(tmp);
	return rc;
}

static int open_object(const struct shm_desc *s)
{
	if (!strncmp(s->path, "/memfd:", 7))
		return memfd_create(s->path + 7, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return rst_tmpfile_named(s->path, s->mode & 07777);
}

static int create_file_object(const struct rst_set *set, const struct rst_obj *o,
			      struct shm_desc *s)
{
	int fd = open_object(s);
	if (fd < 0 || ftruncate(fd, s->size) < 0 ||
	    (s->data_len && pwrite(fd, s->data, s->data_len, 0) != (ssize_t)s->data_len))
		goto fail;
	if (s->size) {
		void *map = mmap(NULL, page_up(s->size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			goto fail;
		int rc = fill_from_images(set, o, map, s->size);
		munmap(map, page_up(s->size));
		if (rc < 0)
			goto fail;
	}
	if (s->seals && fcntl(fd, F_ADD_SEALS, s->seals) < 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int shm_create(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	struct shm_desc *s = (struct shm_desc *)o->priv;
	if (!is_anon(s)) {
		fd[0] = create_file_object(set, o, s);
		return fd[0] < 0 ? -1 : 0;
	}
	void *map = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -1;
	s->addr = (uint64_t)(uintptr_t)map; /* the holders, forked after this, inherit it */
	return fill_from_images(set, o, map, s->size);
}

int rst_shm_note(struct rst_set *set, int i, const struct img_file *f, const struct img_memfd *m)
{
	const struct rst_image *img = &set->img[i];
	struct rst_obj *o = rst_obj_get(set, IMG_FD_MEMFD, f->ino, f->dev, i, shm_create);
	if (!o)
		return -1;
	struct shm_desc *s = (struct shm_desc *)o->priv;
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))))
			return -1;
		s->path = rst_str(img, f->path_str);
		s->mode = f->mode;
		o->priv = s;
	}
	if ((f->flags & IMG_FILE_SAVED) && !s->data) {
		s->data = img->filedata + f->data_off;
		s->data_len = f->size;
	}
	if (f->size > s->size)
		s->size = f->size;
	if (m)
		s->seals |= m->seals;
	shm_set = set;
	return 0;
}

int rst_shm_scan(struct rst_set *set, int i, char *err, size_t errlen)
{
	const struct rst_image *img = &set->img[i];
	shm_set = set;
	for (uint32_t k = 0; k < img->nvmas; k++) {
		const struct img_file *f = vma_object(img, &img->vmas[k]);
		if (f && rst_shm_note(set, i, f, NULL) < 0)
			return errf(err, errlen, "out of memory");
	}
	return 0;
}

void *rst_shm_map(const struct rst_image *img, const struct img_vma *v, uint64_t at, int prot,
		  int flags)
{
	const struct img_file *sysv = vma_file(img, v, IMG_FILE_SYSV);
	if (sysv && shm_set)
		return rst_sysv_map(shm_set, v, sysv->ino, at, prot);
	const struct img_file *f = vma_object(img, v);
	struct shm_desc *s = f && shm_set ? desc_of(shm_set, f) : NULL;
	uint64_t len = v->end - v->start;
	if (!s) {
		errno = ENOENT;
		return MAP_FAILED;
	}
	if (is_anon(s)) {
		void *p = mremap((void *)(uintptr_t)(s->addr + v->pgoff), 0, len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)at);
		if (p != MAP_FAILED && mprotect(p, len, prot) < 0)
			return MAP_FAILED;
		return p;
	}
	int fd = rst_obj_fd(shm_set, IMG_FD_MEMFD, f->ino, f->dev, 0);
	if (fd < 0)
		return MAP_FAILED;
	return mmap((void *)(uintptr_t)at, len, prot, flags | MAP_SHARED | MAP_FIXED, fd, v->pgoff);
}

static void make_dirs(char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno != ENOENT)
		return;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	make_dirs(dir);
	*slash = '/';
	mkdir(dir, 0700);
}

void rst_make_parents(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		make_dirs(dir);
	}
}

/* Recreate a kept shared-mapped file that is gone (rst_open_file): its
 * directories too if they are gone, with its mode, contents and mtime. Several
 * holders may race here: the file is written unnamed and then linked, so a
 * holder sees either no file or the whole one, and the loser of the link takes
 * the winner's. */
int rst_shm_recreate_file(const struct rst_image *img, const struct img_file *f, int flags)
{
	const char *path = rst_str(img, f->path_str);
	char dir[PATH_MAX], proc[64];
	rst_make_parents(path);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	int fd = open(slash && slash != dir ? dir : "/", O_TMPFILE | O_RDWR | O_CLOEXEC,
		      f->mode & 07777);
	if (fd < 0 || write_full(fd, img->filedata + f->data_off, f->size) < 0)
		goto fail;
	struct timespec t[2] = {{0, UTIME_OMIT},
				{f->mtime_ns / 1000000000ull, f->mtime_ns % 1000000000ull}};
	futimens(fd, t);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int linked = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0;
	if (!linked && errno != EEXIST)
		goto fail;
	/* routine (the JVM's hsperfdata, Open MPI's segments cleaned up by its
	 * launcher, a new host's tmpfs): nothing for the user to do */
	if (linked)
		debug("%s was gone: recreated from the image (%llu bytes)", path,
		      (unsigned long long)f->size);
	close(fd);
	return open(path, flags | O_CLOEXEC);
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	return error("cannot recreate %s from the image: %s", path, strerror(e));
}

/* POSIX shared memory (a file on tmpfs mapped shared) is the computation's
 * state like a SysV segment: its saved contents are written back, where they
 * differ, before any holder runs again (each holder's restorer may do it:
 * every image of a checkpoint saved the same bytes). */
int rst_shm_put_back(const struct rst_image *img, const struct img_file *f)
{
	const char *path = rst_str(img, f->path_str);
	const uint8_t *want = img->filedata + f->data_off;
	uint8_t buf[65536];
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
		warn("cannot put back the contents of %s (POSIX shared memory) as of the "
		     "checkpoint: %s; the program sees what it holds now",
		     path, strerror(errno));
		return 0; /* the program could not have written it either */
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if ((uint64_t)st.st_size != f->size && ftruncate(fd, f->size) < 0)
		goto fail;
	for (uint64_t off = 0; off < f->size; off += sizeof(buf)) {
		size_t n = f->size - off < sizeof(buf) ? f->size - off : sizeof(buf);
		if (pread_full(fd, buf, n, off) == (ssize_t)n && !memcmp(buf, want + off, n))
			continue;
		if (pwrite_full(fd, want + off, n, off) < 0)
			goto fail;
	}
	struct timespec t[2] = {{0, UTIME_OMIT},
				{f->mtime_ns / 1000000000ull, f->mtime_ns % 1000000000ull}};
	futimens(fd, t);
	close(fd);
	return 0;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	return error("cannot put back the contents of %s (POSIX shared memory, %llu bytes): %s; "
		     "remove it (the restart then recreates it from the image) and restart again",
		     path, (unsigned long long)f->size, strerror(e));
}
