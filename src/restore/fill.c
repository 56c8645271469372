/* Filling the premapped regions with the image's memory chunks, on as many
 * threads as there are cores (up to 4): page faults, copies, checksums and
 * decompression all run in parallel. The threads are gone before the blob runs. */
#include "restore/restore.h"
#include "common/log.h"
#include "common/progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define MAX_WORKERS 4
#define FILLED_ELSEWHERE UINT64_MAX /* a shared object's pages: its creator fills them */

struct fill_job {
	struct rst_image *img;
	uint64_t *dst;		    /* per chunk: where its pages go now */
	const uint8_t *mapped;	    /* per chunk: mapped, not to be read */
	uint64_t total, done;	    /* bytes of memory; done is atomic */
	struct progress *progress;  /* shown by the calling thread only */
	struct img_reader *readers; /* the chain's files (chain.c), if any */
	uint32_t n;
	uint32_t next; /* atomic: next chunk to read */
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
	if (!rst_verify_mapped || rst_verify_deferred ||
	    img_sum(mem, (size_t)c->npages * IMG_PAGE) == c->sum)
		return 0;
	snprintf(err, errlen,
		 "%s is corrupt: memory chunk at offset %llu (address %#llx) fails its checksum",
		 img->r.path, (unsigned long long)c->offset, (unsigned long long)c->vaddr);
	return -1;
}

static void *worker(void *arg)
{
	struct fill_job *j = arg;
	size_t tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *tmp = malloc(tmpsize);
	void *whole = j->img->chunk_src ? malloc(IMG_CHUNK_PAGES * IMG_PAGE) : NULL;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	char err[512];
	if (!tmp || !d || (j->img->chunk_src && !whole)) {
		snprintf(err, sizeof(err), "out of memory for restore buffers");
		goto fail;
	}
	for (;;) {
		uint32_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (i >= j->n || __atomic_load_n(&j->failed, __ATOMIC_RELAXED))
			break;
		const struct img_chunk *c = &j->img->chunks[i];
		if (j->dst[i] == FILLED_ELSEWHERE)
			continue;
		if (j->mapped[i] && rst_verify_deferred)
			continue;   /* restart verifies it while the program runs (verify.c) */
		if (j->mapped[i]) { /* mapped from the image file: pages come on demand */
			if (verify_mapped(j->img, c, (const void *)j->dst[i], err, sizeof(err)) < 0)
				goto fail;
			continue;
		}
		if (rst_read_piece(j->img, j->readers, i, (void *)j->dst[i], d, tmp, tmpsize, whole,
				   err, sizeof(err)) < 0)
			goto fail;
		uint64_t done =
		    __atomic_add_fetch(&j->done, (uint64_t)c->npages * IMG_PAGE, __ATOMIC_RELAXED);
		if (pthread_self() == j->self)
			progress_update(j->progress, done, j->total);
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
	return NULL;
}

static int workers_for(uint32_t nchunks)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cores < 1 ? 1 : cores > MAX_WORKERS ? MAX_WORKERS : (int)cores;
	return nchunks < 16 ? 1 : n;
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
			     .progress = &prog};
	snprintf(what, sizeof(what), "stasis: restoring pid %u", img->proc->pid);
	progress_start(&prog, what, log_get_fd());
	for (uint32_t c = 0; c < img->nchunks; c++)
		if (!l->mapped[c])
			j.total += (uint64_t)img->chunks[c].npages * IMG_PAGE;
	uint32_t toread = 0;
	for (uint32_t c = 0; c < img->nchunks; c++)
		toread += !l->mapped[c] || (rst_verify_mapped && !rst_verify_deferred);
	pthread_t t[MAX_WORKERS];
	int started = 0, n = workers_for(toread);
	j.dst = calloc(img->nchunks + 1, sizeof(uint64_t));
	if (!j.dst)
		return error("out of memory");
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
			return error("%s is corrupt: memory chunk %u belongs to no region",
				     img->r.path, c);
		}
	uint32_t nfiles = rst_chain_files(img);
	j.readers = calloc(nfiles + 1, sizeof(*j.readers));
	if (!j.readers)
		snprintf(j.err, sizeof(j.err), "out of memory");
	if (!j.readers || rst_chain_open(img, j.readers, j.err, sizeof(j.err)) < 0) {
		free(j.dst);
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
	return j.failed ? error("%s", j.err) : 0;
}
