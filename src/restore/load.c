/* Loading an image for restart or inspect: every section's checksum and every
 * index is checked here, and every record by its kind (image/kinds/), before
 * anything is created, so that a bad image changes nothing. */
#include "restore/load.h"
#include "restore/chain.h"
#include "restore/pathmap.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_TOP 0x800000000000ull

/* Paths as the restart's path map has them (pathmap.c: nothing without one). */
const char *rst_str(const struct rst_image *img, uint32_t off)
{
	return off < img->strings_len ? rst_pathmap_apply(img->strings + off) : "";
}

/* IMG_COMP_PARENT only in an image that has a parent (chain.c resolves it) */
static int known_comp(const struct rst_image *img, const struct img_chunk *k)
{
	if (k->comp == IMG_COMP_PARENT)
		return !k->offset && !k->stored_size && img_find(&img->r, IMG_SEC_PARENT);
	return k->comp <= IMG_COMP_ZSTD;
}

static int check_vmas(struct rst_image *img, char *err, size_t errlen)
{
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		if (v->start >= v->end || v->start % IMG_PAGE || v->end % IMG_PAGE ||
		    v->start < prev_end || (v->end > USER_TOP && v->kind != IMG_VMA_VSYSCALL))
			return errf(err, errlen,
				    "%s is corrupt: memory region %u (%#llx-%#llx) is invalid",
				    img->r.path, i, (unsigned long long)v->start,
				    (unsigned long long)v->end);
		if (v->kind < IMG_VMA_ANON || v->kind > IMG_VMA_SKIP)
			return errf(err, errlen,
				    "%s is corrupt: memory region %u has unknown kind %u",
				    img->r.path, i, v->kind);
		if (v->file >= (int32_t)img->nfiles ||
		    ((v->kind == IMG_VMA_FILE_PRIVATE || v->kind == IMG_VMA_FILE_SHARED) &&
		     v->file < 0))
			return errf(err, errlen, "%s is corrupt: memory region %u names file %d",
				    img->r.path, i, v->file);
		if (v->first_chunk > img->nchunks || v->nchunks > img->nchunks - v->first_chunk)
			return errf(err, errlen,
				    "%s is corrupt: memory region %u has chunks out of range",
				    img->r.path, i);
		for (uint32_t c = v->first_chunk; c < v->first_chunk + v->nchunks; c++) {
			const struct img_chunk *k = &img->chunks[c];
			if (k->vaddr % IMG_PAGE || k->vaddr < v->start || !k->npages ||
			    k->npages > IMG_CHUNK_PAGES ||
			    k->npages > (v->end - k->vaddr) / IMG_PAGE || !known_comp(img, k))
				return errf(err, errlen,
					    "%s is corrupt: memory chunk %u does not fit region %u",
					    img->r.path, c, i);
		}
		prev_end = v->end;
	}
	return 0;
}

/* Private anonymous memory: where pages may map the zero page. */
static int private_anon(const struct img_vma *v)
{
	return v->kind == IMG_VMA_ANON || v->kind == IMG_VMA_STACK || v->kind == IMG_VMA_HEAP;
}

/* Each zero-page run is page-aligned and lies in one private anonymous
 * region, in address order, none overlapping the next. */
static int check_zero_runs(const struct rst_image *img, char *err, size_t errlen)
{
	uint32_t k = 0;
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < img->nzero; i++) {
		const struct img_zero_run *z = &img->zero[i];
		while (k < img->nvmas && img->vmas[k].end <= z->start)
			k++;
		if (z->start >= z->end || z->start % IMG_PAGE || z->end % IMG_PAGE ||
		    z->start < prev_end || k == img->nvmas || z->start < img->vmas[k].start ||
		    z->end > img->vmas[k].end || !private_anon(&img->vmas[k]))
			return errf(err, errlen,
				    "%s is corrupt: zero-page run %u (%#llx-%#llx) is not in "
				    "one private anonymous region, in order",
				    img->r.path, i, (unsigned long long)z->start,
				    (unsigned long long)z->end);
		prev_end = z->end;
	}
	return 0;
}

const struct img_fdx *rst_fdx(const struct rst_image *img, const struct img_fd *d)
{
	const struct img_kind *k = img_fd_kind(d->type);
	if (!k || !k->payload || !img->fdx || d->pos < 0 || d->pos % 8 ||
	    img->fdx_len < sizeof(struct img_fdx) ||
	    (uint64_t)d->pos > img->fdx_len - sizeof(struct img_fdx))
		return NULL;
	const struct img_fdx *x = (const struct img_fdx *)(img->fdx + d->pos);
	if (x->type != d->type || x->len > img->fdx_len - d->pos - sizeof(*x))
		return NULL;
	return x;
}

struct img_view rst_view(const struct rst_image *img)
{
	return (struct img_view){.path = img->r.path,
				 .pid = img->proc ? img->proc->pid : 0,
				 .strings = img->strings,
				 .strings_len = img->strings_len,
				 .files = img->files,
				 .nfiles = img->nfiles,
				 .filedata = img->filedata,
				 .filedata_len = img->filedata_len,
				 .fds = img->fds,
				 .nfds = img->nfds};
}

