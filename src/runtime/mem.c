/* Memory: the process's regions and the pages of each that cannot be
 * re-created. Untouched pages, pages mapping the shared zero page and clean
 * file pages are never stored; a region without PROT_READ is read through
 * /proc/self/mem; the runtime's own arena is recorded but never stored.
 *
 * Two steps. rt_plan_memory, while every process is stopped: the list of
 * regions, the files behind them (stat, kept contents), which process stores
 * a shared object's pages, and a copy of the shared pages this process stores
 * (snap.c). rt_dump_memory, by the writer (a forked child once the program
 * runs on): the pages, private ones from its copy-on-write view, shared ones
 * from the copy. */
#include "runtime/mem.h"
#include "runtime/arena.h"
#include "runtime/dirty.h"
#include "runtime/fds.h"
#include "runtime/progress.h"
#include "runtime/shm.h"
#include "runtime/snap.h"
#include "runtime/sysv.h"
#include "runtime/write.h"
#include "runtime/pagescan.h"
#include "common/io.h"
#include "image/image.h"
#include "common/log.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <unistd.h>

#define SMAPS_MAX (64u << 20)
#define CHUNKS_MAX ((64u << 20) / sizeof(struct img_chunk))
#define VMAS_MAX 65536
#define ZERO_MAX 65536 /* zero-page runs recorded: the rest are faulted in as before */
#define SCAN_VEC 512

/* How the writer stores a region's pages (rt_vmas.how). */
enum how {
	HOW_NONE = 0,
	HOW_PRIVATE,	  /* present or swapped, not the zero page (or the tracked runs) */
	HOW_ALL,	  /* every page, from the writer's view */
	HOW_FILE_PRIVATE, /* the copied-on-write pages */
	HOW_SNAP,	  /* shared: the runs noted at the stop, from their copy (snap.c) */
};

struct dump_ctx {
	struct img_writer *w;
	struct rt_vmas *out;
	int pagemap_fd;
	int mem_fd;
	void *bounce;
	struct page_region *vec;
	char *err;
	size_t errlen;
};

struct map_line {
	uint64_t start, end, pgoff, ino, dev;
	uint32_t prot;
	int shared;
	int growsdown, noreserve;
	const char *path; /* "" for anonymous */
};

static int parse_header(char *line, struct map_line *m)
{
	char perms[8];
	unsigned long long s, e, off, ino;
	unsigned maj, min;
	int n = 0;
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &s, &e, perms, &off, &maj, &min, &ino,
		   &n) < 7)
		return -1;
	m->start = s;
	m->end = e;
	m->pgoff = off;
	m->ino = ino;
	m->dev = makedev(maj, min);
	m->prot = (perms[0] == 'r' ? IMG_PROT_READ : 0) | (perms[1] == 'w' ? IMG_PROT_WRITE : 0) |
		  (perms[2] == 'x' ? IMG_PROT_EXEC : 0);
	m->shared = perms[3] == 's';
	m->path = line + n;
	m->growsdown = m->noreserve = 0;
	return 0;
}

