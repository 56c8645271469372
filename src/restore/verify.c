/* The checksums of the memory a restart maps from its image files (instant
 * restart, mapimg.c), verified by `stasis restart` itself while the restarted
 * program already runs: the program's first instruction no longer waits for
 * a pass over all its memory (1 GiB: about 90 ms), and the pass reads the
 * pages into the page cache ahead of it. It runs on restart's main thread
 * once the restored processes are created, before the terminal relay (a
 * process that has unshared a PID namespace cannot start threads, and one
 * with threads cannot unshare a user namespace).
 *
 * The restored processes map the raw chunks without reading them; this
 * thread reads every raw chunk that could be mapped (a superset: the few that
 * are read instead are verified twice) from the same open files, in windows
 * of up to 64 MiB mapped read-only. A chunk that fails its checksum kills the
 * restarted computation at once (SIGKILL to its PID namespace's init, which
 * takes every process of the namespace with it), and restart fails naming the
 * image, the chunk's offset and its address: the program may have run for
 * that long on memory that is not what was saved. `stasis restart --no-map`
 * reads and verifies every chunk before the program runs; `--no-verify`
 * verifies nothing. */
#include "restore/verify.h"
#include "restore/load.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define WINDOW (64ull << 20)

static int mappable(const struct rst_image *img, const struct img_vma *v, const struct img_chunk *c)
{
	uint64_t len = (uint64_t)c->npages * IMG_PAGE;
	return v->kind == IMG_VMA_ANON && (v->prot & IMG_PROT_READ) && c->comp == IMG_COMP_NONE &&
	       c->stored_size == len && c->offset % IMG_PAGE == 0 &&
	       c->offset <= img->r.hdr.table_off && len <= img->r.hdr.table_off - c->offset;
}

static int corrupt(struct rst_verify *j, const struct rst_image *img, const struct img_chunk *c)
{
	error("%s is corrupt: memory chunk at offset %llu (address %#llx) fails its checksum; the "
	      "restarted computation is killed (it ran on memory that is not what was saved). "
	      "Restart from another image, or use --no-map to check every chunk before the "
	      "program runs",
	      img->r.path, (unsigned long long)c->offset, (unsigned long long)c->vaddr);
	j->corrupt = 1;
	kill(j->init, SIGKILL);
	return -1;
}

/* Chunks [k, end) of img: consecutive in the file, within one window. */
static int verify_window(struct rst_verify *j, const struct rst_image *img, uint32_t k,
			 uint32_t end)
{
	const struct img_chunk *first = &img->chunks[k], *last = &img->chunks[end - 1];
	uint64_t len = last->offset + (uint64_t)last->npages * IMG_PAGE - first->offset;
	uint8_t *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, img->r.fd, first->offset);
	if (m == MAP_FAILED) {
		error("cannot map %s at offset %llu to verify the memory mapped from it: %s; the "
		      "restarted computation is killed",
		      img->r.path, (unsigned long long)first->offset, strerror(errno));
		j->failed = 1;
		kill(j->init, SIGKILL);
		return -1;
	}
	int rc = 0;
	for (uint32_t i = k; i < end && !rc; i++) {
		const struct img_chunk *c = &img->chunks[i];
		size_t n = (size_t)c->npages * IMG_PAGE;
		if (img_sum(m + (c->offset - first->offset), n) != c->sum)
			rc = corrupt(j, img, c);
		j->bytes += n;
	}
	munmap(m, len);
	return rc;
}

static int verify_image(struct rst_verify *j, const struct rst_image *img)
{
	uint32_t k = 0;
	while (k < img->nchunks) {
		uint32_t v = 0;
		while (k < img->nchunks) { /* the next chunk that may be mapped */
			const struct img_chunk *c = &img->chunks[k];
			for (v = 0; v < img->nvmas && !(c->vaddr >= img->vmas[v].start &&
							c->vaddr < img->vmas[v].end);
			     v++)
				;
			if (v < img->nvmas && mappable(img, &img->vmas[v], c))
				break;
			k++;
		}
		uint32_t end = k;
		while (end < img->nchunks && mappable(img, &img->vmas[v], &img->chunks[end]) &&
		       img->chunks[end].vaddr < img->vmas[v].end &&
		       (end == k || img->chunks[end].offset ==
					img->chunks[end - 1].offset +
					    (uint64_t)img->chunks[end - 1].npages * IMG_PAGE) &&
		       img->chunks[end].offset + (uint64_t)img->chunks[end].npages * IMG_PAGE -
			       img->chunks[k].offset <=
			   WINDOW)
			end++;
		if (end > k && verify_window(j, img, k, end) < 0)
			return -1;
		k = end;
	}
	return 0;
}

void rst_verify_prepare(struct rst_set *set)
{
	set->opt.verify_deferred = set->opt.map_images && set->opt.verify_mapped;
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
		if (!set->img[i].chunk_src)
			verify_image(&j, &set->img[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	setpriority(PRIO_PROCESS, 0,
		    nice); /* may fail (raising needs privileges): it only waits now */
	if (j.bytes)
		debug("%" PRIu64 " MiB of mapped memory verified in %.1f ms, while the program ran",
		      j.bytes >> 20,
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return j.corrupt || j.failed ? -1 : 0;
}
