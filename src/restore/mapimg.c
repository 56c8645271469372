/* Instant restart: raw (uncompressed) memory chunks are not read but mapped
 * from the image file (MAP_PRIVATE at the chunk's page-aligned offset) over
 * their premapped region, so that pages arrive on demand from the page cache
 * and a write copies the page, never touching the file. Only private anonymous
 * regions are mapped (not the stack, which must keep growing down, nor the
 * brk heap).
 *
 * An incremental image's chunks are pieces of stored chunks of the several
 * files of its chain (chain.c); each file's pieces are mapped from that file.
 * A run is a stretch of one region mapped from one file: pieces of that file
 * whose file offsets follow their addresses. A run may span up to BRIDGE pages
 * between them that the file does not hold for it (pieces of other files or
 * compressed ones, read over the private mapping by rst_fill: a copy-on-write
 * fault in place of a fresh page's), and up to BRIDGE_HOLE pages stored as
 * nothing (zeroed here): a chain whose newer images rewrote scattered pages
 * maps its full image in one mapping per stretch between pages given back,
 * not one per rewritten page. Runs that map fewer than MIN_RUN pages are
 * read, and a process gets at most RST_MAX_MAPPINGS of them: the rest is
 * read, and fewer when vm.max_map_count leaves less room; when the kernel
 * refuses a mapping all the same (ENOMEM), that run and the rest are read.
 * Mapped chunks are not checksummed here: `stasis restart`
 * verifies them while the program runs (verify.c, with the same plan);
 * `--no-map` reads and verifies every chunk instead. docs/design.md ("Instant
 * restart") has the consequences for the next checkpoint and for the files. */
#include "restore/mapimg.h"
#include "restore/blob/restart_info.h"
#include "restore/chain.h"
#include "restore/load.h"
#include "restore/mem.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define MIN_RUN 16 /* pages mapped: smaller runs are read */
#define BRIDGE 64  /* pages a run may span that its file does not hold */
/* pages stored as nothing a run may span: each is zeroed by a copy-on-write
 * fault (2-3.5 us a page here), where a separate mapping costs an mmap and the
 * blob's mremap (4-7 us) */
#define BRIDGE_HOLE 2

static int mappable_vma(const struct img_vma *v)
{
	return v->kind == IMG_VMA_ANON && (v->prot & IMG_PROT_READ) && v->nchunks;
}

static uint64_t piece_end(const struct img_chunk *c)
{
	return c->vaddr + (uint64_t)c->npages * IMG_PAGE;
}

/* Piece j is in file f at the offset run r's layout gives its address. */
static int continues(const struct rst_image *img, uint32_t j, const struct rst_map_run *r)
{
	uint32_t f;
	uint64_t off;
	return rst_piece_raw(img, j, &f, &off) && f == r->file && off >= r->off &&
	       off - r->off == img->chunks[j].vaddr - r->vaddr;
}

/* The run that starts at piece k (raw) of region v's pieces [k, end): its
 * pieces of k's file marked in mapped[] if it is worth a mapping. */
static void plan_run(const struct rst_image *img, uint32_t k, uint32_t end, struct rst_map_run *r,
		     uint8_t *mapped)
{
	uint64_t to = piece_end(&img->chunks[k]), pages = img->chunks[k].npages;
	rst_piece_raw(img, k, &r->file, &r->off);
	r->vaddr = img->chunks[k].vaddr;
	r->first = r->last = k;
	uint64_t cover = to;
	for (uint32_t j = k + 1; j < end && img->chunks[j].vaddr <= to + BRIDGE * IMG_PAGE; j++) {
		if (img->chunks[j].vaddr > cover + BRIDGE_HOLE * IMG_PAGE)
			break;
		if (piece_end(&img->chunks[j]) > cover)
			cover = piece_end(&img->chunks[j]);
		if (continues(img, j, r)) {
			to = piece_end(&img->chunks[j]);
			pages += img->chunks[j].npages;
			r->last = j;
		}
	}
	r->len = to - r->vaddr;
	r->map = pages >= MIN_RUN;
	for (uint32_t j = k; r->map && j <= r->last; j++)
		mapped[j] = j == k || continues(img, j, r);
}

