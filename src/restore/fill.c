/* Filling the premapped regions with the image's memory chunks, on as many
 * threads as there are cores (up to 4): page faults, copies, checksums and
 * decompression all run in parallel. The threads are gone before the blob runs. */
#include "restore/fill.h"
#include "restore/chain.h"
#include "restore/load.h"
#include "restore/mem.h"
#include "restore/shm.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#define MAX_WORKERS 4
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define FILLED_ELSEWHERE UINT64_MAX /* a shared object's pages: its creator fills them */

struct fill_job {
	struct rst_image *img;
	uint64_t *dst;	       /* per chunk: where its pages go now */
	const uint8_t *mapped; /* per chunk: mapped, not to be read */
	int verify; /* checksum the mapped chunks too (restart --no-verify: 0; restart itself
		       does once the program runs: verify.c) */
	uint64_t total, done;	    /* bytes of memory; done is atomic */
	struct progress *progress;  /* shown by the calling thread only */
	struct img_reader *readers; /* the chain's files (chain.c), if any */
	uint32_t n;
	uint32_t *order, *starts; /* pieces grouped by stored chunk (chain.c) */
	uint32_t ngroups;
	uint32_t next; /* atomic: next group to read */
	int failed;    /* atomic */
	pthread_t self;
	pthread_mutex_t lock;
	char err[512];
};

/* A mapped chunk's checksum, over the mapping: it brings the page-cache pages
 * into the page tables (no zeroing, no copy), much cheaper than reading. */
static int verify_mapped(const struct rst_image *img, const struct img_chunk *c, const void *mem,
			 char *err, size_t errlen)
{
	if (img_sum(mem, (size_t)c->npages * IMG_PAGE) == c->sum)
		return 0;
	return errf(err, errlen,
		    "%s is corrupt: memory chunk at offset %llu (address %#llx) fails its checksum",
		    img->r.path, (unsigned long long)c->offset, (unsigned long long)c->vaddr);
}

/* Group g (the pieces of one stored chunk): read once, into each piece's
 * place; mapped pieces and shared objects' pages are not read. */
static int fill_group(struct fill_job *j, uint32_t g, void **dsts, ZSTD_DCtx *d, void *tmp,
		      size_t tmpsize, void *whole, char *err, size_t errlen)
{
	uint32_t from = j->starts[g], to = g + 1 < j->ngroups ? j->starts[g + 1] : j->n;
	for (uint32_t at = from; at < to; at += IMG_CHUNK_PAGES) {
		const uint32_t *pieces = j->order + at;
		uint32_t n = to - at < IMG_CHUNK_PAGES ? to - at : IMG_CHUNK_PAGES, want = 0;
		uint64_t bytes = 0;
		for (uint32_t k = 0; k < n; k++) {
			uint32_t i = pieces[k];
			const struct img_chunk *c = &j->img->chunks[i];
			dsts[k] = NULL;
			if (j->dst[i] == FILLED_ELSEWHERE)
				continue;
			if (j->mapped[i]) { /* mapped from the image file: pages come on demand */
				if (j->verify && verify_mapped(j->img, c, (const void *)j->dst[i],
							       err, errlen) < 0)
					return -1;
				continue;
			}
			dsts[k] = (void *)j->dst[i];
			want++;
			bytes += (uint64_t)c->npages * IMG_PAGE;
			/* the pages first, in one call: writing into fresh memory took a
			 * fault per page (copy into 256 MiB: 1.7 GB/s, populated: 3.1) */
			madvise(dsts[k], (size_t)c->npages * IMG_PAGE, MADV_POPULATE_WRITE);
		}
		if (want && rst_read_group(j->img, j->readers, pieces, n, dsts, d, tmp, tmpsize,
					   whole, err, errlen) < 0)
			return -1;
		uint64_t done = __atomic_add_fetch(&j->done, bytes, __ATOMIC_RELAXED);
		if (pthread_self() == j->self)
			progress_update(j->progress, done, j->total);
	}
	return 0;
}

