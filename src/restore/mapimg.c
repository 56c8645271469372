/* Instant restart: raw (uncompressed) memory chunks are not read but mapped
 * from the image file (MAP_PRIVATE at the chunk's page-aligned offset) over
 * their premapped region, so that pages arrive on demand from the page cache
 * and a write copies the page, never touching the file. Only private anonymous
 * regions are mapped (not the stack, which must keep growing down, nor the
 * brk heap), and only runs of at least MIN_RUN pages, so that a sparse region
 * does not turn into thousands of small mappings. Mapped chunks are not
 * checksummed (that would read them all): `stasis restart --no-map` reads and
 * verifies every chunk instead. docs/design.md ("Instant restart") has the
 * consequences for the next checkpoint and for the image files. */
#include "restore/mapimg.h"
#include "restore/blob/restart_info.h"
#include "restore/load.h"
#include "restore/mem.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_RUN 16	  /* pages: smaller runs are read */
#define MAX_MAPPINGS 4096 /* per process: far below vm.max_map_count */

static int mappable_vma(const struct img_vma *v)
{
	return v->kind == IMG_VMA_ANON && (v->prot & IMG_PROT_READ) && v->nchunks;
}

static int raw_chunk(const struct rst_image *img, const struct img_chunk *c)
{
	uint64_t len = (uint64_t)c->npages * IMG_PAGE;
	return c->comp == IMG_COMP_NONE && c->stored_size == len && c->offset % IMG_PAGE == 0 &&
	       c->offset <= img->r.hdr.table_off && len <= img->r.hdr.table_off - c->offset;
}

/* Chunk k continues chunk k-1 both in memory and in the file. */
static int continues(const struct img_chunk *prev, const struct img_chunk *c)
{
	uint64_t len = (uint64_t)prev->npages * IMG_PAGE;
	return prev->vaddr + len == c->vaddr && prev->offset + len == c->offset;
}

/* Remember the run's final addresses for the runtime (at most RT_MAX_MAPPED
 * ranges: beyond that the last one grows to cover the rest, a superset). */
static int note_run(struct rst_layout *l, uint64_t start, uint64_t len)
{
	if (!l->runs && !(l->runs = calloc(RT_MAX_MAPPED, sizeof(*l->runs))))
		return error("out of memory");
	if (l->nruns == RT_MAX_MAPPED) {
		l->runs[l->nruns - 1][1] = start + len;
		return 0;
	}
	l->runs[l->nruns][0] = start;
	l->runs[l->nruns++][1] = start + len;
	return 0;
}

static int map_run(struct rst_image *img, const struct img_vma *v, uint64_t at,
		   const struct img_chunk *first, uint64_t len)
{
	void *dst = (void *)(at + (first->vaddr - v->start));
	void *p = mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, img->r.fd,
		       first->offset);
	if (p == MAP_FAILED)
		return error("cannot map %llu bytes of %s at offset %llu (address %#llx): %s",
			     (unsigned long long)len, img->r.path,
			     (unsigned long long)first->offset, (unsigned long long)first->vaddr,
			     strerror(errno));
	return 0;
}

/* Map the runs of raw chunks of region v (premapped at `at`); marks them in
 * mapped[] so that rst_fill skips them. *budget counts mappings left. */
static int map_vma(struct rst_image *img, struct rst_layout *l, const struct img_vma *v,
		   uint64_t at, uint8_t *mapped, int *budget)
{
	uint32_t end = v->first_chunk + v->nchunks;
	for (uint32_t k = v->first_chunk; k<end && * budget> 0;) {
		uint32_t j = k;
		uint64_t pages = 0;
		while (j < end && raw_chunk(img, &img->chunks[j]) &&
		       (j == k || continues(&img->chunks[j - 1], &img->chunks[j])))
			pages += img->chunks[j++].npages;
		if (j == k) {
			k++;
			continue;
		}
		if (pages >= MIN_RUN) {
			if (map_run(img, v, at, &img->chunks[k], pages * IMG_PAGE) < 0 ||
			    note_run(l, img->chunks[k].vaddr, pages * IMG_PAGE) < 0)
				return -1;
			memset(mapped + k, 1, j - k);
			(*budget)--;
		}
		k = j;
	}
	return 0;
}

int rst_map_chunks(struct rst_image *img, struct rst_layout *l, uint8_t *mapped)
{
	int budget = MAX_MAPPINGS;
	if (!l->opt->map_images || img->chunk_src)
		return 0; /* chains are read: their chunks live in several files */
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (l->premap[i] && mappable_vma(&img->vmas[i]) &&
		    map_vma(img, l, &img->vmas[i], l->premap[i], mapped, &budget) < 0)
			return -1;
	return 0;
}