/* Region vi's runs; *budget counts the mappings left. */
static int plan_vma(const struct rst_image *img, uint32_t vi, uint8_t *mapped, int *budget,
		    rst_map_fn fn, void *arg)
{
	const struct img_vma *v = &img->vmas[vi];
	uint32_t end = v->first_chunk + v->nchunks, f;
	uint64_t off;
	for (uint32_t k = v->first_chunk; k<end && * budget> 0;) {
		struct rst_map_run r;
		if (!rst_piece_raw(img, k, &f, &off)) {
			k++;
			continue;
		}
		plan_run(img, k, end, &r, mapped);
		if (r.map) {
			(*budget)--;
			if (fn && fn(v, vi, &r, arg) < 0)
				return -1;
		}
		k = r.map ? r.last + 1 : k + 1; /* other files' pieces may start a run */
	}
	return 0;
}

/* Regions beside the program's while a process is restored (the restorer,
 * its libraries, the blob) and after it (what the program maps next). */
#define MAPS_RESERVE 1024
#define MAX_MAP_COUNT_DEFAULT 65530

/* While restored, each region is premapped with a guard page after it (two
 * regions); each run splits its region in up to 3. */
int rst_map_budget(long max_map_count, uint32_t nvmas)
{
	long left = (max_map_count - 2 * (long)nvmas - MAPS_RESERVE) / 2;
	return left <= 0 ? 0 : left < RST_MAX_MAPPINGS ? (int)left : RST_MAX_MAPPINGS;
}

long rst_max_map_count(void)
{
	char buf[32];
	long n = read_small_file("/proc/sys/vm/max_map_count", buf, sizeof(buf)) > 0
		     ? strtol(buf, NULL, 10)
		     : 0;
	return n > 0 ? n : MAX_MAP_COUNT_DEFAULT;
}

int rst_map_plan(const struct rst_image *img, long max_map_count, uint8_t *mapped, rst_map_fn fn,
		 void *arg)
{
	int budget = rst_map_budget(max_map_count, img->nvmas);
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (mappable_vma(&img->vmas[i]) && plan_vma(img, i, mapped, &budget, fn, arg) < 0)
			return -1;
	return 0;
}

/* Remember the run's final addresses for the runtime (at most RT_MAX_MAPPED
 * ranges, runs that touch merged: beyond that the last one grows to cover the
 * rest, a superset). */
static int note_run(struct rst_layout *l, uint64_t start, uint64_t len)
{
	if (!l->runs && !(l->runs = calloc(RT_MAX_MAPPED, sizeof(*l->runs))))
		return error("out of memory");
	if (l->nruns && l->runs[l->nruns - 1][1] == start) {
		l->runs[l->nruns - 1][1] = start + len;
		return 0;
	}
	if (l->nruns == RT_MAX_MAPPED) {
		l->runs[l->nruns - 1][1] = start + len;
		return 0;
	}
	l->runs[l->nruns][0] = start;
	l->runs[l->nruns++][1] = start + len;
	return 0;
}

/* Zero what run r spans that no piece covers (pages stored as nothing): the
 * mapping shows the file's bytes there. Pieces of other files are read over
 * the mapping by rst_fill. */
static void zero_holes(const struct rst_image *img, const struct rst_map_run *r, uint64_t at)
{
	uint64_t cover = r->vaddr;
	for (uint32_t j = r->first; j <= r->last; j++) {
		const struct img_chunk *c = &img->chunks[j];
		if (c->vaddr > cover) {
			void *p = (void *)(at + (cover - r->vaddr));
			madvise(p, c->vaddr - cover, MADV_POPULATE_WRITE);
			memset(p, 0, c->vaddr - cover);
		}
		if (piece_end(c) > cover)
			cover = piece_end(c);
	}
}