static void *worker(void *arg)
{
	struct fill_job *j = arg;
	size_t tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *tmp = fault_hit(FAULT_RST_ALLOC) ? NULL : malloc(tmpsize);
	void *whole = j->img->chunk_src ? malloc(IMG_CHUNK_PAGES * IMG_PAGE) : NULL;
	void **dsts = malloc(IMG_CHUNK_PAGES * sizeof(*dsts));
	ZSTD_DCtx *d = ZSTD_createDCtx();
	char err[512];
	if (!tmp || !d || !dsts || (j->img->chunk_src && !whole)) {
		snprintf(err, sizeof(err), "pid %u: no memory for the buffers reading %s",
			 j->img->proc->pid, j->img->r.path);
		goto fail;
	}
	for (;;) {
		uint32_t g = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (g >= j->ngroups || __atomic_load_n(&j->failed, __ATOMIC_RELAXED))
			break;
		if (fill_group(j, g, dsts, d, tmp, tmpsize, whole, err, sizeof(err)) < 0)
			goto fail;
	}
	goto out;
fail:
	pthread_mutex_lock(&j->lock);
	if (!j->failed++)
		snprintf(j->err, sizeof(j->err), "%s", err);
	pthread_mutex_unlock(&j->lock);
out:
	ZSTD_freeDCtx(d);
	free(tmp);
	free(whole);
	free(dsts);
	return NULL;
}

/* One worker per core, up to MAX_WORKERS, for memory worth it: below
 * SOLO_BYTES (the regions a mapped image leaves to read: stacks, heaps,
 * libraries' data, mostly zeros) starting a thread, its stack and its malloc
 * arena costs more than it saves, on the path to the program's first
 * instruction. */
#define SOLO_BYTES (4ull << 20)
static int workers_for(uint64_t bytes)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cores < 1 ? 1 : cores > MAX_WORKERS ? MAX_WORKERS : (int)cores;
	return bytes < SOLO_BYTES ? 1 : n;
}

int rst_fill(struct rst_image *img, const struct rst_layout *l)
{
	struct progress prog;
	char what[64];
	struct fill_job j = {.img = img,
			     .n = img->nchunks,
			     .lock = PTHREAD_MUTEX_INITIALIZER,
			     .self = pthread_self(),
			     .mapped = l->mapped,
			     .verify = l->opt->verify_mapped && !l->opt->verify_deferred,
			     .progress = &prog};
	snprintf(what, sizeof(what), "stasis: restoring pid %u", img->proc->pid);
	progress_start(&prog, what, log_get_fd());
	for (uint32_t c = 0; c < img->nchunks; c++)
		if (!l->mapped[c])
			j.total += (uint64_t)img->chunks[c].npages * IMG_PAGE;
	uint64_t toread = 0; /* bytes read, or checksummed through their mapping */
	for (uint32_t c = 0; c < img->nchunks; c++)
		if (!l->mapped[c] || j.verify)
			toread += (uint64_t)img->chunks[c].npages * IMG_PAGE;
	pthread_t t[MAX_WORKERS];
	int started = 0, n = workers_for(toread);
	debug("pid %u: %llu KiB of memory to read, on %d thread%s", img->proc->pid,
	      (unsigned long long)(toread >> 10), n, n > 1 ? "s" : "");
	j.dst = calloc(img->nchunks + 1, sizeof(uint64_t));
	j.order = malloc((img->nchunks + 1) * sizeof(uint32_t));
	j.starts = malloc((img->nchunks + 1) * sizeof(uint32_t));
	if (!j.dst || !j.order || !j.starts) {
		free(j.dst);
		free(j.order);
		free(j.starts);
		return error("out of memory");
	}
	j.ngroups = rst_piece_groups(img, j.order, j.starts);
	for (uint32_t v = 0; v < img->nvmas; v++) {
		const struct img_vma *r = &img->vmas[v];
		for (uint32_t c = r->first_chunk; l->premap[v] && c < r->first_chunk + r->nchunks;
		     c++)
			j.dst[c] = rst_shm_region(img, r)
				       ? FILLED_ELSEWHERE
				       : l->premap[v] + (img->chunks[c].vaddr - r->start);
	}
	for (uint32_t c = 0; c < img->nchunks; c++)
		if (!j.dst[c]) {
			free(j.dst);
			free(j.order);
			free(j.starts);
			return error("%s is corrupt: memory chunk %u belongs to no region",
				     img->r.path, c);
		}
	uint32_t nfiles = rst_chain_files(img);
	j.readers = calloc(nfiles + 1, sizeof(*j.readers));
	if (!j.readers)
		snprintf(j.err, sizeof(j.err), "out of memory");
	if (!j.readers || rst_chain_open(img, j.readers, j.err, sizeof(j.err)) < 0) {
		free(j.dst);
		free(j.order);
		free(j.starts);
		free(j.readers);
		return error("%s", j.err);
	}
	for (int i = 1; i < n; i++)
		if (pthread_create(&t[started], NULL, worker, &j) == 0)
			started++;
	worker(&j);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	progress_end(&prog);
	rst_chain_close(img, j.readers, nfiles);
	free(j.readers);
	free(j.dst);
	free(j.order);
	free(j.starts);
	return j.failed ? error("%s", j.err) : 0;
}
