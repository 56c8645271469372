/* Memory for restart: choose a blob area and a scratch range that are free in
 * both the restorer's layout and the target's, premap every region there with
 * its contents, and leave the final moves to the blob. */
#include "restore/mem.h"
#include "restore/fill.h"
#include "restore/load.h"
#include "restore/mapimg.h"
#include "restore/shm.h"
#include "restore/zeropop.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"
#include "restore/fd_file.h"

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
/* A region of at least this is premapped at an address congruent to its
 * own modulo this, so that the blob's mremap moves whole page tables (one
 * entry per 2 MiB) instead of each page's entry (3 ms per GiB of mapped
 * pages here otherwise) */
#define PMD_SIZE (2ull << 20)

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

static int map_error(const struct rst_image *img, const struct img_vma *v)
{
	return error("pid %u: cannot map its memory region %#llx-%#llx (%s): %s", img->proc->pid,
		     (unsigned long long)v->start, (unsigned long long)v->end,
		     img_vma_kind_name(v->kind), strerror(errno));
}

static int map_region(const struct rst_image *img, const struct img_vma *v, uint64_t at)
{
	uint64_t len = v->end - v->start;
	if (fault_hit(FAULT_RST_MMAP))
		return map_error(img, v);
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
	return p == MAP_FAILED ? map_error(img, v) : 0;
}

uint64_t rst_premap_at(const struct img_vma *v, uint64_t at)
{
	if (v->end - v->start < PMD_SIZE)
		return at;
	return at + ((v->start - at) & (PMD_SIZE - 1));
}

int rst_memory(struct rst_image *img, struct rst_layout *l, size_t blob_len)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (premapped(&img->vmas[i]))
			total += img->vmas[i].end - img->vmas[i].start + IMG_PAGE +
				 (img->vmas[i].end - img->vmas[i].start >= PMD_SIZE ? PMD_SIZE : 0);
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
		at = rst_premap_at(v, at);
		if (map_region(img, v, at) < 0)
			return -1;
		l->premap[i] = at;
		at += v->end - v->start + IMG_PAGE; /* a hole keeps regions from merging */
	}
	if (rst_map_chunks(img, l, l->mapped) < 0 || rst_fill(img, l) < 0)
		return -1;
	rst_zero_pages(img, l);
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
/* Where [addr, addr + len) of the target is premapped now, or NULL. */
static void *target(const struct rst_image *img, const struct rst_layout *l, uint64_t addr,
		    size_t len, int writable)
{
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		if (!l->premap[i] || addr < v->start || addr + len > v->end)
			continue;
		if (writable && !(v->prot & IMG_PROT_WRITE))
			return NULL;
		return (void *)(l->premap[i] + (addr - v->start));
	}
	return NULL;
}

int rst_write_target(struct rst_image *img, struct rst_layout *l, uint64_t addr, const void *src,
		     size_t len)
{
	void *at = target(img, l, addr, len, 1);
	if (!at)
		return -1;
	memcpy(at, src, len);
	return 0;
}

int rst_read_target(const struct rst_image *img, const struct rst_layout *l, uint64_t addr,
		    void *dst, size_t len)
{
	const void *at = target(img, l, addr, len, 0);
	if (!at)
		return -1;
	memcpy(dst, at, len);
	return 0;
}
