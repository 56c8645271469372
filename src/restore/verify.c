/* The checksums of the memory a restart maps from its image files (instant
 * restart, mapimg.c), verified by `stasis restart` itself while the restarted
 * program already runs: the program's first instruction no longer waits for
 * a pass over all its memory (1 GiB: about 90 ms), and the pass reads the
 * pages into the page cache ahead of it. It runs on restart's main thread
 * once the restored processes are created, before the terminal relay (a
 * process that has unshared a PID namespace cannot start threads, and one
 * with threads cannot unshare a user namespace).
 *
 * The restored processes map the raw chunks without reading them
 * (mapimg.c); this pass takes the same plan (rst_map_plan) and reads every
 * stored chunk that has a mapped piece, from each file of an incremental
 * image's chain, through whole-file read-only mappings taken before the
 * restored processes exist (rst_verify_prepare): they hold the very files the
 * restorers map (checked by device and inode), even if later checkpoints'
 * retention removes them meanwhile, are not inherited (MADV_DONTFORK) and
 * hold no descriptor. The pages read are given back every 64 MiB. A chunk
 * that fails its checksum kills the restarted computation at once (SIGKILL to
 * its PID namespace's init, which takes every process of the namespace with
 * it), and restart fails naming the image file that holds the chunk, its
 * offset and its address: the program may have run for that long on memory
 * that is not what was saved. `stasis restart --no-map` reads and verifies
 * every chunk before the program runs; `--no-verify` verifies nothing. */
#include "restore/verify.h"
#include "restore/chain.h"
#include "restore/load.h"
#include "restore/mapimg.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define WINDOW (64ull << 20)

/* One image's files (0: the image, k: the k-th below it) mapped whole. */
struct held {
	uint32_t n;
	const uint8_t **base;
	uint64_t *len;
	const char **path;
};
static struct held *held; /* per image of the set; restart's main thread only */

static int hold_file(struct held *h, uint32_t k, const struct img_reader *r)
{
	void *m = mmap(NULL, r->file_size, PROT_READ, MAP_SHARED, r->fd, 0);
	if (m == MAP_FAILED || madvise(m, r->file_size, MADV_DONTFORK) < 0)
		return error("cannot map %s to verify the memory mapped from it: %s; restart "
			     "with --no-verify to skip the check, or --no-map to read the "
			     "memory instead",
			     r->path, strerror(errno));
	h->base[k] = m;
	h->len[k] = r->file_size;
	return 0;
}

static int hold_image(struct held *h, const struct rst_image *img)
{
	char err[1024];
	uint32_t nfiles = rst_chain_files(img);
	struct img_reader *readers = calloc(nfiles + 1, sizeof(*readers));
	h->n = nfiles + 1;
	h->base = calloc(h->n, sizeof(*h->base));
	h->len = calloc(h->n, sizeof(*h->len));
	h->path = calloc(h->n, sizeof(*h->path));
	if (!readers || !h->base || !h->len || !h->path) {
		free(readers);
		return error("out of memory");
	}
	if (rst_chain_open(img, readers, err, sizeof(err)) < 0) {
		free(readers);
		return error("%s", err);
	}
	int rc = hold_file(h, 0, &img->r);
	h->path[0] = img->r.path;
	for (uint32_t k = 0; k < nfiles && rc == 0; k++) {
		rc = hold_file(h, k + 1, &readers[k]);
		h->path[k + 1] = rst_chain_path(img, k);
	}
	rst_chain_close(img, readers, nfiles);
	free(readers);
	return rc;
}

static int corrupt(struct rst_verify *j, const char *path, const struct img_chunk *c)
{
	error("%s is corrupt: memory chunk at offset %llu (address %#llx) fails its checksum; the "
	      "restarted computation is killed (it ran on memory that is not what was saved). "
	      "Restart from another image, or use --no-map to check every chunk before the "
	      "program runs",
	      path, (unsigned long long)c->offset, (unsigned long long)c->vaddr);
	j->corrupt = 1;
	kill(j->init, SIGKILL);
	return -1;
}

/* The pages of file k read since *from (up to to) given back, every WINDOW. */
static void give_back(const struct held *h, uint32_t k, uint64_t *from, uint64_t to, int all)
{
	uint64_t a = *from & ~(IMG_PAGE - 1), b = (to + IMG_PAGE - 1) & ~(IMG_PAGE - 1);
	if (b > h->len[k])
		b = h->len[k];
	if (b > a && (all || b - a >= WINDOW)) {
		madvise((void *)(h->base[k] + a), b - a, MADV_DONTNEED);
		*from = to;
	}
}

