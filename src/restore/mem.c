/* Memory for restart: choose a blob area and a scratch range that are free in
 * both the restorer's layout and the target's, premap every region there with
 * its contents, and leave the final moves to the blob. */
#include "restore/restore.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEARCH_LOW 0x10000000ull
#define SEARCH_HIGH 0x7ff000000000ull
#define GAP_PAD (1ull << 30) /* keep away from neighbours, stacks grow */

struct range {
	uint64_t s, e;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* Every range in use now (ours) or later (the target's). */
static struct range *busy_ranges(const struct rst_image *img, size_t *n)
{
	size_t cap = img->nvmas + 4096, k = 0;
	struct range *r = malloc(cap * sizeof(*r));
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	if (!r || !f) {
		free(r);
		if (f)
			fclose(f);
		return NULL;
	}
	while (fgets(line, sizeof(line), f) && k < cap) {
		unsigned long long s, e;
		if (sscanf(line, "%llx-%llx", &s, &e) == 2)
			r[k++] = (struct range){s, e};
	}
	fclose(f);
	for (uint32_t i = 0; i < img->nvmas && k < cap; i++)
		r[k++] = (struct range){img->vmas[i].start, img->vmas[i].end};
	qsort(r, k, sizeof(*r), cmp_range);
	*n = k;
	return r;
}

/* Reserve len bytes (PROT_NONE) in a gap free in both layouts. */
static uint64_t reserve_gap(const struct rst_image *img, uint64_t len)
{
	size_t n;
	struct range *r = busy_ranges(img, &n);
	uint64_t cur = SEARCH_LOW, found = 0;
	if (!r)
		return 0;
	for (size_t i = 0; i <= n && !found; i++) {
		uint64_t next = i < n ? r[i].s : SEARCH_HIGH;
		if (next > cur && next - cur >= len + 2 * GAP_PAD &&
		    cur + len + GAP_PAD <= SEARCH_HIGH)
			found = cur + GAP_PAD;
		if (i < n && r[i].e > cur)
			cur = r[i].e;
	}
	free(r);
	if (!found)
		return 0;
	void *p = mmap((void *)found, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	return p == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)p;
}

static int premapped(const struct img_vma *v)
{
	return v->kind != IMG_VMA_VDSO && v->kind != IMG_VMA_VVAR &&
	       v->kind != IMG_VMA_VVAR_VCLOCK && v->kind != IMG_VMA_VSYSCALL;
}

static int prot_of(uint32_t p)
{
	return (p & IMG_PROT_READ ? PROT_READ : 0) | (p & IMG_PROT_WRITE ? PROT_WRITE : 0) |
	       (p & IMG_PROT_EXEC ? PROT_EXEC : 0);
}

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

/* Open the file behind a mapping or descriptor, checking that it is the one the
 * image saw. */
int rst_open_file(const struct rst_image *img, int idx, int flags)
{
	const struct img_file *f = &img->files[idx];
	const char *path = rst_str(img, f->path_str);
	struct stat st;
	if (f->flags & IMG_FILE_DELETED)
		return recreate_deleted(img, f);
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && (f->flags & IMG_FILE_SAVED))
		return rst_shm_recreate_file(img, f, flags); /* kept by the checkpoint (shm.c) */
	if (fd < 0)
		return error("cannot open %s: %s", path, strerror(errno));
	if ((f->flags & IMG_FILE_RESTORE) && (f->flags & IMG_FILE_SAVED)) {
		if (rst_shm_put_back(img, f) == 0)
			return fd; /* the computation's shared memory, as of the checkpoint */
		close(fd);
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    ((uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec != f->mtime_ns ||
	     (uint64_t)st.st_size != f->size))
		warn("%s changed since the checkpoint (size %llu, was %llu): the program may see "
		     "different data",
		     path, (unsigned long long)st.st_size, (unsigned long long)f->size);
	return fd;
}

static int map_region(const struct rst_image *img, const struct img_vma *v, uint64_t at)
{
	uint64_t len = v->end - v->start;
	int prot = prot_of(v->prot) | (v->nchunks ? PROT_READ | PROT_WRITE : 0);
	int fl = MAP_FIXED | (v->flags & IMG_VMAF_NORESERVE ? MAP_NORESERVE : 0);
	int fd = -1;
	void *p;
	switch (v->kind) {
	case IMG_VMA_FILE_PRIVATE:
	case IMG_VMA_FILE_SHARED:
		fd = rst_open_file(img, v->file,
				   v->kind == IMG_VMA_FILE_SHARED && (v->prot & IMG_PROT_WRITE)
				       ? O_RDWR
				       : O_RDONLY);
		if (fd < 0)
			return -1;
		fl |= v->kind == IMG_VMA_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE;
		p = mmap((void *)at, len, prot, fl, fd, v->pgoff);
		close(fd);
		break;
	case IMG_VMA_SHMEM:
		if (rst_shm_region(img, v)) { /* one object for all its holders (shm.c) */
			p = rst_shm_map(img, v, at, prot_of(v->prot), fl & MAP_NORESERVE);
			break;
		}
		p = mmap((void *)at, len, prot, fl | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	default:
		fl |= v->flags & IMG_VMAF_GROWSDOWN ? MAP_GROWSDOWN : 0;
		p = mmap((void *)at, len, prot, fl | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (p == MAP_FAILED)
		return error("cannot map region %#llx-%#llx (%s): %s", (unsigned long long)v->start,
			     (unsigned long long)v->end, img_vma_kind_name(v->kind),
			     strerror(errno));
	return 0;
}

int rst_memory(struct rst_image *img, struct rst_layout *l, size_t blob_len)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (premapped(&img->vmas[i]))
			total += img->vmas[i].end - img->vmas[i].start + IMG_PAGE;
	l->blob_len = blob_len;
	l->blob_addr = reserve_gap(img, blob_len);
	l->scratch_len = total;
	l->scratch_addr = total ? reserve_gap(img, total) : 0;
	l->premap = calloc(img->nvmas + 1, sizeof(uint64_t));
	l->mapped = calloc(img->nchunks + 1, 1);
	l->runs = NULL; /* filled by rst_map_chunks */
	l->nruns = 0;
	if (!l->blob_addr || (total && !l->scratch_addr) || !l->premap || !l->mapped)
		return error("cannot find room for the restore (%llu bytes): %s",
			     (unsigned long long)total, strerror(errno));
	uint64_t at = l->scratch_addr;
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		if (!premapped(v))
			continue;
		if (map_region(img, v, at) < 0)
			return -1;
		l->premap[i] = at;
		at += v->end - v->start + IMG_PAGE; /* a hole keeps regions from merging */
	}
	if (rst_map_chunks(img, l, l->mapped) < 0 || rst_fill(img, l) < 0)
		return -1;
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		if (l->premap[i] && v->nchunks &&
		    mprotect((void *)l->premap[i], v->end - v->start, prot_of(v->prot)) < 0)
			return error("cannot protect region %#llx: %s",
				     (unsigned long long)v->start, strerror(errno));
	}
	return 0;
}

/* Write into the target's memory, at target address addr, through its premap. */
int rst_write_target(struct rst_image *img, struct rst_layout *l, uint64_t addr, const void *src,
		     size_t len)
{
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		if (!l->premap[i] || addr < v->start || addr + len > v->end)
			continue;
		if (!(v->prot & IMG_PROT_WRITE))
			return -1;
		memcpy((void *)(l->premap[i] + (addr - v->start)), src, len);
		return 0;
	}
	return -1;
}
