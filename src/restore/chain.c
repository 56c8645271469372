/* Incremental images: an image with a parent section stores only the pages
 * written since its parent; its chunks with IMG_COMP_PARENT say "these pages
 * are in the parent, at the same address". Loading such an image loads its
 * parent (recursively, each checked against the identity the child recorded)
 * and resolves every chunk to the image file that holds its bytes: the result
 * is a list of pieces, each a part of one stored chunk of one file of the
 * chain, in address order like any image's chunks. A page the chain does not
 * hold is an error that names the pages and the images: never a silent zero.
 *
 * The parents' files are reopened by path when the pages are read (rst_fill,
 * stasis inspect, stasis merge), so that a restart holds no extra descriptors
 * while it puts the program's own at their numbers. */
#include "restore/chain.h"
#include "restore/load.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CHAIN 64

struct rst_chain {
	uint32_t n;	    /* files below this image: [0] is the parent */
	char **paths;	    /* absolute */
	uint64_t *sums;	    /* their header_sum */
	uint64_t *tables;   /* their hdr.table_off: where their stored chunks end */
	uint64_t (*ids)[2]; /* their st_dev, st_ino when loaded */
	uint32_t base_gen;  /* generation of the full image at the bottom */
	struct img_parent parent;
};

struct rst_src {
	uint32_t file; /* 0: this image; k: chain->paths[k - 1] */
	uint32_t reserved;
	struct img_chunk whole; /* the chunk as that file stores it */
};

static int parent_path(const struct rst_image *img, char *out, char *err, size_t errlen)
{
	const struct img_parent *p = &img->chain->parent;
	char dir[PATH_MAX], joined[PATH_MAX + 300];
	if (!memchr(p->name, 0, sizeof(p->name)) || !p->name[0] || strchr(p->name, '/'))
		return errf(err, errlen, "%s is corrupt: bad parent image name", img->r.path);
	snprintf(dir, sizeof(dir), "%s", img->r.path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	snprintf(joined, sizeof(joined), "%s/%s", slash ? dir : ".", p->name);
	if (!realpath(joined, out))
		return errf(err, errlen,
			    "%s is an incremental image built on %s (generation %u), which "
			    "cannot be opened: %s; restart needs every image of the chain "
			    "(or an image merged with `stasis merge`)",
			    img->r.path, joined, p->gen, strerror(errno));
	return 0;
}

/* The parent, loaded and checked to be the very image the child built on. */
static int load_parent(struct rst_image *img, struct rst_image *par, int depth, char *err,
		       size_t errlen)
{
	char path[PATH_MAX], e[1024];
	const struct img_parent *p = &img->chain->parent;
	if (depth >= MAX_CHAIN)
		return errf(err, errlen, "%s: chain of incremental images longer than %d",
			    img->r.path, MAX_CHAIN);
	if (parent_path(img, path, err, errlen) < 0)
		return -1;
	if (rst_load_depth(par, path, depth + 1, e, sizeof(e)) < 0)
		return errf(err, errlen, "%s builds on %s, which cannot be used: %s", img->r.path,
			    path, e);
	if (par->r.hdr.header_sum != p->header_sum || par->r.hdr.comp_id != img->r.hdr.comp_id ||
	    par->proc->pid != img->proc->pid)
		return errf(err, errlen,
			    "%s builds on generation %u of the same process, but %s is "
			    "another image (checksum %016llx, expected %016llx): it was "
			    "replaced; the chain cannot be restarted",
			    img->r.path, p->gen, path, (unsigned long long)par->r.hdr.header_sum,
			    (unsigned long long)p->header_sum);
	return 0;
}

static int take_chain(struct rst_chain *c, const struct rst_image *par)
{
	uint32_t below = par->chain ? par->chain->n : 0;
	c->n = 1 + below;
	c->paths = calloc(c->n, sizeof(char *));
	c->sums = calloc(c->n, sizeof(uint64_t));
	c->tables = calloc(c->n, sizeof(uint64_t));
	c->ids = calloc(c->n, sizeof(*c->ids));
	struct stat st;
	if (!c->paths || !c->sums || !c->tables || !c->ids || fstat(par->r.fd, &st) < 0 ||
	    !(c->paths[0] = realpath(par->r.path, NULL)))
		return -1;
	c->sums[0] = par->r.hdr.header_sum;
	c->tables[0] = par->r.hdr.table_off;
	c->ids[0][0] = st.st_dev;
	c->ids[0][1] = st.st_ino;
	for (uint32_t k = 0; k < below; k++) {
		if (!(c->paths[k + 1] = strdup(par->chain->paths[k])))
			return -1;
		c->sums[k + 1] = par->chain->sums[k];
		c->tables[k + 1] = par->chain->tables[k];
		memcpy(c->ids[k + 1], par->chain->ids[k], sizeof(c->ids[k]));
	}
	c->base_gen = par->chain ? par->chain->base_gen : par->r.hdr.gen;
	return 0;
}

struct pieces {
	struct img_chunk *chunks;
	struct rst_src *src;
	uint32_t n, cap;
};

static int push(struct pieces *o, const struct img_chunk *piece, const struct rst_src *src)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 1024;
		struct img_chunk *c = realloc(o->chunks, o->cap * sizeof(*c));
		if (c)
			o->chunks = c;
		struct rst_src *s = realloc(o->src, o->cap * sizeof(*s));
		if (s)
			o->src = s;
		if (!c || !s)
			return -1;
	}
	o->chunks[o->n] = *piece;
	o->src[o->n++] = *src;
	return 0;
}