/* What every descriptor entry must be, whatever its kind. */
static int check_fd(const struct rst_image *img, uint32_t i)
{
	const struct img_fd *d = &img->fds[i];
	const struct img_kind *k = img_fd_kind(d->type);
	return d->fd >= 0 && d->fd <= (1 << 20) && (!i || d->fd > img->fds[i - 1].fd) && k &&
	       d->file < (int32_t)img->nfiles && d->share < d->fd && d->std >= 0 && d->std <= 2 &&
	       (d->share >= 0 || !k->payload || rst_fdx(img, d));
}

/* Each descriptor's own part, checked by its kind (a dup's is its lowest's). */
static int check_fd_kinds(const struct rst_image *img, const struct img_view *v, char *err,
			  size_t errlen)
{
	char why[256] = "";
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fd *d = &img->fds[i];
		const struct img_kind *k = img_fd_kind(d->type);
		if (!check_fd(img, i))
			return errf(err, errlen,
				    "%s is corrupt: descriptor entry %u (fd %d) is invalid",
				    img->r.path, i, d->fd);
		const struct img_fdx *x = d->share < 0 && k->payload ? rst_fdx(img, d) : NULL;
		if (x && x->len < k->size)
			return errf(err, errlen,
				    "%s is corrupt: the %s record of fd %d is truncated",
				    img->r.path, k->name, d->fd);
		if (d->share < 0 && k->validate &&
		    k->validate(v, i, x ? rst_fdx_payload(x) : NULL, x ? x->len : 0, why,
				sizeof(why)) < 0)
			return errf(err, errlen,
				    "%s is corrupt: the %s record of fd %d is invalid: %s",
				    img->r.path, k->name, d->fd, why);
	}
	return 0;
}

/* Every record of section s (n of them at recs), checked by its kind. */
static int check_records(const struct rst_image *img, const struct img_view *v, uint32_t s,
			 const void *recs, uint32_t n, char *err, size_t errlen)
{
	const struct img_kind *k = img_section_kind(s);
	char why[256] = "";
	for (uint32_t i = 0; k && k->validate && i < n; i++)
		if (k->validate(v, i, (const uint8_t *)recs + (size_t)i * k->size, k->size, why,
				sizeof(why)) < 0)
			return errf(err, errlen, "%s is corrupt: %s", img->r.path, why);
	return 0;
}

static int check_kinds(const struct rst_image *img, char *err, size_t errlen)
{
	struct img_view v = rst_view(img);
	return check_records(img, &v, IMG_SEC_FILES, img->files, img->nfiles, err, errlen) < 0 ||
		       check_fd_kinds(img, &v, err, errlen) < 0 ||
		       check_records(img, &v, IMG_SEC_LOCKS, img->locks, img->nlocks, err, errlen) <
			   0 ||
		       check_records(img, &v, IMG_SEC_ZOMBIES, img->zombies, img->nzombies, err,
				     errlen) < 0 ||
		       check_records(img, &v, IMG_SEC_SHARES, img->shares, img->nshares, err,
				     errlen) < 0 ||
		       check_records(img, &v, IMG_SEC_IPC, img->ipc, img->nipc, err, errlen) < 0 ||
		       check_records(img, &v, IMG_SEC_MEMBERS, img->members, img->nmembers, err,
				     errlen) < 0 ||
		       check_records(img, &v, IMG_SEC_ORIGIN, img->origin, img->norigin, err,
				     errlen) < 0 ||
		       check_records(img, &v, IMG_SEC_PLUGINS, img->plugins, img->nplugins, err,
				     errlen) < 0
		   ? -1
		   : 0;
}

static int check_proc(struct rst_image *img, char *err, size_t errlen)
{
	int mains = 0;
	if (img->proc->pid < 2 || img->proc->pid > 4194304)
		return errf(err, errlen, "%s is corrupt: pid %u is invalid", img->r.path,
			    img->proc->pid);
	if (img->proc->mm.auxv_words > IMG_AUXV_WORDS)
		return errf(err, errlen, "%s is corrupt: auxv too long", img->r.path);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *t = &img->threads[i];
		if (t->tid < 2 || t->tid > 4194304)
			return errf(err, errlen, "%s is corrupt: thread %u has tid %u", img->r.path,
				    i, t->tid);
		mains += !!(t->flags & IMG_THREAD_MAIN);
		if ((t->flags & IMG_THREAD_MAIN) && t->tid != img->proc->pid)
			return errf(err, errlen,
				    "%s is corrupt: main thread tid %u is not the pid %u",
				    img->r.path, t->tid, img->proc->pid);
	}
	if (mains != 1)
		return errf(err, errlen, "%s is corrupt: %d main threads", img->r.path, mains);
	if (!img->strings_len || img->strings[img->strings_len - 1])
		return errf(err, errlen, "%s is corrupt: string table is not terminated",
			    img->r.path);
	return 0;
}