/* Pieces order[from, to) are the pieces of one stored chunk (chain.c): it is
 * verified if any of them is mapped. */
static int verify_group(struct rst_verify *j, const struct rst_image *img, const struct held *h,
			const uint8_t *mapped, const uint32_t *pieces, uint32_t n)
{
	uint32_t k = 0;
	while (k < n && !mapped[pieces[k]])
		k++;
	if (k == n)
		return 0;
	const struct img_chunk *c = rst_piece_whole(img, pieces[k]);
	uint32_t f = rst_piece_file(img, pieces[k]);
	uint64_t len = (uint64_t)c->npages * IMG_PAGE;
	j->bytes += len;
	if (c->offset > h->len[f] || len > h->len[f] - c->offset ||
	    img_sum(h->base[f] + c->offset, len) != c->sum)
		return corrupt(j, h->path[f], c);
	return 0;
}

static int verify_image(struct rst_verify *j, const struct rst_image *img, const struct held *h)
{
	uint32_t n = img->nchunks, *order = malloc((n + 1) * sizeof(*order)),
		 *starts = malloc((n + 1) * sizeof(*starts));
	uint8_t *mapped = calloc(n + 1, 1);
	int rc = 0;
	if (!order || !starts || !mapped ||
	    rst_map_plan(img, j->set->opt.max_map_count, mapped, NULL, NULL) < 0) {
		error("out of memory verifying the memory mapped from %s; the restarted "
		      "computation is killed",
		      img->r.path);
		j->failed = 1;
		kill(j->init, SIGKILL);
		rc = -1;
	}
	uint32_t groups = rc ? 0 : rst_piece_groups(img, order, starts), file = 0;
	uint64_t from = 0;
	for (uint32_t g = 0; g < groups && rc == 0; g++) {
		uint32_t to = g + 1 < groups ? starts[g + 1] : n,
			 f = rst_piece_file(img, order[starts[g]]);
		const struct img_chunk *c = rst_piece_whole(img, order[starts[g]]);
		if (f != file) {
			give_back(h, file, &from, h->len[file], 1);
			file = f;
			from = c->offset;
		}
		rc = verify_group(j, img, h, mapped, order + starts[g], to - starts[g]);
		give_back(h, f, &from, c->offset + (uint64_t)c->npages * IMG_PAGE, 0);
	}
	free(order);
	free(starts);
	free(mapped);
	return rc;
}

int rst_verify_prepare(struct rst_set *set)
{
	set->opt.verify_deferred = set->opt.map_images && set->opt.verify_mapped;
	if (!set->opt.verify_deferred)
		return 0;
	if (!(held = calloc(set->n, sizeof(*held))))
		return error("out of memory");
	for (int i = 0; i < set->n; i++)
		if (hold_image(&held[i], &set->img[i]) < 0)
			return -1;
	return 0;
}

static void release(struct rst_set *set)
{
	for (int i = 0; i < set->n && held; i++) {
		for (uint32_t k = 0; k < held[i].n && held[i].base; k++)
			if (held[i].base[k])
				munmap((void *)held[i].base[k], held[i].len[k]);
		free(held[i].base);
		free(held[i].len);
		free(held[i].path);
	}
	free(held);
	held = NULL;
}

int rst_verify_run(struct rst_set *set, pid_t init)
{
	struct rst_verify j = {.set = set, .init = init};
	struct timespec t0, t1;
	if (!set->opt.verify_deferred)
		return 0;
	/* behind the program and its runtime's prefault (prefault.c) for the CPU:
	 * they make its first tick, this only has to come before its end */
	int nice = getpriority(PRIO_PROCESS, 0);
	setpriority(PRIO_PROCESS, 0, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < set->n && !j.corrupt && !j.failed; i++)
		verify_image(&j, &set->img[i], &held[i]);
	release(set);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	setpriority(PRIO_PROCESS, 0,
		    nice); /* may fail (raising needs privileges): it only waits now */
	if (j.bytes)
		debug("%" PRIu64 " MiB of mapped memory verified in %.1f ms, while the program ran",
		      j.bytes >> 20,
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return j.corrupt || j.failed ? -1 : 0;
}