static void parse_vmflags(const char *flags, struct map_line *m)
{
	for (const char *p = flags; p[0] && p[1]; p += 3) {
		if (p[0] == 'g' && p[1] == 'd')
			m->growsdown = 1;
		if (p[0] == 'n' && p[1] == 'r')
			m->noreserve = 1;
	}
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static uint32_t classify(const struct map_line *m, int *store_all)
{
	const char *p = m->path;
	*store_all = 0;
	if (img_vma_special(p))
		return img_vma_special(p);
	if (!strcmp(p, "[stack]"))
		return IMG_VMA_STACK;
	if (!strcmp(p, "[heap]"))
		return IMG_VMA_HEAP;
	if (m->shared && (!p[0] || !strncmp(p, "/dev/zero", 9) || !strncmp(p, "/SYSV", 5)))
		return IMG_VMA_SHMEM;
	if (p[0] == '/' && !m->shared && ends_with(p, ".stasis")) {
		/* memory a restart mapped from its image (restore/mapimg.c): it is
		 * the program's anonymous memory, and pages not read yet are still
		 * only in that file, so every page is stored */
		*store_all = 1;
		return IMG_VMA_ANON;
	}
	if (p[0] == '/' && ends_with(p, " (deleted)")) {
		*store_all = 1; /* the file is gone: keep every page, restore as memory */
		return m->shared ? IMG_VMA_SHMEM : IMG_VMA_ANON;
	}
	if (p[0] == '/')
		return m->shared ? IMG_VMA_FILE_SHARED : IMG_VMA_FILE_PRIVATE;
	return IMG_VMA_ANON;
}

/* Store pages [start, end) of one run, in chunks, from copy (the pages of
 * start onwards) or, when copy is NULL, from memory. */
static int store_from(struct dump_ctx *d, struct img_vma *v, uint64_t start, uint64_t end,
		      const uint8_t *copy)
{
	while (start < end) {
		uint64_t n = (end - start) / IMG_PAGE;
		if (n > IMG_CHUNK_PAGES)
			n = IMG_CHUNK_PAGES;
		if (d->out->nchunks >= CHUNKS_MAX)
			return errf(d->err, d->errlen, "too many memory chunks");
		const void *src = copy ? copy : (const void *)start;
		uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
		if (copy) {
			copy += n * IMG_PAGE;
		} else if (sp >= v->start && sp < v->end) {
			/* our own stack changes while we write it: store a still copy */
			memcpy(d->bounce, src, n * IMG_PAGE);
			src = d->bounce;
		} else if (!(v->prot & IMG_PROT_READ)) {
			if (pread_full(d->mem_fd, d->bounce, n * IMG_PAGE, start) !=
			    (ssize_t)(n * IMG_PAGE)) {
				return errf(d->err, d->errlen,
					    "cannot read memory at %#" PRIx64 ": %s", start,
					    strerror(errno));
			}
			src = d->bounce;
		}
		struct img_chunk *c = &d->out->chunks[d->out->nchunks++];
		/* a queued chunk is read later (image/chunk.c): the bounce buffer
		 * must be written out before it is filled again */
		if (img_write_chunk(d->w, src, n, start, c) < 0 ||
		    (src == d->bounce && img_writer_flush(d->w) < 0)) {
			rt_image_error(d->w, d->err, d->errlen);
			return -1;
		}
		v->nchunks++;
		start += n * IMG_PAGE;
		rt_progress_add(n * IMG_PAGE);
	}
	return 0;
}

static int store_run(struct dump_ctx *d, struct img_vma *v, uint64_t start, uint64_t end)
{
	return store_from(d, v, start, end, NULL);
}

/* Pages [start, end) unchanged since the parent image: chunks that say so. */
static int parent_run(struct dump_ctx *d, struct img_vma *v, uint64_t start, uint64_t end)
{
	while (start < end) {
		uint64_t n = (end - start) / IMG_PAGE;
		if (n > IMG_CHUNK_PAGES)
			n = IMG_CHUNK_PAGES;
		if (d->out->nchunks >= CHUNKS_MAX)
			return errf(d->err, d->errlen, "too many memory chunks");
		d->out->chunks[d->out->nchunks++] =
		    (struct img_chunk){.vaddr = start, .npages = n, .comp = IMG_COMP_PARENT};
		v->nchunks++;
		start += n * IMG_PAGE;
	}
	return 0;
}

/* A tracked region (dirty.c): the pages written since the last image are
 * stored, the others are in the parent when this image has one. */
static int store_tracked(struct dump_ctx *d, struct img_vma *v, const struct rt_dirty_run *r,
			 uint32_t n)
{
	int incremental = rt_dirty_parent() != NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = r[i].start > v->start ? r[i].start : v->start;
		uint64_t e = r[i].end < v->end ? r[i].end : v->end;
		if (s >= e)
			continue;
		if ((r[i].written || !incremental ? store_run(d, v, s, e)
						  : parent_run(d, v, s, e)) < 0)
			return -1;
	}
	return 0;
}

typedef int (*run_fn)(struct dump_ctx *d, struct img_vma *v, const struct page_region *r);

/* Each run of v's pages of the categories asked (PAGEMAP_SCAN, the categories
 * in ret told apart) given to fn: 0, or -1 with the error set. */