/* The parent's source for its piece k, seen from the child (one level up). */
static struct rst_src parent_src(const struct rst_image *par, uint32_t k)
{
	struct rst_src s = {.file = 1, .whole = par->chunks[k]};
	if (par->chunk_src) {
		s = par->chunk_src[k];
		s.file++;
	}
	return s;
}

static uint32_t first_overlap(const struct rst_image *par, uint64_t addr)
{
	uint32_t lo = 0, hi = par->nchunks;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		const struct img_chunk *c = &par->chunks[mid];
		if (c->vaddr + (uint64_t)c->npages * IMG_PAGE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Chunk c of the child says its pages are in the parent: the parent's pieces
 * that cover them, cut to fit. */
static int resolve_ref(const struct rst_image *img, const struct rst_image *par,
		       const struct img_chunk *c, struct pieces *o, char *err, size_t errlen)
{
	uint64_t at = c->vaddr, end = c->vaddr + (uint64_t)c->npages * IMG_PAGE;
	for (uint32_t k = first_overlap(par, at); k < par->nchunks && at < end; k++) {
		const struct img_chunk *p = &par->chunks[k];
		uint64_t ps = p->vaddr, pe = p->vaddr + (uint64_t)p->npages * IMG_PAGE;
		if (ps > at)
			break;
		uint64_t e = pe < end ? pe : end;
		struct img_chunk piece = *p;
		piece.vaddr = at;
		piece.npages = (e - at) / IMG_PAGE;
		struct rst_src s = parent_src(par, k);
		if (push(o, &piece, &s) < 0)
			return errf(err, errlen, "out of memory");
		at = e;
	}
	if (at < end)
		return errf(err, errlen,
			    "%s is inconsistent with its parent %s: pages %#llx-%#llx are in "
			    "neither; the chain cannot be restarted",
			    img->r.path, par->r.path, (unsigned long long)at,
			    (unsigned long long)end);
	return 0;
}

static int resolve(struct rst_image *img, const struct rst_image *par, char *err, size_t errlen)
{
	struct pieces o = {0};
	for (uint32_t v = 0; v < img->nvmas; v++) {
		struct img_vma *r = &img->vmas[v];
		uint32_t first = o.n;
		for (uint32_t k = r->first_chunk; k < r->first_chunk + r->nchunks; k++) {
			const struct img_chunk *c = &img->chunks[k];
			struct rst_src own = {.file = 0, .whole = *c};
			if (c->comp == IMG_COMP_PARENT
				? resolve_ref(img, par, c, &o, err, errlen) < 0
				: push(&o, c, &own) < 0) {
				free(o.chunks);
				free(o.src);
				return err[0] ? -1 : errf(err, errlen, "out of memory");
			}
		}
		r->first_chunk = first;
		r->nchunks = o.n - first;
	}
	free(img->chunks);
	img->chunks = o.chunks;
	img->chunk_src = o.src;
	img->nchunks = o.n;
	return 0;
}

int rst_chain_load(struct rst_image *img, int depth, char *err, size_t errlen)
{
	size_t size;
	err[0] = 0;
	if (!img_find(&img->r, IMG_SEC_PARENT))
		return 0;
	struct img_parent *p = img_load(&img->r, IMG_SEC_PARENT, sizeof(*p), &size, 0, err, errlen);
	if (!p)
		return -1;
	img->chain = calloc(1, sizeof(*img->chain));
	if (!img->chain || size != sizeof(*p)) {
		free(p);
		return errf(err, errlen, "%s is corrupt: bad parent section", img->r.path);
	}
	img->chain->parent = *p;
	free(p);
	struct rst_image par;
	memset(&par, 0, sizeof(par));
	par.r.fd = -1;
	int rc = load_parent(img, &par, depth, err, errlen);
	if (rc == 0 && take_chain(img->chain, &par) < 0)
		rc = errf(err, errlen, "out of memory");
	if (rc == 0)
		rc = resolve(img, &par, err, errlen);
	rst_free(&par);
	return rc;
}

void rst_chain_free(struct rst_image *img)
{
	if (img->chain) {
		for (uint32_t k = 0; k < img->chain->n && img->chain->paths; k++)
			free(img->chain->paths[k]);
		free(img->chain->paths);
		free(img->chain->sums);
		free(img->chain->tables);
		free(img->chain->ids);
		free(img->chain);
	}
	free(img->chunk_src);
	img->chain = NULL;
	img->chunk_src = NULL;
}

uint32_t rst_chain_base_gen(const struct rst_image *img)
{
	return img->chain ? img->chain->base_gen : img->r.hdr.gen;
}

uint32_t rst_piece_file(const struct rst_image *img, uint32_t i)
{
	return img->chunk_src ? img->chunk_src[i].file : 0;
}

const char *rst_chain_parent(const struct rst_image *img, uint32_t *gen, uint32_t *depth)
{
	if (!img->chain)
		return NULL;
	*gen = img->chain->parent.gen;
	*depth = img->chain->parent.depth;
	return img->chain->paths[0];
}

const struct img_parent *rst_chain_record(const struct rst_image *img)
{
	return img->chain ? &img->chain->parent : NULL;
}

const char *rst_chain_path(const struct rst_image *img, uint32_t k)
{
	return img->chain->paths[k];
}

uint32_t rst_chain_files(const struct rst_image *img)
{
	return img->chain ? img->chain->n : 0;
}

int rst_chain_open(const struct rst_image *img, struct img_reader *readers, char *err,
		   size_t errlen)
{
	for (uint32_t k = 0; k < rst_chain_files(img); k++) {
		if (img_open(&readers[k], img->chain->paths[k], err, errlen) < 0) {
			rst_chain_close(img, readers, k);
			return -1;
		}
		struct stat st;
		if (readers[k].hdr.header_sum != img->chain->sums[k] ||
		    fstat(readers[k].fd, &st) < 0 || st.st_dev != img->chain->ids[k][0] ||
		    st.st_ino != img->chain->ids[k][1]) {
			errf(err, errlen,
			     "%s was replaced since the restart loaded it (another file or "
			     "image at that path); restart again",
			     img->chain->paths[k]);
			rst_chain_close(img, readers, k + 1);
			return -1;
		}
	}
	return 0;
}

void rst_chain_close(const struct rst_image *img, struct img_reader *readers, uint32_t n)
{
	(void)img;
	for (uint32_t k = 0; k < n; k++)
		img_close(&readers[k]);
}

/* Whether the stored chunk at c (in a file whose chunks end at table_off) is
 * raw and page-aligned: its pages can be mapped from the file. */
static int raw_at(const struct img_chunk *c, uint64_t table_off)
{
	uint64_t len = (uint64_t)c->npages * IMG_PAGE;
	return c->comp == IMG_COMP_NONE && c->stored_size == len && c->offset % IMG_PAGE == 0 &&
	       c->offset <= table_off && len <= table_off - c->offset;
}

int rst_piece_raw(const struct rst_image *img, uint32_t i, uint32_t *file, uint64_t *off)
{
	const struct img_chunk *c = &img->chunks[i];
	if (!img->chunk_src) {
		*file = 0;
		*off = c->offset;
		return raw_at(c, img->r.hdr.table_off);
	}
	const struct rst_src *s = &img->chunk_src[i];
	*file = s->file;
	*off = s->whole.offset + (c->vaddr - s->whole.vaddr);
	return raw_at(&s->whole, s->file ? img->chain->tables[s->file - 1] : img->r.hdr.table_off);
}

struct img_reader *rst_piece_reader(struct rst_image *img, struct img_reader *readers, uint32_t i)
{
	uint32_t f = rst_piece_file(img, i);
	return f ? &readers[f - 1] : &img->r;
}

const struct img_chunk *rst_piece_whole(const struct rst_image *img, uint32_t i)
{
	return img->chunk_src ? &img->chunk_src[i].whole : &img->chunks[i];
}

int rst_read_piece(struct rst_image *img, struct img_reader *readers, uint32_t i, void *dst,
		   struct ZSTD_DCtx_s *dctx, void *tmp, size_t tmpsize, void *whole_buf, char *err,
		   size_t errlen)
{
	const struct img_chunk *c = &img->chunks[i];
	if (!img->chunk_src)
		return img_read_chunk(&img->r, c, dst, dctx, tmp, tmpsize, err, errlen);
	const struct rst_src *s = &img->chunk_src[i];
	struct img_reader *r = s->file ? &readers[s->file - 1] : &img->r;
	if (s->whole.vaddr == c->vaddr && s->whole.npages == c->npages)
		return img_read_chunk(r, &s->whole, dst, dctx, tmp, tmpsize, err, errlen);
	/* a part of a stored chunk: the whole is read (and verified), the part copied */
	if (img_read_chunk(r, &s->whole, whole_buf, dctx, tmp, tmpsize, err, errlen) < 0)
		return -1;
	memcpy(dst, (char *)whole_buf + (c->vaddr - s->whole.vaddr), (size_t)c->npages * IMG_PAGE);
	return 0;
}

/* Pieces that are parts of one stored chunk come together: the order of
 * pieces by (file, stored chunk), and where each group of one stored chunk
 * starts in it. A restart then reads and verifies each stored chunk once,
 * not once per piece (a chain whose newer images rewrote every 16th page cut
 * each 1 MiB chunk of the full image into 16 pieces: 16 reads of it). */
static const struct rst_src *sort_src;

static int by_source(const void *a, const void *b)
{
	const struct rst_src *x = &sort_src[*(const uint32_t *)a];
	const struct rst_src *y = &sort_src[*(const uint32_t *)b];
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->whole.offset != y->whole.offset)
		return x->whole.offset < y->whole.offset ? -1 : 1;
	return (*(const uint32_t *)a > *(const uint32_t *)b) -
	       (*(const uint32_t *)a < *(const uint32_t *)b);
}

uint32_t rst_piece_groups(const struct rst_image *img, uint32_t *order, uint32_t *starts)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < img->nchunks; i++)
		order[i] = i;
	if (!img->chunk_src) {
		for (uint32_t i = 0; i < img->nchunks; i++)
			starts[i] = i;
		return img->nchunks;
	}
	sort_src = img->chunk_src; /* the restorer sorts on one thread */
	qsort(order, img->nchunks, sizeof(*order), by_source);
	for (uint32_t k = 0; k < img->nchunks; k++) {
		const struct rst_src *s = &img->chunk_src[order[k]];
		const struct rst_src *p = k ? &img->chunk_src[order[k - 1]] : NULL;
		if (!p || p->file != s->file || p->whole.offset != s->whole.offset)
			starts[n++] = k;
	}
	return n;
}

int rst_read_group(struct rst_image *img, struct img_reader *readers, const uint32_t *pieces,
		   uint32_t n, void *const *dst, struct ZSTD_DCtx_s *dctx, void *tmp,
		   size_t tmpsize, void *whole_buf, char *err, size_t errlen)
{
	if (n == 1 || !img->chunk_src) {
		for (uint32_t k = 0; k < n; k++)
			if (dst[k] && rst_read_piece(img, readers, pieces[k], dst[k], dctx, tmp,
						     tmpsize, whole_buf, err, errlen) < 0)
				return -1;
		return 0;
	}
	const struct rst_src *s = &img->chunk_src[pieces[0]];
	struct img_reader *r = s->file ? &readers[s->file - 1] : &img->r;
	if (img_read_chunk(r, &s->whole, whole_buf, dctx, tmp, tmpsize, err, errlen) < 0)
		return -1;
	for (uint32_t k = 0; k < n; k++) {
		const struct img_chunk *c = &img->chunks[pieces[k]];
		if (dst[k])
			memcpy(dst[k], (char *)whole_buf + (c->vaddr - s->whole.vaddr),
			       (size_t)c->npages * IMG_PAGE);
	}
	return 0;
}
