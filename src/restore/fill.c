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

#include <errno.h>
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
#define POPULATE_MIN (16 * IMG_PAGE)		 /* bytes of a piece populated before it is read */
#define BATCH_BYTES (IMG_CHUNK_PAGES * IMG_PAGE) /* read at once: the size of whole */
#define FILLED_ELSEWHERE UINT64_MAX /* a shared object's pages: its creator fills them */
#define EXTENT (2ull << 20)	    /* the memory one page table maps */

struct fill_job {
	struct rst_image *img;
	uint64_t *dst;		    /* per chunk: where its pages go now */
	const uint8_t *mapped;	    /* per chunk: mapped, not to be read */
	uint64_t total, done;	    /* bytes of memory; done is atomic */
	struct progress *progress;  /* shown by the calling thread only */
	struct img_reader *readers; /* the chain's files (chain.c), if any */
	uint32_t n;
	uint32_t *order, *starts; /* pieces grouped by stored chunk (chain.c) */
	uint32_t ngroups;
	uint32_t *batches;   /* groups read together (fill_batch), nbatches + 1 */
	uint8_t *one_by_one; /* per batch: its groups read one by one (fill_group) */
	uint32_t nbatches;
	uint32_t next; /* atomic: next batch to read */
	int failed;    /* atomic */
	pthread_t self;
	pthread_mutex_t lock;
	char err[512];
};

/* The places of pieces[0..n) (the pieces of one stored chunk) that are read:
 * mapped pieces and shared objects' pages are not (NULL). Adds the bytes. */
static uint32_t pick(struct fill_job *j, const uint32_t *pieces, uint32_t n, void **dsts,
		     uint64_t *bytes)
{
	uint32_t want = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = pieces[k];
		size_t len = (size_t)j->img->chunks[i].npages * IMG_PAGE;
		dsts[k] = NULL;
		if (j->dst[i] == FILLED_ELSEWHERE || j->mapped[i])
			continue; /* mapped from the image file: pages come on demand */
		dsts[k] = (void *)j->dst[i];
		want++;
		*bytes += len;
		/* the pages first, in one call: writing into fresh memory took a
		 * fault per page (copy into 256 MiB: 1.7 GB/s, populated: 3.1); a
		 * page or a few fault as cheaply as the call */
		if (len >= POPULATE_MIN)
			madvise(dsts[k], len, MADV_POPULATE_WRITE);
	}
	return want;
}

static void done(struct fill_job *j, uint64_t bytes)
{
	uint64_t all = __atomic_add_fetch(&j->done, bytes, __ATOMIC_RELAXED);
	if (pthread_self() == j->self)
		progress_update(j->progress, all, j->total);
}

/* Group g (the pieces of one stored chunk): read once, into each piece's
 * place. */
static int fill_group(struct fill_job *j, uint32_t g, void **dsts, ZSTD_DCtx *d, void *tmp,
		      size_t tmpsize, void *whole, char *err, size_t errlen)
{
	uint32_t from = j->starts[g], to = g + 1 < j->ngroups ? j->starts[g + 1] : j->n;
	for (uint32_t at = from; at < to; at += IMG_CHUNK_PAGES) {
		const uint32_t *pieces = j->order + at;
		uint32_t n = to - at < IMG_CHUNK_PAGES ? to - at : IMG_CHUNK_PAGES;
		uint64_t bytes = 0;
		if (pick(j, pieces, n, dsts, &bytes) &&
		    rst_read_group(j->img, j->readers, pieces, n, dsts, d, tmp, tmpsize, whole, err,
				   errlen) < 0)
			return -1;
		done(j, bytes);
	}
	return 0;
}

static const struct img_chunk *group_whole(const struct fill_job *j, uint32_t g)
{
	return rst_piece_whole(j->img, j->order[j->starts[g]]);
}

/* Groups [g0, g1) are raw stored chunks of one file, in file order, within
 * one buffer: read with one call, each verified and copied. A chain's newer
 * images hold scattered pages as chunks of a page or a few: one read per
 * page cost more than the copy. */
static int fill_batch(struct fill_job *j, uint32_t g0, uint32_t g1, void **dsts, void *buf,
		      char *err, size_t errlen)
{
	const struct img_chunk *a = group_whole(j, g0), *z = group_whole(j, g1 - 1);
	struct img_reader *r = rst_piece_reader(j->img, j->readers, j->order[j->starts[g0]]);
	if (img_pread(r, buf, z->offset + z->stored_size - a->offset, a->offset) < 0)
		return errf(err, errlen, "cannot read the memory chunks at offset %llu of %s: %s",
			    (unsigned long long)a->offset, r->path, strerror(errno));
	for (uint32_t g = g0; g < g1; g++) {
		const struct img_chunk *c = group_whole(j, g);
		const uint8_t *src = (const uint8_t *)buf + (c->offset - a->offset);
		uint32_t from = j->starts[g],
			 n = (g + 1 < j->ngroups ? j->starts[g + 1] : j->n) - from;
		uint64_t bytes = 0;
		if (!pick(j, j->order + from, n, dsts, &bytes))
			continue;
		if (img_sum(src, c->stored_size) != c->sum)
			return errf(err, errlen,
				    "%s is corrupt: memory chunk at offset %llu (address %#llx) "
				    "fails its checksum",
				    r->path, (unsigned long long)c->offset,
				    (unsigned long long)c->vaddr);
		for (uint32_t k = 0; k < n; k++) {
			const struct img_chunk *p = &j->img->chunks[j->order[from + k]];
			if (dsts[k])
				memcpy(dsts[k], src + (p->vaddr - c->vaddr),
				       (size_t)p->npages * IMG_PAGE);
		}
		done(j, bytes);
	}
	return 0;
}

