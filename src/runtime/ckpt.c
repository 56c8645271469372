/* The runtime's entry: joins the coordinator at load time, then runs the
 * checkpoint thread, which follows the coordinator's phases. */
#include "runtime/rt.h"
#include "common/io.h"
#include "common/log.h"
#include "common/proto.h"
#include "stasis/stasis.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct rt_state rt = {.coord_fd = -1};

static int send_barrier(uint32_t id)
{
	struct proto_barrier b = {.id = id};
	return proto_send(rt.coord_fd, MSG_BARRIER, &b, sizeof(b), NULL, 0);
}

static void api_complete(int result)
{
	if (!__atomic_load_n(&rt.api_pending, __ATOMIC_ACQUIRE))
		return;
	rt.api_result = result;
	__atomic_store_n(&rt.api_pending, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&rt.api_seq, 1, __ATOMIC_ACQ_REL);
	rt_futex_wake(&rt.api_seq);
}

static void handle_result(struct proto_msg *m)
{
	struct proto_ckpt_result r;
	if (m->hdr.len < sizeof(r))
		return;
	memcpy(&r, m->payload, sizeof(r));
	if (r.status)
		errno = EIO;
	api_complete(r.status ? -1 : STASIS_CKPT_ORIGINAL);
}

/* Wait for the pass of barrier id; other messages that may arrive meanwhile are
 * handled here. Returns 0 on pass, 1 on KILL, -1 on a lost coordinator. */
static int wait_barrier(uint32_t id, uint8_t *buf, size_t size)
{
	struct proto_msg m;
	for (;;) {
		if (proto_recv(rt.coord_fd, &m, buf, size) < 0)
			return -1;
		if (m.hdr.type == MSG_KILL)
			return 1;
		if (m.hdr.type == MSG_CKPT_RESULT) {
			handle_result(&m);
			continue;
		}
		if (m.hdr.type == MSG_BARRIER && m.hdr.len >= sizeof(struct proto_barrier)) {
			struct proto_barrier b;
			memcpy(&b, m.payload, sizeof(b));
			if (b.id == id) {
				rt.ckpt_nprocs = b.nprocs; /* how many processes take part */
				rt.barrier_flags = b.flags;
				rt_note_members(m.payload + sizeof(b), m.hdr.len - sizeof(b));
				return 0;
			}
		}
		debug("unexpected message %u while waiting for barrier %u", m.hdr.type, id);
	}
}

static int barrier(uint32_t id, uint8_t *buf, size_t size)
{
	if (send_barrier(id) < 0)
		return -1;
	return wait_barrier(id, buf, size);
}

static void die_killed(void)
{
	/* the computation was checkpointed with --kill */
	syscall(SYS_kill, getpid(), SIGKILL);
	_exit(137);
}

static void image_path(char *buf, size_t size, const char *dir, uint32_t gen)
{
	snprintf(buf, size, "%s/ckpt_%s_%016llx_%d_g%u.stasis", dir, rt.name,
		 (unsigned long long)rt.comp_id, getpid(), gen);
}

/* Keep this generation and the previous one, and every image their chains
 * build on (incremental images): remove those below keep_from. */
static void remove_old_generations(const char *dir, uint32_t keep_from)
{
	char old[PATH_MAX];
	for (uint32_t g = keep_from > 40 ? keep_from - 40 : 1; g < keep_from; g++) {
		image_path(old, sizeof(old), dir, g);
		unlink(old);
	}
}

/* After a restart, the checkpoint thread resumes here (see write.c). */
static int after_restart(uint8_t *buf, size_t size)
{
	struct rt_restart_info *ri = &rt.restart;
	rt_thread_reinstate_self(&rt.ckpt_self);
	rt_dirty_reset(ri->magic == RT_RESTART_MAGIC ? ri->base_gen : 0);
	rt.ckpt_tid = rt_gettid();
	rt_progress_init(); /* shared again: it came back as private memory */
	rt_restore_itimers();
	int want = rt.nsuspended;
	for (;;) {
		int n = __atomic_load_n(&rt.nrestored, __ATOMIC_ACQUIRE);
		if (n >= want)
			break;
		rt_futex_wait(&rt.nrestored, n);
	}
	rt_restore_timers(); /* once every thread exists: a timer may signal one of them */
	if (ri->magic == RT_RESTART_MAGIC) {
		if (ri->blob_len)
			munmap((void *)ri->blob_addr, ri->blob_len);
		rt.comp_id = ri->comp_id;
		rt.gen = ri->gen;
		rt.flags |= ri->flags;
		if (ri->port)
			rt.port = ri->port;
		if (ri->ckpt_dir[0])
			snprintf(rt.ckpt_dir, sizeof(rt.ckpt_dir), "%s", ri->ckpt_dir);
		ri->magic = 0;
	}
	debug("pid %d: restarted, waiting for the RESTARTED barrier", getpid());
	int rc = barrier(BARRIER_RESTARTED, buf, size);
	debug("pid %d: RESTARTED barrier passed", getpid());
	api_complete(STASIS_CKPT_RESTARTED);
	return rc;
}