static int scan_runs(struct dump_ctx *d, struct img_vma *v, uint64_t mask, uint64_t inv,
		     uint64_t anyof, uint64_t ret, run_fn fn)
{
	struct pm_scan_arg a = {
	    .size = sizeof(a),
	    .start = v->start,
	    .end = v->end,
	    .vec = (uintptr_t)d->vec,
	    .vec_len = SCAN_VEC,
	    .category_inverted = inv,
	    .category_mask = mask,
	    .category_anyof_mask = anyof,
	    .return_mask = ret,
	};
	while (a.start < a.end) {
		long n = ioctl(d->pagemap_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return errf(d->err, d->errlen,
				    "PAGEMAP_SCAN of %#" PRIx64 "-%#" PRIx64 ": %s", v->start,
				    v->end, strerror(errno));
		for (long i = 0; i < n; i++)
			if (fn(d, v, &d->vec[i]) < 0)
				return -1;
		a.start = pagescan_next(&a, d->vec, n);
	}
	return 0;
}

static int store_region(struct dump_ctx *d, struct img_vma *v, const struct page_region *r)
{
	return store_run(d, v, r->start, r->end);
}

/* A run of present or swapped pages: stored, or, if it maps the shared zero
 * page, noted for the restart (IMG_SEC_ZERO; up to ZERO_MAX runs, the rest
 * are faulted in by the program as before). */
static int store_or_note(struct dump_ctx *d, struct img_vma *v, const struct page_region *r)
{
	struct rt_vmas *o = d->out;
	if (!(r->categories & PAGE_IS_PFNZERO))
		return store_run(d, v, r->start, r->end);
	if (o->nzero < ZERO_MAX && (!o->nzero || r->start >= o->zero[o->nzero - 1].end))
		o->zero[o->nzero++] = (struct img_zero_run){r->start, r->end}; /* in order */
	return 0;
}

/* Shared pages noted at the stop (snap.c): from the copy taken then, or
 * from memory when no process runs before the image is written. */
static int store_snap(struct dump_ctx *d, struct img_vma *v)
{
	const struct rt_snap_run *r;
	const uint8_t *copy;
	uint32_t n;
	if (rt_snap_lookup(v->start, v->end, &r, &n, &copy) < 0)
		return errf(d->err, d->errlen,
			    "pid %d: the copy of shared memory at %#" PRIx64 " is gone", getpid(),
			    v->start);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = r[i].start > v->start ? r[i].start : v->start;
		uint64_t e = r[i].end < v->end ? r[i].end : v->end;
		if (s < e &&
		    store_from(d, v, s, e, copy ? copy + r[i].off + (s - r[i].start) : NULL) < 0)
			return -1;
	}
	return 0;
}

static int store_pages(struct dump_ctx *d, struct img_vma *v, enum how how)
{
	const struct rt_dirty_run *runs;
	uint32_t nruns;
	if (how == HOW_NONE)
		return 0;
	v->first_chunk = d->out->nchunks;
	switch (how) {
	case HOW_PRIVATE:
		if (rt_dirty_lookup(v->start, v->end, &runs, &nruns))
			return store_tracked(d, v, runs, nruns);
		/* present or swapped: stored, but the zero page's runs noted */
		return scan_runs(d, v, 0, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				 PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO,
				 store_or_note);
	case HOW_ALL:
		return store_run(d, v, v->start, v->end);
	case HOW_FILE_PRIVATE:
		/* copied-on-write pages only: present or swapped, not file pages */
		return scan_runs(d, v, PAGE_IS_FILE | PAGE_IS_PFNZERO,
				 PAGE_IS_FILE | PAGE_IS_PFNZERO, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				 PAGE_IS_PRESENT | PAGE_IS_SWAPPED, store_region);
	case HOW_SNAP:
		return store_snap(d, v);
	default:
		return 0; /* shared files, vdso, vvar, runtime scratch: nothing to store */
	}
}

/* A private mapping whose untouched pages are a file others may write: a
 * memfd, or a file on tmpfs (POSIX shared memory). */