/* Some piece of group g is read. */
static int wanted(const struct fill_job *j, uint32_t g)
{
	uint32_t to = g + 1 < j->ngroups ? j->starts[g + 1] : j->n;
	for (uint32_t k = j->starts[g]; k < to; k++)
		if (j->dst[j->order[k]] != FILLED_ELSEWHERE && !j->mapped[j->order[k]])
			return 1;
	return 0;
}

/* The 2 MiB extent of premapped memory group g's first piece goes to. */
static uint64_t extent_of(const struct fill_job *j, uint32_t g)
{
	return j->dst[j->order[j->starts[g]]] / EXTENT;
}

/* Where each batch of groups starts: raw groups of one file read together
 * (fill_batch), or groups read one by one (fill_group) whose first pieces go
 * to one 2 MiB extent, so that no two threads fault pages in under one page
 * table's lock (1 GiB populated in 1 MiB pieces on 2 threads: 0.166 s, in 2
 * MiB ones: 0.13 s). Returns the number of batches; one_by_one[b] says how
 * batch b is read. */
static uint32_t plan_batches(const struct fill_job *j, uint32_t *batches, uint8_t *one_by_one)
{
	uint32_t nb = 0, f0 = 0, f = 0;
	uint64_t off;
	const struct img_chunk *a = NULL;
	int grouped = 0; /* the batch is of groups read one by one */
	for (uint32_t g = 0; g < j->ngroups; g++) {
		const struct img_chunk *c = group_whole(j, g),
				       *p = g ? group_whole(j, g - 1) : NULL;
		int raw = wanted(j, g) && rst_piece_raw(j->img, j->order[j->starts[g]], &f, &off);
		if (a && raw && f == f0 && c->offset >= p->offset + p->stored_size &&
		    c->offset + c->stored_size - a->offset <= BATCH_BYTES)
			continue;
		if (grouped && !raw && extent_of(j, g) == extent_of(j, batches[nb - 1]))
			continue;
		one_by_one[nb] = !raw;
		batches[nb++] = g;
		a = raw ? c : NULL;
		grouped = !raw;
		f0 = f;
	}
	batches[nb] = j->ngroups;
	return nb;
}

static void *worker(void *arg)
{
	struct fill_job *j = arg;
	size_t tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *tmp = fault_hit(FAULT_RST_ALLOC) ? NULL : malloc(tmpsize);
	void *whole = malloc(BATCH_BYTES);
	void **dsts = malloc(IMG_CHUNK_PAGES * sizeof(*dsts));
	ZSTD_DCtx *d = ZSTD_createDCtx();
	char err[512];
	if (!tmp || !d || !dsts || !whole) {
		snprintf(err, sizeof(err), "pid %u: no memory for the buffers reading %s",
			 j->img->proc->pid, j->img->r.path);
		goto fail;
	}
	for (;;) {
		uint32_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (b >= j->nbatches || __atomic_load_n(&j->failed, __ATOMIC_RELAXED))
			break;
		uint32_t g0 = j->batches[b], g1 = j->batches[b + 1];
		if (!j->one_by_one[b] && g1 - g0 > 1) {
			if (fill_batch(j, g0, g1, dsts, whole, err, sizeof(err)) < 0)
				goto fail;
			continue;
		}
		for (uint32_t g = g0; g < g1; g++)
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

static void free_job(struct fill_job *j)
{
	free(j->readers);
	free(j->dst);
	free(j->order);
	free(j->starts);
	free(j->batches);
	free(j->one_by_one);
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
			     .progress = &prog};
	snprintf(what, sizeof(what), "stasis: restoring pid %u", img->proc->pid);
	progress_start(&prog, what, log_get_fd());
	for (uint32_t c = 0; c < img->nchunks; c++)
		if (!l->mapped[c])
			j.total += (uint64_t)img->chunks[c].npages * IMG_PAGE;
	uint64_t toread = 0; /* bytes read */
	for (uint32_t c = 0; c < img->nchunks; c++)
		if (!l->mapped[c])
			toread += (uint64_t)img->chunks[c].npages * IMG_PAGE;
	pthread_t t[MAX_WORKERS];
	int started = 0, n = workers_for(toread);
	debug("pid %u: %llu KiB of memory to read, on %d thread%s", img->proc->pid,
	      (unsigned long long)(toread >> 10), n, n > 1 ? "s" : "");
	j.dst = calloc(img->nchunks + 1, sizeof(uint64_t));
	j.order = malloc((img->nchunks + 1) * sizeof(uint32_t));
	j.starts = malloc((img->nchunks + 1) * sizeof(uint32_t));
	j.batches = malloc((img->nchunks + 2) * sizeof(uint32_t));
	j.one_by_one = malloc(img->nchunks + 2);
	if (!j.dst || !j.order || !j.starts || !j.batches || !j.one_by_one) {
		free_job(&j);
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
			free_job(&j);
			return error("%s is corrupt: memory chunk %u belongs to no region",
				     img->r.path, c);
		}
	uint32_t nfiles = rst_chain_files(img);
	j.readers = calloc(nfiles + 1, sizeof(*j.readers));
	if (!j.readers)
		snprintf(j.err, sizeof(j.err), "out of memory");
	if (!j.readers || rst_chain_open(img, j.readers, j.err, sizeof(j.err)) < 0) {
		free_job(&j);
		return error("%s", j.err);
	}
	j.nbatches = plan_batches(&j, j.batches, j.one_by_one);
	for (int i = 1; i < n; i++)
		if (pthread_create(&t[started], NULL, worker, &j) == 0)
			started++;
	worker(&j);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	progress_end(&prog);
	rst_chain_close(img, j.readers, nfiles);
	free_job(&j);
	return j.failed ? error("%s", j.err) : 0;
}
