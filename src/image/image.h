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

#define IMG_PIPE_SLOTS 8

struct img_pipe_slot {
	const void *mem;
	struct img_chunk *out;
	void *zbuf;	  /* ZSTD_compressBound(IMG_CHUNK_PAGES pages) bytes, when compressing */
	size_t len, zlen; /* zlen: compressed size, 0 to store the memory raw */
	uint64_t vaddr, seq, sum;
	uint32_t state;
};

/* Chunks prepared (sampled, compressed, checksummed) by the writer's thread
 * and one helper thread, and written in order by the writer's thread. */
struct img_pipe {
	struct img_pipe_slot slot[IMG_PIPE_SLOTS];
	struct ZSTD_CCtx_s *cctx; /* the helper's, when the writer compresses */
	uint64_t head, tail;	  /* chunks queued, chunks written */
	uint32_t queued;	  /* futex word: bumped when a chunk is queued, or on stop */
	uint32_t done;		  /* futex word: bumped when a chunk is prepared */
	uint32_t stop;
};

struct img_writer {
	int fd;
	uint64_t off;
	uint64_t flushed; /* writeback started for [header, flushed) */
	uint32_t nsec;
	int level;	       /* zstd level; compression is on when cctx is set */
	uint64_t nchunks;      /* chunks given so far */
	uint64_t skip_until;   /* chunks before this one are stored raw without a sample */
	struct img_pipe *pipe; /* chunk.c: chunks prepared on two threads, or NULL */
	struct ZSTD_CCtx_s *cctx;
	void *zbuf;
	size_t zbuf_size;
	uint64_t raw_bytes, stored_bytes;
	struct img_header hdr;
	struct img_section sec[IMG_MAX_SECTIONS];
	const char *failed; /* what failed ("write", "fsync", "rename", ...), for messages */
	char path[PATH_MAX];
	char tmp[PATH_MAX + 8];
};

int img_writer_open(struct img_writer *w, const char *path);
/* Turn compression on; zbuf must hold ZSTD_compressBound(IMG_CHUNK_PAGES pages). */
void img_writer_compress(struct img_writer *w, struct ZSTD_CCtx_s *cctx, void *zbuf,
			 size_t zbuf_size, int level);
/* Store npages of memory at mem (to be restored at vaddr); fills *out. With a
 * pipe, this only queues the chunk: mem must stay as it is, and *out is filled,
 * until img_writer_flush (which img_write_section and img_writer_finish call). */
int img_write_chunk(struct img_writer *w, const void *mem, uint32_t npages, uint64_t vaddr,
		    struct img_chunk *out);
/* Prepare chunks on a helper thread too (chunk.c). p's slots need their zbufs
 * and p->cctx when compression is on. The caller runs img_pipe_helper(w) on a
 * thread of its own; img_pipe_stop(w) makes it return. The helper shares the
 * writer thread's TLS: nothing it runs touches errno. */
void img_writer_pipe(struct img_writer *w, struct img_pipe *p);
void img_pipe_helper(struct img_writer *w);
void img_pipe_stop(struct img_writer *w);
/* Write every queued chunk (nothing to do without a pipe). */
int img_writer_flush(struct img_writer *w);
/* Append bytes at the end of the file (chunk.c). */
int img_write_at_end(struct img_writer *w, const void *data, size_t len);
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
/* len bytes at off of the image, or -1 with errno */
int img_pread(struct img_reader *r, void *buf, size_t len, uint64_t off);
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
/* The kind of a mapping the kernel provides, by its name in /proc/PID/maps
 * ("[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"), else 0. */
uint32_t img_vma_special(const char *name);
uint64_t img_sum(const void *data, size_t len);

#endif