struct map_ctx {
	struct rst_image *img;
	struct rst_layout *l;
	struct img_reader *readers; /* the files below the image (chain.c) */
	uint32_t runs, files;	    /* mapped so far, and from how many files */
	uint64_t bytes;
	uint8_t *used;	 /* per file: mapped from */
	uint8_t *mapped; /* the plan's marks: a run read instead is unmarked */
	int refused;	 /* the kernel refused a mapping: the rest is read */
};

/* Run r is read instead of mapped: its region must still be there (a
 * MAP_FIXED that failed may have taken it away: made again, anonymous and
 * zero, as premapped). */
static int read_instead(struct map_ctx *m, const struct img_vma *v, const struct rst_map_run *r,
			uint64_t at, int err)
{
	if (msync((void *)at, r->len, MS_ASYNC) < 0 &&
	    mmap((void *)at, r->len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return error("pid %u: cannot map %llu bytes of its region %#llx-%#llx at %#llx "
			     "from its image (%s), nor make them again (%s): see vm.max_map_count",
			     m->img->proc->pid, (unsigned long long)r->len,
			     (unsigned long long)v->start, (unsigned long long)v->end,
			     (unsigned long long)r->vaddr, strerror(err), strerror(errno));
	if (!m->refused)
		warn("pid %u: the kernel refused to map more of its image (%s; vm.max_map_count is "
		     "%ld; %u runs mapped): the rest of its memory is read, which takes longer",
		     m->img->proc->pid, strerror(err), m->l->opt->max_map_count, m->runs);
	m->refused = 1;
	for (uint32_t j = r->first; j <= r->last; j++)
		m->mapped[j] = 0;
	return 0;
}

static int map_run(const struct img_vma *v, uint32_t vi, const struct rst_map_run *r, void *arg)
{
	struct map_ctx *m = arg;
	const struct img_reader *f = r->file ? &m->readers[r->file - 1] : &m->img->r;
	uint64_t at = m->l->premap[vi] + (r->vaddr - v->start);
	if (!m->l->premap[vi])
		return error("pid %u: region %#llx is not premapped", m->img->proc->pid,
			     (unsigned long long)v->start);
	if (m->refused)
		return read_instead(m, v, r, at, ENOMEM);
	void *p = fault_hit(FAULT_RST_MAP_RUN) ? MAP_FAILED
					       : mmap((void *)at, r->len, PROT_READ | PROT_WRITE,
						      MAP_PRIVATE | MAP_FIXED, f->fd, r->off);
	if (p == MAP_FAILED && errno == ENOMEM)
		return read_instead(m, v, r, at, errno);
	if (p == MAP_FAILED)
		return error("cannot map %llu bytes of %s at offset %llu (address %#llx): %s",
			     (unsigned long long)r->len, f->path, (unsigned long long)r->off,
			     (unsigned long long)r->vaddr, strerror(errno));
	zero_holes(m->img, r, at);
	m->runs++;
	m->bytes += r->len;
	m->files += !m->used[r->file];
	m->used[r->file] = 1;
	return note_run(m->l, r->vaddr, r->len);
}

int rst_map_chunks(struct rst_image *img, struct rst_layout *l, uint8_t *mapped)
{
	char err[1024];
	uint32_t nfiles = rst_chain_files(img);
	struct map_ctx m = {.img = img, .l = l, .mapped = mapped};
	if (!l->opt->map_images)
		return 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m.readers = calloc(nfiles + 1, sizeof(*m.readers));
	m.used = calloc(nfiles + 1, 1);
	if (!m.readers || !m.used) {
		free(m.readers);
		free(m.used);
		return error("out of memory");
	}
	int rc = rst_chain_open(img, m.readers, err, sizeof(err)) < 0 ? error("%s", err) : 0;
	if (rc == 0) {
		rc = rst_map_plan(img, l->opt->max_map_count, mapped, map_run, &m);
		rst_chain_close(img, m.readers, nfiles);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0 && m.runs)
		debug(
		    "pid %u: %llu MiB mapped in %u runs from %u of the %u image files, in %.1f ms",
		    img->proc->pid, (unsigned long long)(m.bytes >> 20), m.runs, m.files,
		    nfiles + 1, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	free(m.readers);
	free(m.used);
	return rc;
}