static void *load(struct rst_image *img, uint32_t type, size_t elem, uint32_t *count, size_t *bytes,
		  char *err, size_t errlen)
{
	size_t sz;
	void *p = img_load(&img->r, type, elem, &sz, 0, err, errlen);
	if (count)
		*count = sz / elem;
	if (bytes)
		*bytes = sz;
	return p;
}

static void *load_opt(struct rst_image *img, uint32_t type, size_t *bytes, char *err, size_t errlen)
{
	return img_load(&img->r, type, 1, bytes, 1, err, errlen);
}

int rst_load(struct rst_image *img, const char *path, char *err, size_t errlen)
{
	return rst_load_depth(img, path, 0, err, errlen);
}

int rst_load_depth(struct rst_image *img, const char *path, int depth, char *err, size_t errlen)
{
	uint32_t one;
	memset(img, 0, sizeof(*img));
	if (img_open(&img->r, path, err, errlen) < 0)
		return -1;
	if (!(img->proc =
		  load(img, IMG_SEC_PROC, sizeof(struct img_proc), &one, NULL, err, errlen)) ||
	    !(img->threads = load(img, IMG_SEC_THREADS, sizeof(struct img_thread), &img->nthreads,
				  NULL, err, errlen)) ||
	    !(img->sigact = load(img, IMG_SEC_SIGACT, sizeof(struct img_sigaction) * 64, &one, NULL,
				 err, errlen)) ||
	    !(img->vmas = load(img, IMG_SEC_VMAS, sizeof(struct img_vma), &img->nvmas, NULL, err,
			       errlen)) ||
	    !(img->chunks = load(img, IMG_SEC_CHUNKS, sizeof(struct img_chunk), &img->nchunks, NULL,
				 err, errlen)) ||
	    !(img->fds =
		  load(img, IMG_SEC_FDS, sizeof(struct img_fd), &img->nfds, NULL, err, errlen)) ||
	    !(img->files = load(img, IMG_SEC_FILES, sizeof(struct img_file), &img->nfiles, NULL,
				err, errlen)) ||
	    !(img->strings = load(img, IMG_SEC_STRINGS, 1, NULL, &img->strings_len, err, errlen)) ||
	    !(img->filedata =
		  load(img, IMG_SEC_FILEDATA, 1, NULL, &img->filedata_len, err, errlen)))
		goto fail;
	if (!(img->file_state = calloc(img->nfiles + 1, 1))) {
		errf(err, errlen, "out of memory loading %s", path);
		goto fail;
	}
	if (img_find(&img->r, IMG_SEC_FDX) &&
	    !(img->fdx = load_opt(img, IMG_SEC_FDX, &img->fdx_len, err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_SHARES) &&
	    !(img->shares = load(img, IMG_SEC_SHARES, sizeof(struct img_share), &img->nshares, NULL,
				 err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_ZOMBIES) &&
	    !(img->zombies = load(img, IMG_SEC_ZOMBIES, sizeof(struct img_zombie), &img->nzombies,
				  NULL, err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_LOCKS) &&
	    !(img->locks = load(img, IMG_SEC_LOCKS, sizeof(struct img_lock), &img->nlocks, NULL,
				err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_IPC) &&
	    !(img->ipc =
		  load(img, IMG_SEC_IPC, sizeof(struct img_ipc), &img->nipc, NULL, err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_MEMBERS) &&
	    !(img->members = load(img, IMG_SEC_MEMBERS, sizeof(struct img_member), &img->nmembers,
				  NULL, err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_ORIGIN) &&
	    !(img->origin = load(img, IMG_SEC_ORIGIN, sizeof(struct img_origin), &img->norigin,
				 NULL, err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_PLUGINS) &&
	    !(img->plugins = load(img, IMG_SEC_PLUGINS, sizeof(struct img_plugin), &img->nplugins,
				  NULL, err, errlen)))
		goto fail;
	if (img_find(&img->r, IMG_SEC_ZERO) &&
	    !(img->zero = load(img, IMG_SEC_ZERO, sizeof(struct img_zero_run), &img->nzero, NULL,
			       err, errlen)))
		goto fail;
	if (check_proc(img, err, errlen) < 0 || check_vmas(img, err, errlen) < 0 ||
	    check_kinds(img, err, errlen) < 0 || check_zero_runs(img, err, errlen) < 0 ||
	    rst_chain_load(img, depth, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	rst_free(img);
	return -1;
}

void rst_free(struct rst_image *img)
{
	img_close(&img->r);
	free(img->proc);
	free(img->threads);
	free(img->sigact);
	free(img->vmas);
	free(img->chunks);
	free(img->zero);
	free(img->fds);
	free(img->files);
	free(img->file_state);
	free(img->strings);
	free(img->filedata);
	free(img->fdx);
	free(img->zombies);
	free(img->locks);
	free(img->ipc);
	free(img->members);
	free(img->origin);
	free(img->plugins);
	rst_chain_free(img);
	free(img->shares);
	memset(img, 0, sizeof(*img));
	img->r.fd = -1;
}