static int private_of_shm(const struct map_line *m)
{
	char dir[PATH_MAX];
	struct statfs sfs;
	if (!strncmp(m->path, "/memfd:", 7))
		return 1;
	snprintf(dir, sizeof(dir), "%s", m->path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	slash[slash == dir] = 0;
	return statfs(dir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
}

/* How the writer stores v's pages; the shared pages it stores are noted
 * now (and copied once every region is known, rt_snap_copy). */
static int plan_pages(const struct dump_ctx *d, const struct map_line *m, struct img_vma *v,
		      int store_all, uint8_t *how)
{
	switch (v->kind) {
	case IMG_VMA_ANON:
	case IMG_VMA_STACK:
	case IMG_VMA_HEAP:
		*how = store_all ? HOW_ALL : HOW_PRIVATE;
		if (!store_all || !private_of_shm(m))
			return 0;
		break;
	case IMG_VMA_FILE_PRIVATE:
		*how = HOW_FILE_PRIVATE;
		return 0;
	case IMG_VMA_SHMEM:
		break; /* resident pages, or all of a deleted file's */
	default:
		*how = HOW_NONE;
		return 0;
	}
	*how = HOW_SNAP;
	return rt_snap_note(v->start, v->end, !!(v->prot & IMG_PROT_READ), store_all, d->err,
			    d->errlen);
}

static int add_vma(struct dump_ctx *d, struct rt_strtab *tab, struct rt_files *files,
		   const struct map_line *m, uint64_t start, uint64_t end, int skip)
{
	struct rt_vmas *o = d->out;
	int store_all = 0;
	struct map_line linked;
	char real[PATH_MAX];
	int linked_to =
	    m->shared ? rt_shm_linked_path(m->path, m->ino, m->dev, real, sizeof(real)) : 0;
	if (linked_to < 0)
		return snprintf(d->err, d->errlen, "out of checkpoint memory"), -1;
	if (linked_to) {
		linked = *m; /* the file lives on under another name (shm.c) */
		linked.path = real;
		m = &linked;
	}
	if (o->nvmas >= VMAS_MAX)
		return errf(d->err, d->errlen, "more than %d memory regions", VMAS_MAX);
	uint8_t *how = &o->how[o->nvmas];
	struct img_vma *v = &o->vmas[o->nvmas++];
	memset(v, 0, sizeof(*v));
	*how = HOW_NONE;
	v->start = start;
	v->end = end;
	v->prot = m->prot;
	v->pgoff = m->pgoff + (start - m->start);
	v->kind = skip ? IMG_VMA_SKIP : classify(m, &store_all);
	v->flags =
	    (m->growsdown ? IMG_VMAF_GROWSDOWN : 0) | (m->noreserve ? IMG_VMAF_NORESERVE : 0);
	v->file = -1;
	if (v->kind == IMG_VMA_VDSO)
		o->vdso_size += end - start;
	if (v->kind == IMG_VMA_VVAR || v->kind == IMG_VMA_VVAR_VCLOCK)
		o->vvar_size += end - start;
	if (v->kind == IMG_VMA_FILE_PRIVATE || v->kind == IMG_VMA_FILE_SHARED) {
		v->file = rt_file_add(files, tab, m->path, -1, NULL, d->err, d->errlen);
		if (v->file < 0)
			return -1;
	}
	if (v->kind == IMG_VMA_FILE_SHARED &&
	    rt_shm_keep_file(files, tab, v->file, d->err, d->errlen) < 0)
		return -1;
	if (skip)
		return 0;
	if (v->kind == IMG_VMA_SHMEM && !strncmp(m->path, "/SYSV", 5)) {
		/* its contents are in the segment's IMG_SEC_IPC record (sysv.c) */
		v->file = rt_sysv_vma(files, tab, m->path, m->ino, v->pgoff, end - start, d->err,
				      d->errlen);
		return v->file < 0 ? -1 : 0;
	}
	if (v->kind == IMG_VMA_SHMEM && m->path[0] == '/') {
		/* one object for every holder (shm.c): its pages are stored once */
		v->file = rt_shm_object(files, tab, m->path, m->ino, m->dev,
					v->pgoff + (end - start), d->err, d->errlen);
		if (v->file < 0)
			return -1;
		int by_parent = rt_shm_parent_stores(m->ino, m->dev, v->pgoff, end - start);
		if (by_parent < 0)
			return snprintf(d->err, d->errlen, "out of checkpoint memory"), -1;
		if (rt_shm_saved(files, v->file) || by_parent)
			return 0;
	}
	return plan_pages(d, m, v, store_all, how);
}

/* Split a region around the runtime's arena, which is recorded but not stored. */
static int add_region(struct dump_ctx *d, struct rt_strtab *tab, struct rt_files *files,
		      const struct map_line *m)
{
	uint64_t as, ae;
	rt_arena_contains(0, &as, &ae);
	uint64_t s = m->start, e = m->end;
	if (s == (uint64_t)(uintptr_t)rt_prog)
		return add_vma(d, tab, files, m, s, e, 1); /* the runtime's progress page */
	if (rt_snap_contains(s, e))
		return 0; /* the buffer shared pages are copied into: not the program's */
	if (ae <= s || as >= e || m->path[0])
		return add_vma(d, tab, files, m, s, e, 0);
	if (s < as && add_vma(d, tab, files, m, s, as, 0) < 0)
		return -1;
	if (add_vma(d, tab, files, m, s > as ? s : as, e < ae ? e : ae, 1) < 0)
		return -1;
	if (e > ae)
		return add_vma(d, tab, files, m, ae, e, 0);
	return 0;
}

char *rt_read_smaps(char *err, size_t errlen)
{
	char *buf = rt_alloc(SMAPS_MAX);
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read_full(fd, buf, SMAPS_MAX - 1);
	if (fd >= 0)
		close(fd);
	if (!buf || n < 0 || n >= SMAPS_MAX - 1) {
		errf(err, errlen, "cannot read /proc/self/smaps: %s",
		     n >= 0 ? "too large" : strerror(errno));
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* The text is left as it is (rt_fork_safe, dirty.c and progress.c read it
 * too): each header line is copied out. */
static int walk_smaps(struct dump_ctx *d, const char *smaps, struct rt_strtab *tab,
		      struct rt_files *files)
{
	static char header[PATH_MAX + 256];
	struct map_line m;
	int have = 0;
	for (const char *line = smaps; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (!strncmp(line, "VmFlags:", 8)) {
			if (have) {
				char flags[256];
				snprintf(flags, sizeof(flags), "%.*s", (int)(len - 8), line + 8);
				parse_vmflags(flags + 1, &m);
				if (add_region(d, tab, files, &m) < 0)
					return -1;
			}
			have = 0;
		} else if (!(line[0] >= 'A' && line[0] <= 'Z') && len < sizeof(header)) {
			struct map_line n; /* not "Rss:" and friends: a region's header */
			memcpy(header, line, len);
			header[len] = 0;
			if (parse_header(header, &n) == 0) {
				m = n;
				have = 1;
			}
		}
		line += len + (nl != NULL);
	}
	return 0;
}

/* A forked child sees every region but those marked MADV_DONTFORK ("dc") and
 * gets zeroes for MADV_WIPEONFORK ("wf") ones. */
int rt_fork_safe(const char *smaps)
{
	for (const char *p = strstr(smaps, "VmFlags:"); p; p = strstr(p + 1, "VmFlags:")) {
		const char *end = strchr(p, '\n');
		for (const char *f = p + 8; f + 2 <= (end ? end : f + 2); f++)
			if ((f[0] == 'd' && f[1] == 'c') || (f[0] == 'w' && f[1] == 'f'))
				if (f[-1] == ' ' && (f[2] == ' ' || f[2] == '\n' || !f[2]))
					return 0;
	}
	return 1;
}

/* While every process is stopped: the regions, their files, and a copy of
 * the shared pages this process stores (RT_PLAN_LIVE: no copy, no process
 * runs before the image is written; RT_PLAN_ESTIMATE, before the stop: only
 * how much the copy would be, rt_snap_prepare). */
int rt_plan_memory(struct rt_vmas *out, struct rt_strtab *tab, struct rt_files *files,
		   const char *smaps, int mode, char *err, size_t errlen)
{
	struct dump_ctx d = {.out = out, .err = err, .errlen = errlen};
	memset(out, 0, sizeof(*out));
	out->vmas = rt_alloc(VMAS_MAX * sizeof(struct img_vma));
	out->how = rt_alloc(VMAS_MAX);
	if (!out->vmas || !out->how)
		return errf(err, errlen, "out of checkpoint memory");
	rt_snap_reset();
	rt_shm_reset();
	if (walk_smaps(&d, smaps, tab, files) < 0)
		return -1;
	if (mode == RT_PLAN_ESTIMATE)
		return 0;
	if (rt_shm_keep_pending(err, errlen) < 0)
		return -1;
	return rt_snap_copy(mode == RT_PLAN_LIVE, err, errlen);
}

/* The writer: the pages of every region planned. */
int rt_dump_memory(struct img_writer *w, struct rt_vmas *out, char *err, size_t errlen)
{
	struct dump_ctx d = {.w = w, .out = out, .err = err, .errlen = errlen};
	int rc = 0;
	out->nchunks = 0;
	out->nzero = 0;
	out->chunks = rt_alloc(CHUNKS_MAX * sizeof(struct img_chunk));
	out->zero = rt_alloc(ZERO_MAX * sizeof(struct img_zero_run));
	d.bounce = rt_alloc(IMG_CHUNK_PAGES * IMG_PAGE);
	d.vec = rt_alloc(SCAN_VEC * sizeof(struct page_region));
	if (!out->chunks || !out->zero || !d.bounce || !d.vec)
		return errf(err, errlen, "out of checkpoint memory");
	d.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	d.mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (d.pagemap_fd < 0 || d.mem_fd < 0) {
		rc =
		    errf(err, errlen, "cannot open /proc/self/pagemap or mem: %s", strerror(errno));
	}
	for (uint32_t i = 0; rc == 0 && i < out->nvmas; i++)
		rc = store_pages(&d, &out->vmas[i], out->how[i]);
	if (d.pagemap_fd >= 0)
		close(d.pagemap_fd);
	if (d.mem_fd >= 0)
		close(d.mem_fd);
	return rc;
}
