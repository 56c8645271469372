/* Loading an image for restart: every section's checksum and every index is
 * checked here, before anything is created, so that a bad image changes nothing. */
#include "restore/restore.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_TOP 0x800000000000ull

static int bad(struct rst_image *img, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(struct rst_image *img, char *err, size_t errlen, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s is corrupt: %s", img->r.path, what);
	return -1;
}

const char *rst_str(const struct rst_image *img, uint32_t off)
{
	return off < img->strings_len ? img->strings + off : "";
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
			return bad(img, err, errlen, "memory region %u (%#llx-%#llx) is invalid", i,
				   (unsigned long long)v->start, (unsigned long long)v->end);
		if (v->kind < IMG_VMA_ANON || v->kind > IMG_VMA_SKIP)
			return bad(img, err, errlen, "memory region %u has unknown kind %u", i,
				   v->kind);
		if (v->file >= (int32_t)img->nfiles ||
		    ((v->kind == IMG_VMA_FILE_PRIVATE || v->kind == IMG_VMA_FILE_SHARED) &&
		     v->file < 0))
			return bad(img, err, errlen, "memory region %u names file %d", i, v->file);
		if (v->first_chunk > img->nchunks || v->nchunks > img->nchunks - v->first_chunk)
			return bad(img, err, errlen, "memory region %u has chunks out of range", i);
		for (uint32_t c = v->first_chunk; c < v->first_chunk + v->nchunks; c++) {
			const struct img_chunk *k = &img->chunks[c];
			if (k->vaddr % IMG_PAGE || k->vaddr < v->start || !k->npages ||
			    k->npages > IMG_CHUNK_PAGES ||
			    k->npages > (v->end - k->vaddr) / IMG_PAGE || !known_comp(img, k))
				return bad(img, err, errlen,
					   "memory chunk %u does not fit region %u", c, i);
		}
		prev_end = v->end;
	}
	return 0;
}

static int has_fdx(uint32_t type)
{
	return type >= IMG_FD_UNIX && type < IMG_FD_NTYPES;
}

const struct img_fdx *rst_fdx(const struct rst_image *img, const struct img_fd *d)
{
	if (!has_fdx(d->type) || !img->fdx || d->pos < 0 || d->pos % 8 ||
	    (uint64_t)d->pos > img->fdx_len - sizeof(struct img_fdx) ||
	    img->fdx_len < sizeof(struct img_fdx))
		return NULL;
	const struct img_fdx *x = (const struct img_fdx *)(img->fdx + d->pos);
	if (x->type != d->type || x->len > img->fdx_len - d->pos - sizeof(*x))
		return NULL;
	return x;
}

static int check_files_fds(struct rst_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < img->nfiles; i++) {
		const struct img_file *f = &img->files[i];
		if (f->path_str >= img->strings_len)
			return bad(img, err, errlen, "file %u has a bad name", i);
		if ((f->flags & (IMG_FILE_DELETED | IMG_FILE_PIPE | IMG_FILE_SAVED)) &&
		    (f->data_off > img->filedata_len || f->size > img->filedata_len - f->data_off))
			return bad(img, err, errlen, "deleted file %u has contents out of range",
				   i);
	}
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fd *d = &img->fds[i];
		int needs_file = d->type == IMG_FD_REG || d->type == IMG_FD_DIR ||
				 d->type == IMG_FD_CHR || d->type == IMG_FD_PIPE;
		if (d->fd < 0 || d->fd > (1 << 20) || (i && d->fd <= img->fds[i - 1].fd) ||
		    d->type < IMG_FD_REG || d->type >= IMG_FD_NTYPES ||
		    (has_fdx(d->type) && d->share < 0 && !rst_fdx(img, d)) ||
		    d->file >= (int32_t)img->nfiles ||
		    (needs_file && d->file < 0 && d->share < 0) || d->share >= d->fd ||
		    (d->type == IMG_FD_PIPE && d->share < 0 &&
		     !(img->files[d->file].flags & IMG_FILE_PIPE)) ||
		    d->std < 0 || d->std > 2)
			return bad(img, err, errlen, "descriptor entry %u (fd %d) is invalid", i,
				   d->fd);
	}
	return 0;
}

static int check_proc(struct rst_image *img, char *err, size_t errlen)
{
	int mains = 0;
	if (img->proc->pid < 2 || img->proc->pid > 4194304)
		return bad(img, err, errlen, "pid %u is invalid", img->proc->pid);
	if (img->proc->mm.auxv_words > IMG_AUXV_WORDS)
		return bad(img, err, errlen, "auxv too long");
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *t = &img->threads[i];
		if (t->tid < 2 || t->tid > 4194304)
			return bad(img, err, errlen, "thread %u has tid %u", i, t->tid);
		mains += !!(t->flags & IMG_THREAD_MAIN);
		if ((t->flags & IMG_THREAD_MAIN) && t->tid != img->proc->pid)
			return bad(img, err, errlen, "main thread tid %u is not the pid %u", t->tid,
				   img->proc->pid);
	}
	if (mains != 1)
		return bad(img, err, errlen, "%d main threads", mains);
	if (!img->strings_len || img->strings[img->strings_len - 1])
		return bad(img, err, errlen, "string table is not terminated");
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
	if (img_find(&img->r, IMG_SEC_MEMBERS) &&
	    !(img->members = load(img, IMG_SEC_MEMBERS, sizeof(struct img_member), &img->nmembers,
				  NULL, err, errlen)))
		goto fail;
	if (check_proc(img, err, errlen) < 0 || check_vmas(img, err, errlen) < 0 ||
	    rst_locks_check(img, err, errlen) < 0 || check_files_fds(img, err, errlen) < 0 ||
	    rst_zombies_check(img, err, errlen) < 0 ||
	    rst_chain_load(img, depth, err, errlen) < 0 || rst_shares_check(img, err, errlen) < 0)
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
	free(img->fds);
	free(img->files);
	free(img->strings);
	free(img->filedata);
	free(img->fdx);
	free(img->zombies);
	free(img->locks);
	free(img->members);
	rst_chain_free(img);
	free(img->shares);
	memset(img, 0, sizeof(*img));
	img->r.fd = -1;
}
