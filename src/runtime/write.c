/* The image of this process. The checkpoint thread records everything while
 * every other thread waits in the checkpoint handler; the memory is then
 * written either right away or, by default, by a forked child that holds a
 * copy-on-write snapshot while the program runs on. */
#include "runtime/write.h"
#include "runtime/arena.h"
#include "runtime/dirty.h"
#include "runtime/fds.h"
#include "runtime/locks.h"
#include "runtime/members.h"
#include "runtime/plugin.h"
#include "image/kinds/plugins.h"
#include "runtime/mem.h"
#include "runtime/procinfo.h"
#include "runtime/progress.h"
#include "runtime/quiesce.h"
#include "runtime/snap.h"
#include "runtime/state.h"
#include "runtime/sysv.h"
#include "runtime/timers.h"
#include "runtime/write_pipe.h"
#include "runtime/zombies.h"
#include "runtime/libc.h"
#include "image/image.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"
#include "image/kinds/locks.h"
#include "image/kinds/shares.h"
#include "image/kinds/sysv.h"
#include "image/kinds/zombies.h"
#include "image/kinds/origin.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#define ZSTD_LEVEL 1

/* The program's anonymous memory at this checkpoint: the most its image
 * stores, uncompressed (for the message of a full disk). */
static uint64_t memory_bytes;

struct image_parts {
	struct img_proc proc;
	struct img_origin origin;
	struct img_sigaction sigact[64];
	struct img_thread *threads;
	uint32_t nthreads;
	struct rt_strtab tab;
	struct rt_files files;
	struct rt_fds fds;
	struct rt_vmas mem;
	struct rt_ipc ipc;
	struct rt_locks locks;
	struct img_plugin *plugins;
	uint32_t nplugins;
	char *smaps; /* /proc/self/smaps at the stop */
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

static int has_main_thread(const struct image_parts *p)
{
	for (uint32_t i = 0; i < p->nthreads; i++)
		if (p->threads[i].flags & IMG_THREAD_MAIN)
			return 1;
	return 0;
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
	uint32_t nz, nm;
	const struct img_zombie *zombies = rt_zombies_list(&nz);
	const struct img_member *members = rt_members_list(&nm);
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
	    {IMG_SEC_FDX, p->fds.fdx, p->fds.fdx_len},
	    {IMG_SEC_IPC, p->ipc.objs, p->ipc.n * sizeof(struct img_ipc)},
	    {IMG_SEC_ZOMBIES, zombies, nz * sizeof(struct img_zombie)},
	    {IMG_SEC_LOCKS, p->locks.locks, p->locks.n * sizeof(struct img_lock)},
	    {IMG_SEC_PARENT, rt_dirty_parent(), rt_dirty_parent() ? sizeof(struct img_parent) : 0},
	    {IMG_SEC_SHARES, p->fds.shares, p->fds.nshares * sizeof(struct img_share)},
	    {IMG_SEC_MEMBERS, members, nm * sizeof(struct img_member)},
	    {IMG_SEC_ORIGIN, &p->origin, sizeof(p->origin)},
	    {IMG_SEC_PLUGINS, p->plugins, p->nplugins * sizeof(struct img_plugin)},
	    {IMG_SEC_ZERO, p->mem.zero, p->mem.nzero * sizeof(struct img_zero_run)},
	};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if ((s[i].type != IMG_SEC_PARENT || s[i].data) &&
		    (s[i].size || (s[i].type != IMG_SEC_SHARES && s[i].type != IMG_SEC_MEMBERS &&
				   s[i].type != IMG_SEC_PLUGINS && s[i].type != IMG_SEC_ZERO)) &&
		    /* those four only when there are some */
		    img_write_section(w, s[i].type,
				      s[i].type == IMG_SEC_ORIGIN ? IMG_SECF_SKIPPABLE : 0,
				      s[i].data ? s[i].data : "", s[i].size) < 0)
			return -1;
	return 0;
}

/* Memory, with a helper thread compressing beside this one. */
static int write_memory(struct image_parts *p, struct img_writer *w, char *err, size_t errlen)
{
	struct rt_helper pipe;
	rt_pipe_start(w, &pipe);
	int rc = rt_dump_memory(w, &p->mem, err, errlen);
	if (rt_pipe_end(w, &pipe) < 0 && rc == 0) {
		rt_image_error(w, err, errlen);
		rc = -1;
	}
	return rc;
}

