/* stasis merge: one full image from an incremental image and the chain of
 * images it builds on. The new image has the same process state and the
 * memory the chain describes, stored in its own chunks (compressed like a
 * checkpoint, unless --no-compress), and no parent: the chain's files are no
 * longer needed to restart it. It is written like any image (temp file, fsync,
 * rename) and must not replace an image of the chain. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"
#include "restore/chain.h"
#include "restore/load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

enum { OPT_NO_COMPRESS = 256 };
static const struct cli_opt opts[] = {
    {"no-compress", OPT_NO_COMPRESS, NULL, "store the memory uncompressed (mappable at restart)"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "merge",
    .synopsis = "[--no-compress] IMAGE OUTPUT",
    .about = "Writes OUTPUT, a full image of IMAGE: an incremental image's memory is taken\n"
	     "from the chain of images it builds on, so that OUTPUT restarts without them.\n"
	     "OUTPUT must not be an image of the chain. A full IMAGE is copied as it is.",
    .opts = opts,
    .operands = "IMAGE and OUTPUT",
    .min_operands = 2,
    .max_operands = 2,
};

struct merge {
	struct rst_image img;
	struct img_reader *readers;
	struct img_writer w;
	struct img_chunk *out; /* the new chunks */
	uint32_t nout;
	uint8_t *buf, *whole, *tmp;
	size_t tmpsize;
	ZSTD_DCtx *dctx;
	/* pages gathered for the next chunk */
	uint64_t pending_addr;
	uint32_t pending_pages;
};

static int flush(struct merge *m)
{
	if (!m->pending_pages)
		return 0;
	if (img_write_chunk(&m->w, m->buf, m->pending_pages, m->pending_addr, &m->out[m->nout++]) <
	    0)
		return error("cannot write %s.tmp: %s", m->w.path, strerror(errno));
	m->pending_pages = 0;
	return 0;
}

/* Pieces of one region, gathered into chunks of up to IMG_CHUNK_PAGES pages. */
static int merge_vma(struct merge *m, struct img_vma *v)
{
	char err[1024];
	uint32_t first = m->nout;
	for (uint32_t i = v->first_chunk; i < v->first_chunk + v->nchunks; i++) {
		const struct img_chunk *c = &m->img.chunks[i];
		if (rst_read_piece(&m->img, m->readers, i, m->whole, m->dctx, m->tmp, m->tmpsize,
				   m->tmp + m->tmpsize, err, sizeof(err)) < 0)
			return error("%s", err);
		for (uint32_t p = 0; p < c->npages; p++) {
			uint64_t addr = c->vaddr + (uint64_t)p * IMG_PAGE;
			if (m->pending_pages &&
			    (m->pending_pages == IMG_CHUNK_PAGES ||
			     m->pending_addr + (uint64_t)m->pending_pages * IMG_PAGE != addr) &&
			    flush(m) < 0)
				return -1;
			if (!m->pending_pages)
				m->pending_addr = addr;
			memcpy(m->buf + (size_t)m->pending_pages++ * IMG_PAGE,
			       m->whole + (size_t)p * IMG_PAGE, IMG_PAGE);
		}
	}
	if (flush(m) < 0)
		return -1;
	v->first_chunk = first;
	v->nchunks = m->nout - first;
	return 0;
}

/* Every section of the image but chunks, vmas (rewritten) and parent (gone). */
static int copy_sections(struct merge *m)
{
	char err[1024];
	for (uint32_t i = 0; i < m->img.r.hdr.nsections; i++) {
		uint32_t type = m->img.r.sec[i].type;
		size_t size;
		if (type == IMG_SEC_CHUNKS || type == IMG_SEC_VMAS || type == IMG_SEC_PARENT)
			continue;
		void *data = img_load(&m->img.r, type, 0, &size, 0, err, sizeof(err));
		if (!data)
			return error("%s", err);
		int rc = img_write_section(&m->w, type, m->img.r.sec[i].flags, data, size);
		free(data);
		if (rc < 0)
			return error("cannot write %s.tmp: %s", m->w.path, strerror(errno));
	}
	if (img_write_section(&m->w, IMG_SEC_VMAS, 0, m->img.vmas,
			      m->img.nvmas * sizeof(struct img_vma)) < 0 ||
	    img_write_section(&m->w, IMG_SEC_CHUNKS, 0, m->out,
			      m->nout * sizeof(struct img_chunk)) < 0)
		return error("cannot write %s.tmp: %s", m->w.path, strerror(errno));
	return 0;
}

static int setup(struct merge *m, int compress)
{
	m->tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	m->buf = malloc(IMG_CHUNK_PAGES * IMG_PAGE);
	m->whole = malloc(IMG_CHUNK_PAGES * IMG_PAGE);
	/* tmp for compressed chunks, then room for a whole chunk read in part */
	m->tmp = malloc(m->tmpsize + IMG_CHUNK_PAGES * IMG_PAGE);
	m->out = calloc(m->img.nchunks * 2 + 1, sizeof(*m->out));
	m->readers = calloc(rst_chain_files(&m->img) + 1, sizeof(*m->readers));
	m->dctx = ZSTD_createDCtx();
	if (!m->buf || !m->whole || !m->tmp || !m->out || !m->readers || !m->dctx)
		return error("out of memory");
	if (compress) {
		size_t zs = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
		ZSTD_CCtx *c = ZSTD_createCCtx();
		void *zbuf = malloc(zs);
		if (!c || !zbuf)
			return error("out of memory");
		img_writer_compress(&m->w, c, zbuf, zs, 1);
	}
	return 0;
}

static int same_file(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static int merge(const char *in, const char *outpath, int compress)
{
	struct merge m;
	char err[1024];
	memset(&m, 0, sizeof(m));
	if (rst_load(&m.img, in, err, sizeof(err)) < 0)
		return error("cannot merge: %s", err);
	if (same_file(in, outpath))
		return error("cannot merge %s into itself: give another OUTPUT", in);
	for (uint32_t k = 0; k < rst_chain_files(&m.img); k++)
		if (same_file(rst_chain_path(&m.img, k), outpath))
			return error("%s is an image of the chain of %s: give another OUTPUT",
				     outpath, in);
	if (img_writer_open(&m.w, outpath) < 0)
		return error("cannot create %s.tmp: %s", outpath, strerror(errno));
	if (setup(&m, compress) < 0)
		goto fail;
	if (rst_chain_open(&m.img, m.readers, err, sizeof(err)) < 0) {
		error("%s", err);
		goto fail;
	}
	for (uint32_t v = 0; v < m.img.nvmas; v++)
		if (merge_vma(&m, &m.img.vmas[v]) < 0)
			goto fail;
	if (copy_sections(&m) < 0)
		goto fail;
	m.w.hdr.comp_id = m.img.r.hdr.comp_id;
	m.w.hdr.gen = m.img.r.hdr.gen;
	m.w.hdr.nprocs = m.img.r.hdr.nprocs;
	m.w.hdr.pid = m.img.r.hdr.pid;
	if (img_writer_finish(&m.w) < 0)
		return error("cannot write %s: %s", outpath, strerror(errno));
	printf("%s\n", outpath);
	return 0;
fail:
	img_writer_abort(&m.w);
	return -1;
}

int cmd_merge(int argc, char **argv)
{
	int compress = 1;
	const char *arg;
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));)
		if (key == OPT_NO_COMPRESS)
			compress = 0;
	return merge(argv[a.next], argv[a.next + 1], compress) < 0 ? 1 : 0;
}