static int getenv_flag(const char *name)
{
	const char *v = secure_getenv(name);
	return v && *v && strcmp(v, "0");
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* One checkpoint, as the checkpoint thread runs it. */
struct ckpt_run {
	struct proto_ckpt_begin cb;
	struct rt_image_job job;
	struct timespec t0;
	int released, reported;
	int huge; /* a forked writer without dirty-page tracking: huge pages help */
	struct image_parts *parts;
	char dir[PATH_MAX], path[PATH_MAX], err[512];
};

static void parse_begin(const struct proto_msg *m, struct ckpt_run *c)
{
	size_t dlen = m->hdr.len - sizeof(c->cb);
	memcpy(&c->cb, m->payload, sizeof(c->cb));
	if (dlen >= sizeof(c->dir))
		dlen = sizeof(c->dir) - 1;
	memcpy(c->dir, m->payload + sizeof(c->cb), dlen);
	c->dir[dlen] = 0;
	if (rt.ckpt_dir[0]) /* the directory given to launch wins */
		snprintf(c->dir, sizeof(c->dir), "%s", rt.ckpt_dir);
	rt.comp_id = c->cb.comp_id;
	rt.gen = c->cb.gen;
	image_path(c->path, sizeof(c->path), c->dir, c->cb.gen);
}

/* With every thread held, no child can appear: tell the coordinator ours.
 * Zombies are not in the list: they are recorded in this image instead. */
static void send_children(void)
{
	uint32_t *pids = rt_alloc(4096 * sizeof(uint32_t));
	int n = pids ? rt_list_children(pids, 4096) : 0;
	n = rt_zombies_take(pids, n);
	proto_send(rt.coord_fd, MSG_CHILDREN, pids, n * sizeof(uint32_t), NULL, 0);
}

static int suspend(struct ckpt_run *c)
{
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	rt.nrestored = 0;
	int rc = rt_suspend_all();
	send_children();
	if (rc == 0)
		return 0;
	snprintf(c->err, sizeof(c->err),
		 "pid %d: a thread did not stop for the checkpoint within %d s (%s); the "
		 "program goes on",
		 getpid(), RT_SUSPEND_TIMEOUT, strerror(errno));
	return -1;
}

/* Returns 1 in a restarted process, else 0 with the outcome in c->job. */
static int write_image(struct ckpt_run *c)
{
	/* a --kill checkpoint has nothing to resume: no point in forking */
	int may_fork = !(c->cb.flags & CKPT_KILL) && !getenv_flag("STASIS_NO_FORK");
	int compress = !((c->cb.flags | rt.flags) & CKPT_NO_COMPRESS);
	int incremental = !!((c->cb.flags | rt.flags) & CKPT_INCREMENTAL);
	if (rt_write_image(c->parts, c->path, compress, incremental, may_fork, &c->job, c->err,
			   sizeof(c->err)) == 1)
		return 1;
	if (c->job.forked) {
		if (c->huge)
			rt_huge_hold();
		rt_release_all(); /* the program runs on while the child writes */
		c->released = 1;
		debug("threads paused %.1f ms", elapsed_ms(&c->t0));
	}
	rt_snap_release(); /* the writer has its own mapping of the copy */
	return 0;
}

static void report_image(struct ckpt_run *c, int rc)
{
	if (rc == 0) {
		struct proto_image_done d = {.size = c->job.size};
		proto_send(rt.coord_fd, MSG_IMAGE_DONE, &d, sizeof(d), c->path, strlen(c->path));
		remove_old_generations(
		    c->dir, rt_dirty_done(c->path, c->cb.gen, c->job.header_sum, c->job.size));
	} else {
		proto_send(rt.coord_fd, MSG_CKPT_ERROR, c->err, strlen(c->err), NULL, 0);
	}
}

static void resume_restarted(uint8_t *buf, size_t size)
{
	rt_huge_forget();
	int rc = after_restart(buf, size);
	rt_arena_reset();
	if (rc != 1) {
		rt_tty_restarted(); /* opens /dev/tty: while the program's threads are
				       held, so it cannot take a number they are about to use */
		rt_prefault_plan();
	}
	rt_release_all();
	if (rc == 1)
		die_killed();
	rt_prefault_run(); /* on this otherwise idle thread, while the program runs */
}

static void lost_coordinator(void)
{
	rt_shares_done();
	rt_release_all();
	rt_snap_release();
	rt_arena_reset();
	warn("pid %d: lost the coordinator during a checkpoint", getpid());
}

/* On a helper with its own descriptor table: what it opens takes no number
 * the program's running threads may be about to use. arg: a writer will be
 * forked, without dirty-page tracking (huge pages shorten its fork). */
static void snap_prepare(void *arg)
{
	if (arg)
		rt_huge_prepare();
	rt_snap_prepare();
}

static void checkpoint(struct proto_msg *m, uint8_t *buf, size_t size)
{
	struct ckpt_run c = {.job = {.rc = -1}};
	parse_begin(m, &c);
	int flags = c.cb.flags | rt.flags;
	c.huge = !(flags & (CKPT_INCREMENTAL | CKPT_KILL)) && !getenv_flag("STASIS_NO_FORK");
	if (!(c.cb.flags & CKPT_KILL)) /* the program runs: make room for its shared pages */
		rt_run_private_files(snap_prepare, c.huge ? &c : NULL);
	if (barrier(BARRIER_PREPARED, buf, size)) /* nobody stops before all are ready */
		return lost_coordinator();
	rt_shares_begin();
	int rc = suspend(&c);
	debug("pid %d: threads held in %.1f ms", getpid(), elapsed_ms(&c.t0));
	if (barrier(BARRIER_SUSPENDED, buf, size))
		return lost_coordinator();
	rt_shares_scan(); /* every process is stopped until DRAINED passes */
	debug("pid %d: SUSPENDED passed at %.1f ms", getpid(), elapsed_ms(&c.t0));
	if (rc == 0 && !(rt.barrier_flags & BARRIER_F_ABORT) &&
	    !(c.parts = rt_capture(!!(c.cb.flags & CKPT_KILL), c.err, sizeof(c.err))))
		rc = -1;
	if (rc != 0) { /* now, so that the DRAINED pass tells everyone to write nothing */
		report_image(&c, rc);
		c.reported = 1;
	}
	debug("pid %d: captured at %.1f ms", getpid(), elapsed_ms(&c.t0));
	int drained = barrier(BARRIER_DRAINED, buf, size);
	rt_shares_done(); /* every process has read the lists it needed */
	if (drained)
		return lost_coordinator();
	debug("pid %d: DRAINED passed at %.1f ms", getpid(), elapsed_ms(&c.t0));
	int aborted = rt.barrier_flags & BARRIER_F_ABORT; /* failed elsewhere: write nothing */
	if (rc == 0 && !aborted && write_image(&c) == 1) {
		resume_restarted(buf, size);
		return;
	}
	if (rc == 0 && !aborted)
		rc = rt_image_wait(&c.job, c.err, sizeof(c.err));
	if (!aborted && !c.reported)
		report_image(&c, rc);
	rt_snap_release(); /* a capture that was not written */
	rt_arena_reset();
	rc = barrier(BARRIER_WRITTEN, buf, size);
	if (rc == 1)
		die_killed();
	if (!c.released)
		rt_release_all();
	if (rc < 0)
		warn("pid %d: lost the coordinator during a checkpoint", getpid());
	rt_huge_idle(rc == 0 && c.released); /* what the time before the stop left */
	rt_arena_reset();
}

static void *ckpt_thread(void *arg)
{
	(void)arg;
	static uint8_t buf[PATH_MAX + 4096];
	rt.ckpt_tid = rt_gettid();
	for (;;) {
		struct proto_msg m;
		if (proto_recv(rt.coord_fd, &m, buf, sizeof(buf)) < 0) {
			warn("pid %d lost its coordinator (port %u): %s; it goes on without "
			     "checkpoints",
			     getpid(), rt.port,
			     errno == ECONNRESET ? "connection closed" : strerror(errno));
			api_complete(-1);
			return NULL; /* the program goes on without checkpoints */
		}
		switch (m.hdr.type) {
		case MSG_CKPT_BEGIN:
			if (m.hdr.len >= sizeof(struct proto_ckpt_begin))
				checkpoint(&m, buf, sizeof(buf));
			break;
		case MSG_CKPT_RESULT:
			handle_result(&m);
			break;
		case MSG_KILL:
			die_killed();
			break;
		default:
			debug("ignoring message type %u", m.hdr.type);
		}
	}
}

/* The thread is born with every signal blocked: until it runs, the program's
 * signals must go to the program's threads, never to it. */
int rt_start_ckpt_thread(void)
{
	pthread_t t;
	pthread_attr_t a;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&t, &a, ckpt_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	return rc ? -1 : 0;
}

static void program_name(char *buf, size_t size)
{
	char comm[64] = "";
	if (read_small_file("/proc/self/comm", comm, sizeof(comm)) > 0)
		comm[strcspn(comm, "\n")] = 0;
	for (char *p = comm; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	snprintf(buf, size, "%s", comm[0] ? comm : "proc");
}

static int join_coordinator(void)
{
	struct proto_hello h = {.role = ROLE_PROCESS, .pid = getpid(), .comp_id = rt.comp_id};
	struct proto_welcome w;
	char err[512];
	program_name(rt.name, sizeof(rt.name));
	snprintf(h.name, sizeof(h.name), "%s", rt.name);
	int fd = proto_client_connect(rt.port, &h, &w, rt.ckpt_dir, sizeof(rt.ckpt_dir), err,
				      sizeof(err));
	if (fd < 0) {
		log_msg("error", "%s", err);
		return -1;
	}
	rt.coord_fd = fd_move_above(fd, 100);
	rt.pid = getpid();
	const char *dir = secure_getenv("STASIS_CKPT_DIR");
	if (dir && dir[0] == '/')
		snprintf(rt.ckpt_dir, sizeof(rt.ckpt_dir), "%s", dir);
	if (secure_getenv("STASIS_NO_COMPRESS"))
		w.flags |= CKPT_NO_COMPRESS;
	if (getenv_flag("STASIS_INCREMENTAL"))
		w.flags |= CKPT_INCREMENTAL;
	rt.comp_id = w.comp_id;
	rt.gen = w.gen;
	rt.flags = w.flags;
	return 0;
}

/* A forked child is a new process of the computation: it lets go of its
 * parent's coordinator connection and checkpoint thread state, joins with its
 * own, and starts its own checkpoint thread. */
/* The parent's thread slots mean nothing here. Only the slots a thread used are
 * written: the table is 8 MiB, and a memset of it made every forked child store
 * it in its image (and fault it in at fork). */
static void forget_threads(void)
{
	for (int i = 0; i < RT_MAX_THREADS; i++)
		if (rt.threads[i].state != RT_FREE || rt.threads[i].tid) {
			rt.threads[i].state = RT_FREE;
			rt.threads[i].tid = 0;
		}
}

void rt_forked_child(void)
{
	int parent_fd = rt.coord_fd;
	rt.coord_fd = -1; /* first: close() refuses the runtime's own fd (fdguard.c) */
	if (parent_fd >= 0)
		close(parent_fd);
	rt_snap_release(); /* forked while the parent prepared a checkpoint: not ours */
	int uffd = rt_dirty_fd();
	rt_dirty_reset(0); /* first, like the socket: then close() lets it go */
	if (uffd >= 0)
		close(uffd); /* the parent's: this process has no registrations */
	rt.enabled = 0;
	forget_threads();
	rt.nsuspended = rt.ntaken = rt.nrestored = 0;
	rt.suspending = 0;
	rt.api_pending = 0;
	if (join_coordinator() < 0 || rt_start_ckpt_thread() < 0) {
		log_msg("error", "pid %d (forked) runs without checkpoints", getpid());
		return;
	}
	rt.enabled = 1;
}

/* The runtime reads its variables with secure_getenv(), which reads environ
 * directly: a program may define its own getenv() (bash does, and its answers
 * in a forked child miss exported variables), and the checkpoint thread must
 * not call into the program. */
__attribute__((constructor)) static void rt_init(void)
{
	const char *port = secure_getenv("STASIS_PORT");
	const char *sig = secure_getenv("STASIS_SIGNAL");
	if (!port || !secure_getenv("STASIS_RUNTIME"))
		return;
	log_set_prefix("stasis runtime");
	rt_wrappers_init();
	rt.port = proto_default_port();
	rt.sig = sig ? atoi(sig) : SIGRTMAX - 2;
	rt_note_inherited_fds();
	rt_exec_init();
	if (rt_arena_init() < 0 || rt_progress_init() < 0 || rt_install_handler() < 0 ||
	    join_coordinator() < 0 || rt_start_ckpt_thread() < 0) {
		log_msg("error", "pid %d runs without checkpoints: runtime setup failed", getpid());
		return;
	}
	pthread_atfork(NULL, NULL, rt_forked_child);
	rt.enabled = 1;
}

__attribute__((visibility("default"))) int stasis_rt_enabled(void)
{
	return rt.enabled;
}

__attribute__((visibility("default"))) int stasis_rt_checkpoint(void)
{
	if (!rt.enabled)
		return STASIS_NOT_ENABLED;
	struct proto_cmd_checkpoint c = {0};
	int seq = __atomic_load_n(&rt.api_seq, __ATOMIC_ACQUIRE);
	__atomic_store_n(&rt.api_pending, 1, __ATOMIC_RELEASE);
	if (proto_send(rt.coord_fd, MSG_CMD_CHECKPOINT, &c, sizeof(c), NULL, 0) < 0)
		return -1;
	while (__atomic_load_n(&rt.api_seq, __ATOMIC_ACQUIRE) == seq)
		rt_futex_wait(&rt.api_seq, seq);
	return rt.api_result;
}