/* Memory, sections, header: everything after the threads are recorded. */
static int write_rest(struct image_parts *p, struct img_writer *w, char *err, size_t errlen)
{
	if (write_memory(p, w, err, errlen) < 0)
		goto fail;
	p->proc.vdso_size = p->mem.vdso_size;
	p->proc.vvar_size = p->mem.vvar_size;
	if (write_sections(w, p) < 0) {
		rt_image_error(w, err, errlen);
		goto fail;
	}
	w->hdr.comp_id = rt.comp_id;
	w->hdr.gen = rt.gen;
	w->hdr.nprocs = rt.ckpt_nprocs ? rt.ckpt_nprocs : 1;
	w->hdr.pid = p->proc.pid;
	if (rt_dirty_parent())
		w->hdr.flags |= IMG_F_INCREMENTAL;
	if (img_writer_finish(w) < 0) {
		rt_image_error(w, err, errlen);
		goto fail;
	}
	return 0;
fail:
	img_writer_abort(w); /* after img_writer_finish failed: nothing left to remove */
	if (!err[0])
		errf(err, errlen, "checkpoint of pid %u failed", p->proc.pid);
	return -1;
}

static void mib(char *buf, size_t size, uint64_t bytes)
{
	snprintf(buf, size, "%llu bytes (%.1f MiB)", (unsigned long long)bytes, bytes / 1048576.0);
}

/* A full disk: where, what is free there, what the image needs. */
static void disk_full(const struct img_writer *w, char *err, size_t errlen)
{
	char dir[PATH_MAX], avail[64], need[64], done[64];
	struct statvfs vfs;
	const char *slash = strrchr(w->path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - w->path) : 1,
		 slash ? w->path : ".");
	uint64_t free_bytes = statvfs(dir, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : 0;
	mib(avail, sizeof(avail), free_bytes);
	mib(need, sizeof(need), memory_bytes > w->off ? memory_bytes : w->off);
	mib(done, sizeof(done), w->off);
	snprintf(err, errlen,
		 "cannot %s %s: %s: the file system of %s has %s free, and this image needs up "
		 "to %s, its memory uncompressed (%s written so far); make room there, or "
		 "checkpoint to another directory (--ckpt-dir)",
		 w->failed ? w->failed : "write", w->tmp, strerror(ENOSPC), dir, avail, need, done);
}

void rt_image_error(const struct img_writer *w, char *err, size_t errlen)
{
	int e = errno;
	if (e == ENOSPC || e == EDQUOT)
		return disk_full(w, err, errlen);
	const char *op = w->failed ? w->failed : "write";
	snprintf(err, errlen, "cannot %s %s: %s", op,
		 !strcmp(op, "fsync the directory of") ? w->path : w->tmp, strerror(e));
	errno = e;
}

struct child_result {
	int32_t rc;
	uint64_t size, header_sum;
	char err[512];
};

/* In the forked child: a frozen copy of the process, only this thread. It
 * dies with the process (with the checkpoint thread that made it: the
 * process ended or exec'd): nothing would take its result, and an orphan
 * would go on writing an image of a checkpoint that failed. */
__attribute__((noreturn)) static void child_main(struct image_parts *p, struct img_writer *w,
						 int out, long parent)
{
	struct child_result r;
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0) {
		long ppid = syscall(SYS_getppid); /* 0: in a PID namespace the process made */
		if (ppid != parent && ppid != 0)
			syscall(SYS_exit_group, 1); /* gone already */
	}
	int lo = w->fd < out ? w->fd : out, hi = w->fd < out ? out : w->fd;
	/* hold none of the program's descriptors: a pipe's reader must see EOF when
	 * the program closes its end, not when we are done */
	if (lo > 0)
		close_range(0, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0u, 0);
	memset(&r, 0, sizeof(r));
	rt.writer_child = 1;
	r.rc = write_rest(p, w, r.err, sizeof(r.err));
	r.size = w->hdr.file_size;
	r.header_sum = w->hdr.header_sum;
	write_full(out, &r, sizeof(r));
	syscall(SYS_exit_group, 0);
	__builtin_unreachable();
}

/* clone() without an exit signal: the program never sees this child (no
 * SIGCHLD, invisible to wait() without __WALL), and no fork handlers run. */
static int fork_writer(struct image_parts *p, struct img_writer *w, struct rt_image_job *job)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	long parent = syscall(SYS_getpid);
	long pid = fault_hit(FAULT_RT_FORK) ? -1 : REAL(syscall)(SYS_clone, 0, 0, 0, 0, 0, 0);
	if (pid == 0) {
		close(fds[0]);
		child_main(p, w, fds[1], parent);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	close(w->fd); /* the child writes the image now */
	job->forked = 1;
	job->pid = pid;
	job->result_fd = fds[0];
	return 0;
}

