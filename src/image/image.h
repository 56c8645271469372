/* The one reader and writer of Stasis images (format: image/format.h).
 *
 * The writer allocates nothing: the caller owns the struct and, to compress,
 * provides a zstd context and an output buffer (the runtime builds them from
 * mmap'd memory so that nothing touches the application's malloc). The file is
 * written as <path>.tmp (mode 0600), fsynced, renamed over <path>, and the
 * directory fsynced: a crash never leaves a half-written image under <path>.
 *
 * The reader validates magic, version range, header and table checksums, the
 * file size against header and trailer, and each section's checksum when it is
 * loaded; every failure fills a caller buffer with what is wrong and where.
 */
#ifndef STASIS_IMAGE_IMAGE_H
#define STASIS_IMAGE_IMAGE_H

#include "image/format.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define IMG_MAX_SECTIONS 32

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

struct img_writer {
	int fd;
	uint64_t off;
	uint64_t flushed; /* writeback started for [header, flushed) */
	uint32_t nsec;
	int level; /* zstd level; compression is on when cctx is set */
	int skip_compress; /* chunks still to store raw after an incompressible sample */
	struct ZSTD_CCtx_s *cctx;
	void *zbuf;
	size_t zbuf_size;
	uint64_t raw_bytes, stored_bytes;
	struct img_header hdr;
	struct img_section sec[IMG_MAX_SECTIONS];
	char path[PATH_MAX];
	char tmp[PATH_MAX + 8];
};

int img_writer_open(struct img_writer *w, const char *path);
/* Turn compression on; zbuf must hold ZSTD_compressBound(IMG_CHUNK_PAGES pages). */
void img_writer_compress(struct img_writer *w, struct ZSTD_CCtx_s *cctx, void *zbuf,
			 size_t zbuf_size, int level);
/* Store npages of memory at mem (to be restored at vaddr); fills *out. */
int img_write_chunk(struct img_writer *w, const void *mem, uint32_t npages, uint64_t vaddr,
		    struct img_chunk *out);
int img_write_section(struct img_writer *w, uint32_t type, uint32_t flags, const void *data,
		      size_t size);
/* Fill w->hdr's identity fields (comp_id, gen, nprocs, pid, flags) before calling. */
int img_writer_finish(struct img_writer *w);
void img_writer_abort(struct img_writer *w);

struct img_reader {
	int fd;
	uint64_t file_size;
	struct img_header hdr;
	struct img_section *sec; /* nsections entries (malloc) */
	char path[PATH_MAX];
};

int img_open(struct img_reader *r, const char *path, char *err, size_t errlen);
void img_close(struct img_reader *r);
const struct img_section *img_find(const struct img_reader *r, uint32_t type);
/* Load a section (malloc'd, checksum verified). elem: expected element size (the
 * size must be a multiple of it), or 0. Missing section: NULL with *size 0 and no
 * error when optional is set. */
void *img_load(struct img_reader *r, uint32_t type, size_t elem, size_t *size, int optional,
	       char *err, size_t errlen);
/* Read and verify a chunk into dst (npages * 4096 bytes). dctx needed if compressed;
 * tmp: scratch of at least stored_size bytes for compressed chunks. */
int img_read_chunk(struct img_reader *r, const struct img_chunk *c, void *dst,
		   struct ZSTD_DCtx_s *dctx, void *tmp, size_t tmpsize, char *err, size_t errlen);
const char *img_section_name(uint32_t type);
const char *img_vma_kind_name(uint32_t kind);
const char *img_fd_type_name(uint32_t type);
uint64_t img_sum(const void *data, size_t len);

#endif
