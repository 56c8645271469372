/* The image of this process, written by the checkpoint thread while every
 * other thread waits in the checkpoint handler. */
#include "runtime/rt.h"
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#define ZSTD_LEVEL 1

struct image_parts {
	struct img_proc proc;
	struct img_sigaction sigact[64];
	struct img_thread *threads;
	uint32_t nthreads;
	struct rt_strtab tab;
	struct rt_files files;
	struct rt_fds fds;
	struct rt_vmas mem;
};

static void thread_record(struct img_thread *o, const struct rt_thread *t, uint32_t flags)
{
	memset(o, 0, sizeof(*o));
	o->tid = t->tid;
	o->flags = flags | (t->tid == getpid() ? IMG_THREAD_MAIN : 0);
	o->fs_base = t->fs_base;
	o->sigmask = t->sigmask;
	o->ctx = t->ctx;
	o->altstack_sp = (uint64_t)(uintptr_t)t->altstack.ss_sp;
	o->altstack_size = t->altstack.ss_size;
	o->altstack_flags = t->altstack.ss_flags;
	memcpy(o->comm, t->comm, sizeof(o->comm));
}

static int collect_threads(struct image_parts *p)
{
	p->threads = rt_alloc((RT_MAX_THREADS + 1) * sizeof(struct img_thread));
	if (!p->threads)
		return -1;
	thread_record(&p->threads[p->nthreads++], &rt.ckpt_self, IMG_THREAD_CKPT);
	for (int i = 0; i < RT_MAX_THREADS; i++)
		if (__atomic_load_n(&rt.threads[i].state, __ATOMIC_ACQUIRE) == RT_SUSPENDED)
			thread_record(&p->threads[p->nthreads++], &rt.threads[i], 0);
	p->proc.nthreads = p->nthreads;
	return 0;
}

static int setup_compression(struct img_writer *w)
{
	size_t ws = ZSTD_estimateCCtxSize(ZSTD_LEVEL);
	size_t zs = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *work = rt_alloc(ws), *zbuf = rt_alloc(zs);
	if (!work || !zbuf)
		return -1;
	ZSTD_CCtx *c = ZSTD_initStaticCCtx(work, ws);
	if (!c)
		return -1;
	img_writer_compress(w, c, zbuf, zs, ZSTD_LEVEL);
	return 0;
}

static int write_sections(struct img_writer *w, struct image_parts *p)
{
	struct {
		uint32_t type;
		const void *data;
		size_t size;
	} s[] = {
		{IMG_SEC_PROC, &p->proc, sizeof(p->proc)},
		{IMG_SEC_THREADS, p->threads, p->nthreads * sizeof(struct img_thread)},
		{IMG_SEC_SIGACT, p->sigact, sizeof(p->sigact)},
		{IMG_SEC_VMAS, p->mem.vmas, p->mem.nvmas * sizeof(struct img_vma)},
		{IMG_SEC_CHUNKS, p->mem.chunks, p->mem.nchunks * sizeof(struct img_chunk)},
		{IMG_SEC_FDS, p->fds.fds, p->fds.n * sizeof(struct img_fd)},
		{IMG_SEC_FILES, p->files.files, p->files.n * sizeof(struct img_file)},
		{IMG_SEC_STRINGS, p->tab.buf, p->tab.len},
		{IMG_SEC_FILEDATA, p->files.data, p->files.data_len},
	};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (img_write_section(w, s[i].type, 0, s[i].data ? s[i].data : "", s[i].size) < 0)
			return -1;
	return 0;
}

/* Returns 0 when the image is durable, 1 when this call returns a second time
 * in a restarted process, -1 on failure (err says why). */
int rt_write_image(const char *path, int compress, uint64_t *size, char *err, size_t errlen)
{
	struct image_parts *p = rt_alloc(sizeof(*p));
	struct img_writer *w = rt_alloc(sizeof(*w));
	if (!p || !w)
		return snprintf(err, errlen, "out of checkpoint memory"), -1;
	memset(p, 0, sizeof(*p));
	rt_str_add(&p->tab, "");
	if (rt_dump_proc(&p->proc, &p->tab, err, errlen) < 0 ||
	    rt_dump_fds(&p->fds, &p->files, &p->tab, err, errlen) < 0)
		return -1;
	rt_dump_sigactions(p->sigact);
	if (rt_dump_timers(err, errlen) < 0)
		return -1;
	if (img_writer_open(w, path) < 0)
		return snprintf(err, errlen, "cannot create %s.tmp: %s", path, strerror(errno)), -1;
	if (compress && setup_compression(w) < 0) {
		img_writer_abort(w);
		return snprintf(err, errlen, "cannot set up compression"), -1;
	}
	rt_thread_capture_self(&rt.ckpt_self);
	rt.ckpt_self.tid = rt_gettid();
	if (rt_save_context(&rt.ckpt_self.ctx))
		return 1; /* restarted: the image we were writing is the one we came from */
	if (collect_threads(p) < 0 ||
	    rt_dump_memory(w, &p->mem, &p->tab, &p->files, err, errlen) < 0)
		goto fail;
	p->proc.vdso_size = p->mem.vdso_size;
	p->proc.vvar_size = p->mem.vvar_size;
	if (write_sections(w, p) < 0) {
		snprintf(err, errlen, "cannot write %s.tmp: %s", path, strerror(errno));
		goto fail;
	}
	w->hdr.comp_id = rt.comp_id;
	w->hdr.gen = rt.gen;
	w->hdr.nprocs = 1;
	w->hdr.pid = getpid();
	if (img_writer_finish(w) < 0) {
		snprintf(err, errlen, "cannot finish %s: %s", path, strerror(errno));
		return -1;
	}
	*size = w->hdr.file_size;
	return 0;
fail:
	img_writer_abort(w);
	if (!err[0])
		snprintf(err, errlen, "checkpoint of pid %d failed", getpid());
	return -1;
}