/* Everything a process of the checkpoint can change once it runs on:
 * descriptors with the bytes in flight in pipes, sockets and queues, the
 * SysV objects, the memory regions with the files behind them, and a copy
 * of the shared pages this process stores. Taken while every process is
 * stopped (between the SUSPENDED and DRAINED barriers), so that a process
 * that resumes early (forked writer) can neither send into a queue another
 * has not recorded yet nor write shared memory another has not copied yet.
 * live: no process runs before every image is written (checkpoint --kill),
 * so shared pages need no copy. */
struct image_parts *rt_capture(int live, char *err, size_t errlen)
{
	struct image_parts *p = rt_alloc(sizeof(*p));
	if (!p)
		return errf(err, errlen, "out of checkpoint memory"), NULL;
	memset(p, 0, sizeof(*p));
	rt_str_add(&p->tab, "");
	rt_dump_origin(&p->origin, &p->tab);
	if (rt_dump_proc(&p->proc, &p->tab, err, errlen) < 0 ||
	    rt_dump_fds(&p->fds, &p->files, &p->tab, err, errlen) < 0 ||
	    rt_dump_sysv(&p->ipc, &p->files, err, errlen) < 0 ||
	    rt_dump_locks(&p->locks, &p->fds, &p->files, err, errlen) < 0 ||
	    rt_plugins_dump(&p->plugins, &p->nplugins, &p->tab, &p->files, err, errlen) < 0 ||
	    !(p->smaps = rt_read_smaps(err, errlen)) ||
	    rt_plan_memory(&p->mem, &p->tab, &p->files, p->smaps,
			   live ? RT_PLAN_LIVE : RT_PLAN_COPY, err, errlen) < 0)
		return NULL;
	return p;
}

int rt_write_image(struct image_parts *p, const char *path, int compress, int incremental,
		   int may_fork, struct rt_image_job *job, char *err, size_t errlen)
{
	struct img_writer *w = rt_alloc(sizeof(*w));
	const char *smaps = p->smaps;
	memset(job, 0, sizeof(*job));
	job->rc = -1;
	if (!w)
		return errf(err, errlen, "out of checkpoint memory");
	rt_dump_sigactions(p->sigact);
	if (rt_dump_timers(err, errlen) < 0)
		return -1;
	if (img_writer_open(w, path) < 0) {
		rt_image_error(w, err, errlen);
		return -1;
	}
	if (compress && setup_compression(w) < 0) {
		errf(err, errlen, "cannot set up compression");
		goto fail;
	}
	rt_thread_capture_self(&rt.ckpt_self);
	rt.ckpt_self.tid = rt_gettid();
	if (rt_save_context(&rt.ckpt_self.ctx)) {
		rt_snap_forget();
		job->restarted = 1; /* the image we were writing is the one we came from */
		return 0;
	}
	memory_bytes = rt_smaps_anon_bytes(smaps);
	rt_progress_begin(memory_bytes);
	if (collect_threads(p) < 0) {
		errf(err, errlen, "out of checkpoint memory");
		goto fail;
	}
	if (!has_main_thread(p)) { /* an image restart would refuse: write none */
		errf(err, errlen,
		     "pid %d: its main thread was not held for the checkpoint (%u threads held); "
		     "the program goes on, try again",
		     getpid(), p->nthreads);
		goto fail;
	}
	/* the written-page scan resets the protections: with the threads held,
	 * before the writer's copy of the page tables exists */
	if (rt_dirty_scan(smaps, path, incremental, err, errlen) < 0)
		goto fail;
	if (may_fork && rt_fork_safe(smaps) && fork_writer(p, w, job) == 0)
		return 0;
	job->rc = write_rest(p, w, err, errlen); /* it cleans up after itself */
	job->size = w->hdr.file_size;
	job->header_sum = w->hdr.header_sum;
	return job->rc;
fail:
	img_writer_abort(w);
	return -1;
}

int rt_image_wait(struct rt_image_job *job, char *err, size_t errlen)
{
	struct child_result r;
	int st;
	if (!job->forked)
		return job->rc;
	struct pollfd pfd = {.fd = job->result_fd, .events = POLLIN};
	while (poll(&pfd, 1, 250) == 0 || (pfd.revents == 0 && errno == EINTR))
		rt_progress_report(1); /* the child writes; tell the coordinator how far */
	ssize_t n = read_full(job->result_fd, &r, sizeof(r));
	close(job->result_fd);
	while (waitpid(job->pid, &st, __WALL) < 0 && errno == EINTR)
		;
	job->forked = 0;
	if (n != sizeof(r))
		return job->rc = errf(
			   err, errlen, "pid %d: the checkpoint writer (pid %d) died: %s", getpid(),
			   job->pid, WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no result");
	if (r.rc < 0)
		errf(err, errlen, "%s", r.err);
	job->size = r.size;
	job->header_sum = r.header_sum;
	return job->rc = r.rc;
}
