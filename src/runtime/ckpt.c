/* The runtime's entry: joins the coordinator at load time, then runs the
 * checkpoint thread, which follows the coordinator's phases. */
#include "runtime/ckpt.h"
#include "runtime/api.h"
#include "restore/blob/restart_info.h"
#include "restore/blob/blob.h"
#include "runtime/arena.h"
#include "runtime/dirty.h"
#include "runtime/exec.h"
#include "runtime/fd_inet.h"
#include "runtime/fd_owner.h"
#include "runtime/fd_tcp.h"
#include "runtime/huge.h"
#include "runtime/members.h"
#include "runtime/prefault.h"
#include "runtime/sock_names.h"
#include "runtime/shares.h"
#include "runtime/fd_sock.h"
#include "runtime/fd_tty.h"
#include "runtime/fds.h"
#include "runtime/outside.h"
#include "runtime/plugin.h"
#include "runtime/procinfo.h"
#include "runtime/progress.h"
#include "runtime/quiesce.h"
#include "runtime/snap.h"
#include "runtime/state.h"
#include "runtime/timers.h"
#include "runtime/write.h"
#include "runtime/write_pipe.h"
#include "runtime/zombies.h"
#include "runtime/libc.h"
#include "common/fault.h"
#include "common/ckptfiles.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"
#include "common/proto.h"
#include "stasis/stasis.h"
#include "runtime/fd_outside.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* restart: in every image, so that a restorer of another build can tell
 * (restore/blob/restart_info.h) */
struct rt_state rt = {
    .coord_fd = -1,
    .restart = {.version = RT_RESTART_VERSION, .size = sizeof(struct rt_restart_info)},
};

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

/* The computation's interval, which the coordinator tells every process: it
 * is in the image, and a restarted or rejoining process tells it back. */
static void note_interval(const struct proto_msg *m)
{
	if (m->hdr.len == sizeof(rt.interval))
		memcpy(&rt.interval, m->payload, sizeof(rt.interval));
}

static void send_interval(void)
{
	if (rt.interval)
		proto_send(rt.coord_fd, MSG_INTERVAL, &rt.interval, sizeof(rt.interval), NULL, 0);
}

/* Messages that came while the checkpoint thread waited for another kind
 * (a CKPT_BEGIN while a plugin's RESUME event waits on the name service):
 * kept, and handled afterwards in their order. A KILL is kept as a flag:
 * every later wait, and the main loop, ends with it. */
#define QUEUE_LEN 8
#define QUEUE_MSG (sizeof(struct proto_ckpt_begin) + PATH_MAX)
static struct queued {
	struct proto_hdr hdr;
	uint8_t payload[QUEUE_MSG];
} queue[QUEUE_LEN];
static int queue_len, killed;

static void queue_reset(void) /* the messages of a connection let go of */
{
	queue_len = 0;
	killed = 0;
}

static int queue_keep(const struct proto_msg *m, uint16_t waiting_for)
{
	if (queue_len == QUEUE_LEN || m->hdr.len > QUEUE_MSG) {
		warn("pid %d: message %u (%u bytes) from the coordinator (port %u) came while it "
		     "waited for message %u, and it cannot keep more than %d of at most %zu "
		     "bytes: it leaves this connection and joins the computation again",
		     getpid(), m->hdr.type, m->hdr.len, rt.port, waiting_for, QUEUE_LEN, QUEUE_MSG);
		return -1;
	}
	queue[queue_len].hdr = m->hdr;
	memcpy(queue[queue_len++].payload, m->payload, m->hdr.len);
	return 0;
}

/* The first kept message of `type` (0: of any) into m and buf: 1, else 0. */
static int queue_take(uint16_t type, struct proto_msg *m, uint8_t *buf, size_t size)
{
	for (int i = 0; i < queue_len; i++) {
		if ((type && queue[i].hdr.type != type) || queue[i].hdr.len > size)
			continue;
		m->hdr = queue[i].hdr;
		m->payload = buf;
		memcpy(buf, queue[i].payload, m->hdr.len);
		memmove(&queue[i], &queue[i + 1], (queue_len - i - 1) * sizeof(queue[0]));
		queue_len--;
		return 1;
	}
	return 0;
}

/* Handled at once wherever it comes: 1, else 0. */
static int note_message(struct proto_msg *m)
{
	if (m->hdr.type == MSG_CKPT_RESULT)
		handle_result(m);
	else if (m->hdr.type == MSG_INTERVAL)
		note_interval(m);
	else if (m->hdr.type == MSG_MEMBERS)
		rt_members_note(m->payload, m->hdr.len);
	else if (m->hdr.type == MSG_PING || m->hdr.type == MSG_KV_ANSWER)
		; /* a name-service answer no one waits for (its lookup timed out) */
	else
		return 0;
	return 1;
}

/* The next message of `type`; the others that may arrive meanwhile are
 * handled or kept (see queue). The coordinator pings every second of a
 * checkpoint: one silent for PROTO_SILENCE_MS is given up on. With a deadline
 * (now_ms()), RT_COORD_TIMEOUT once it has passed instead. */
static int coord_wait(uint16_t type, struct proto_msg *m, void *buf, size_t size,
		      long long deadline)
{
	if (killed)
		return RT_COORD_KILLED;
	if (queue_take(type, m, buf, size))
		return 0;
	for (;;) {
		long long ms = PROTO_SILENCE_MS;
		if (deadline && (ms = deadline - now_ms()) <= 0)
			return RT_COORD_TIMEOUT;
		if (proto_recv_timeout(rt.coord_fd, m, buf, size, (int)ms) < 0) {
			if (errno == ETIMEDOUT && deadline)
				return RT_COORD_TIMEOUT;
			if (errno == ETIMEDOUT)
				warn("pid %d: the coordinator (port %u) said nothing for %d s "
				     "during a checkpoint",
				     getpid(), rt.port, PROTO_SILENCE_MS / 1000);
			return RT_COORD_LOST;
		}
		if (m->hdr.type == MSG_KILL)
			return killed = 1, RT_COORD_KILLED;
		if (m->hdr.type == type)
			return 0;
		if (note_message(m))
			continue;
		if (queue_keep(m, type) < 0)
			return RT_COORD_LOST;
	}
}

int rt_coord_wait(uint16_t type, struct proto_msg *m, void *buf, size_t size)
{
	return coord_wait(type, m, buf, size, 0);
}

int rt_coord_wait_ms(uint16_t type, struct proto_msg *m, void *buf, size_t size, int timeout_ms)
{
	return coord_wait(type, m, buf, size, now_ms() + (timeout_ms > 0 ? timeout_ms : 1));
}

/* Wait for the pass of barrier id (see rt_coord_wait). Returns 0 on pass, 1
 * on KILL, -1 on a lost coordinator. */
static int wait_barrier(uint32_t id, uint8_t *buf, size_t size)
{
	struct proto_msg m;
	for (;;) {
		int rc = rt_coord_wait(MSG_BARRIER, &m, buf, size);
		if (rc)
			return rc == RT_COORD_KILLED ? 1 : -1;
		if (m.hdr.len >= sizeof(struct proto_barrier)) {
			struct proto_barrier b;
			memcpy(&b, m.payload, sizeof(b));
			if (b.id == id) {
				rt.ckpt_nprocs = b.nprocs; /* how many processes take part */
				rt.barrier_flags = b.flags;
				rt_note_members(m.payload + sizeof(b), m.hdr.len - sizeof(b));
				return 0;
			}
		}
		debug("unexpected barrier while waiting for barrier %u", id);
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
	/* the computation was checkpointed with --kill, or stasis kill */
	rt_inet_before_kill();
	syscall(SYS_kill, getpid(), SIGKILL);
	_exit(137);
}

static void image_path(char *buf, size_t size, const char *dir, uint32_t gen)
{
	snprintf(buf, size, "%s/ckpt_%s_%016llx_%d_g%u.stasis", dir, rt.name,
		 (unsigned long long)rt.comp_id, getpid(), gen);
}

/* Keep this generation and the previous one, and every image their chains
 * build on (incremental images): remove those below keep_from, and their
 * temp files. */
static void remove_old_generations(const char *dir, uint32_t keep_from)
{
	char old[PATH_MAX], tmp[PATH_MAX + 8];
	for (uint32_t g = keep_from > 40 ? keep_from - 40 : 1; g < keep_from; g++) {
		image_path(old, sizeof(old), dir, g);
		snprintf(tmp, sizeof(tmp), "%s.tmp", old);
		unlink(old);
		unlink(tmp);
	}
}

/* Where this process runs (MSG_HOST): after joining, and after a restart,
 * which runs it in a PID namespace of its own, maybe on another host. */
static void send_host(void)
{
	struct proto_host host;
	proto_host_fill(&host);
	proto_send(rt.coord_fd, MSG_HOST, &host, sizeof(host), NULL, 0);
}

/* The plugins' RESTART event, before the RESTARTED barrier: one that fails
 * fails the restart as a restorer does (restore/spawn.c rst_abort): the
 * namespace's PID 1 tells restart, and every process of it ends. */
static void restart_plugins(void)
{
	char err[512];
	if (rt_nplugins && rt_plugins_restart(rt.gen, err, sizeof(err)) < 0) {
		log_msg("error", "%s; the restart fails", err);
		char init[32] = "";
		/* restarted processes run in a PID namespace whose PID 1 is restart's */
		if (read_small_file("/proc/1/comm", init, sizeof(init)) > 0 &&
		    !strcmp(init, "stasis\n"))
			kill(1, BLOB_ABORT_SIGNAL);
		syscall(SYS_exit_group, 1);
	}
}

/* After a restart the blob has blocked every signal (restore/blob/blob.c);
 * the checkpoint thread takes back the mask it was born with: every signal but
 * glibc's own two, which glibc keeps open in every thread (setuid() in a
 * program with threads waits until each has taken SIGSETXID). */
static void ckpt_thread_mask(void)
{
	sigset_t all;
	sigfillset(&all);
	REAL(pthread_sigmask)(SIG_SETMASK, &all, NULL);
}

/* After a restart, the checkpoint thread resumes here (see write.c). */
static int after_restart(uint8_t *buf, size_t size)
{
	struct rt_restart_info *ri = &rt.restart;
	fault_generation(0); /* the checkpoint's faults were for its first run */
	ckpt_thread_mask();
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
	/* restart --debug-pause: every thread is back. The signal is this thread's,
	 * so that it stops here, in tgkill, not somewhere after it. */
	if (ri->magic == RT_RESTART_MAGIC && ri->debug_pause)
		syscall(SYS_tgkill, getpid(), rt_gettid(), SIGSTOP);
	rt_requeue_restored(); /* before any process of the restart runs */
	rt_restore_timers();   /* once every thread exists: a timer may signal one of them */
	rt_names_restarted();  /* the connections' new sockets answer with the old names */
	queue_reset();	       /* the connection is the restorer's now */
	if (ri->magic == RT_RESTART_MAGIC) {
		if (ri->blob_len)
			munmap((void *)ri->blob_addr, ri->blob_len);
		rt.comp_id = ri->comp_id;
		rt.gen = ri->gen;
		rt.committed_gen = ri->gen;
		rt.restarts++;
		rt.flags |= ri->flags;
		if (ri->port)
			rt.port = ri->port;
		if (ri->ckpt_dir[0])
			snprintf(rt.ckpt_dir, sizeof(rt.ckpt_dir), "%s", ri->ckpt_dir);
		rt_outside_restarted(ri);
		ri->magic = 0;
	}
	send_host();
	send_interval(); /* a new coordinator takes it */
	restart_plugins();
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
	int released, reported, wrote;
	int plugin_failed; /* a plugin failed its CHECKPOINT event (err says which) */
	int huge;	   /* a forked writer without dirty-page tracking: huge pages help */
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
	/* the coordinator's directory wins (its restart script is there); on
	 * another host than the coordinator's, the one launch or restart was
	 * given there */
	if (rt.ckpt_dir[0] && (proto_coord_remote() || !c->dir[0]))
		snprintf(c->dir, sizeof(c->dir), "%s", rt.ckpt_dir);
	else
		snprintf(rt.ckpt_dir, sizeof(rt.ckpt_dir), "%s", c->dir);
	rt.comp_id = c->cb.comp_id;
	rt.gen = c->cb.gen;
	fault_generation(rt.gen);
	rt_members_note(NULL, 0); /* until the coordinator lists this checkpoint's */
	image_path(c->path, sizeof(c->path), c->dir, c->cb.gen);
}

/* With every thread held, no child can appear: tell the coordinator ours.
 * Zombies are not in the list: they are recorded in this image instead. */
static int send_children(struct ckpt_run *c)
{
	uint32_t *pids = rt_alloc(4096 * sizeof(uint32_t));
	int n = pids ? rt_list_children(pids, 4096) : -1;
	if (n < 0) /* an empty list would hide a child that did not join */
		return snprintf(c->err, sizeof(c->err),
				"pid %d: cannot list its children: out of checkpoint memory",
				getpid()),
		       -1;
	n = rt_zombies_take(pids, n);
	proto_send(rt.coord_fd, MSG_CHILDREN, pids, n * sizeof(uint32_t), NULL, 0);
	return 0;
}

static int suspend(struct ckpt_run *c)
{
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	rt.nrestored = 0;
	if (c->plugin_failed || rt_crit_close() < 0) {
		if (!c->plugin_failed)
			snprintf(
			    c->err, sizeof(c->err),
			    "pid %d: a critical section (stasis_disable_checkpoint) stayed open "
			    "for more than %d s; the program goes on",
			    getpid(), RT_SUSPEND_TIMEOUT);
		/* its threads run: no list of children (the checkpoint fails anyway) */
		proto_send(rt.coord_fd, MSG_CHILDREN, NULL, 0, NULL, 0);
		return -1;
	}
	int rc = rt_suspend_all();
	if (send_children(c) < 0)
		return -1;
	if (rc == 0)
		return 0;
	if (errno == ENOMEM)
		snprintf(c->err, sizeof(c->err),
			 "pid %d: cannot hold its threads: out of checkpoint memory; the program "
			 "goes on",
			 getpid());

	else
		snprintf(c->err, sizeof(c->err),
			 "pid %d: a thread did not stop for the checkpoint within %d s (%s); the "
			 "program goes on",
			 getpid(), RT_SUSPEND_TIMEOUT, strerror(errno));
	return -1;
}

/* 0 with the outcome in c->job (c->job.restarted: in a restarted process),
 * or -1 with c->err set. */
static int write_image(struct ckpt_run *c)
{
	/* a --kill checkpoint has nothing to resume: no point in forking */
	int may_fork = !(c->cb.flags & CKPT_KILL) && !getenv_flag("STASIS_NO_FORK");
	int compress = !((c->cb.flags | rt.flags) & CKPT_NO_COMPRESS);
	int incremental = !!((c->cb.flags | rt.flags) & CKPT_INCREMENTAL);
	int rc = rt_write_image(c->parts, c->path, compress, incremental, may_fork, &c->job, c->err,
				sizeof(c->err));
	if (c->job.restarted)
		return 0;
	if (c->job.forked) {
		__atomic_store_n(&rt.let_go, 1, __ATOMIC_RELEASE); /* see leave.c */
		rt_release_all(); /* the program runs on while the child writes */
		c->released = 1;
		debug("threads paused %.1f ms", elapsed_ms(&c->t0));
	}
	rt_snap_release(); /* the writer has its own mapping of the copy */
	return rc;
}

static void report_image(struct ckpt_run *c, int rc)
{
	if (rc == 0) {
		/* once every process has written its image, the coordinator removes ours
		 * before this generation and the previous good one (and its chain) */
		uint32_t keep = rt_dirty_keep_from(c->cb.gen);
		struct proto_image_done d = {.size = c->job.size};
		proto_send(rt.coord_fd, MSG_RETAIN, &keep, sizeof(keep), NULL, 0);
		proto_send(rt.coord_fd, MSG_IMAGE_DONE, &d, sizeof(d), c->path, strlen(c->path));
		c->wrote = 1;
	} else {
		proto_send(rt.coord_fd, MSG_CKPT_ERROR, c->err, strlen(c->err), NULL, 0);
	}
}

static void resume_restarted(uint8_t *buf, size_t size)
{
	rt_huge_ahead_reset(); /* the clock of the process the image was taken from */
	int rc = after_restart(buf, size);
	if (rc < 0)
		rt.coord_lost = 1;
	rt_arena_reset();
	if (rc != 1) {
		rt_tty_restarted();    /* opens /dev/tty: while the program's threads are
					  held, so it cannot take a number they are about to use */
		rt_fd_owner_restore(); /* every process and thread of the restart exists */
		rt_prefault_plan();
	}
	rt_release_all();
	if (rc == 1)
		die_killed();
	rt_prefault_run(); /* on this otherwise idle thread, while the program runs */
}

/* Every process's image is written (WRITTEN passed without ABORT, or KILL
 * after it): this one becomes the base of the next incremental image, and
 * this process's older images go, on its host (the coordinator removed those
 * it sees on its own before it answered). Not before: a failed generation's
 * images are removed. */
static void committed(struct ckpt_run *c)
{
	rt.committed_gen = c->cb.gen;
	if (c->wrote)
		remove_old_generations(
		    c->dir, rt_dirty_done(c->path, c->cb.gen, c->job.header_sum, c->job.size));
}

/* The generation failed (the WRITTEN pass says ABORT): no file of it stays
 * on this host, neither this process's nor one that a process of this host
 * which died while writing left. Every live process has finished writing. */
static void discard(struct ckpt_run *c)
{
	ckpt_remove_generation_in(c->dir, c->cb.comp_id, c->cb.gen);
}

/* The coordinator is gone in the middle of a checkpoint: the program goes on,
 * and an image written for it is removed (no one can say that every process
 * wrote one: the generation is discarded, restart --dir takes the one before). */
static void lost_coordinator(struct ckpt_run *c)
{
	rt_shares_done();
	if (!c->released)
		rt_release_all();
	rt_snap_release();
	rt_arena_reset();
	if (c->wrote)
		unlink(c->path);
	warn("pid %d: lost the coordinator during checkpoint generation %u: the program goes "
	     "on, its image of this generation is discarded",
	     getpid(), c->cb.gen);
	rt.coord_lost = 1;
	if (rt_nplugins)
		rt_plugins_resume(c->cb.gen, 0);
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
	/* every thread runs: plugins may work, and talk to each other */
	if (rt_nplugins && rt_plugins_checkpoint(c.cb.gen, c.err, sizeof(c.err)) < 0)
		c.plugin_failed = 1;
	int flags = c.cb.flags | rt.flags;
	c.huge = !(flags & (CKPT_INCREMENTAL | CKPT_KILL)) && !getenv_flag("STASIS_NO_FORK");
	if (!(c.cb.flags & CKPT_KILL)) /* the program runs: make room for its shared pages */
		rt_run_private_files(snap_prepare, c.huge ? &c : NULL);
	int b = barrier(BARRIER_PREPARED, buf, size); /* nobody stops before all are ready */
	if (b != 0)
		return b > 0 ? die_killed() : lost_coordinator(&c);
	rt_shares_begin();
	int rc = suspend(&c);
	debug("pid %d: threads held in %.1f ms", getpid(), elapsed_ms(&c.t0));
	if ((b = barrier(BARRIER_SUSPENDED, buf, size)) != 0)
		return b > 0 ? die_killed() : lost_coordinator(&c);
	rt_shares_scan(); /* every process is stopped until DRAINED passes */
	debug("pid %d: SUSPENDED passed at %.1f ms", getpid(), elapsed_ms(&c.t0));
	if (rc == 0 && rt_take_pending() < 0) {
		snprintf(c.err, sizeof(c.err),
			 "pid %d: cannot record its pending signals (more than %d queued for one "
			 "thread, or no memory for the process's queue); the program goes on",
			 getpid(), RT_MAX_PENDING);
		rc = -1;
	}
	int ok = rc == 0 && !(rt.barrier_flags & BARRIER_F_ABORT);
	int t = rt_tcp_checkpoint(ok, c.err, sizeof(c.err)); /* TCP connections drained */
	if (t == RT_COORD_KILLED)
		return die_killed();
	if (t == RT_COORD_LOST)
		return lost_coordinator(&c);
	if (t < 0)
		rc = -1;
	if (rc == 0 && ok &&
	    !(c.parts = rt_capture(!!(c.cb.flags & CKPT_KILL), c.err, sizeof(c.err))))
		rc = -1;
	if (rc != 0) { /* now, so that the DRAINED pass tells everyone to write nothing */
		report_image(&c, rc);
		c.reported = 1;
	}
	debug("pid %d: captured at %.1f ms", getpid(), elapsed_ms(&c.t0));
	b = barrier(BARRIER_DRAINED, buf, size);
	rt_shares_done(); /* every process has read the lists it needed */
	if (b != 0)
		return b > 0 ? die_killed() : lost_coordinator(&c);
	debug("pid %d: DRAINED passed at %.1f ms", getpid(), elapsed_ms(&c.t0));
	int aborted = rt.barrier_flags & BARRIER_F_ABORT; /* failed elsewhere: write nothing */
	if (rc == 0 && !aborted)
		rc = write_image(&c);
	if (c.job.restarted) {
		resume_restarted(buf, size);
		return;
	}
	if (rc == 0 && !aborted)
		rc = rt_image_wait(&c.job, c.err, sizeof(c.err));
	debug("pid %d: image written at %.1f ms", getpid(), elapsed_ms(&c.t0));
	if (!aborted && !c.reported)
		report_image(&c, rc);
	rt_snap_release(); /* a capture that was not written */
	rt_arena_reset();
	b = barrier(BARRIER_WRITTEN, buf, size);
	debug("pid %d: WRITTEN passed at %.1f ms", getpid(), elapsed_ms(&c.t0));
	__atomic_store_n(&rt.let_go, 0, __ATOMIC_RELEASE);
	if (b < 0)
		return lost_coordinator(&c);
	if (b == 1 || !(rt.barrier_flags & BARRIER_F_ABORT))
		committed(&c);
	else
		discard(&c);
	if (b == 1)
		die_killed();
	if (!c.released)
		rt_release_all();
	if (b == 0 && c.released && c.huge)
		rt_huge_after_checkpoint(); /* what the time before the stop left */
	rt_arena_reset();
	if (rt_nplugins)
		rt_plugins_resume(c.cb.gen, b == 0 && !(rt.barrier_flags & BARRIER_F_ABORT));
}

static int join_coordinator(uint32_t flags, int quiet);

#define REJOIN_MS 500
#define REFUSED_S 5

/* The coordinator is gone (killed, or silent during a checkpoint): the
 * program goes on, and this thread joins a coordinator started again on the
 * same port, as the same computation, trying every REJOIN_MS (every
 * REFUSED_S while one that serves another computation refuses it). */
static void rejoin(void)
{
	int fd = rt.coord_fd;
	__atomic_store_n(&rt.coord_fd, -1, __ATOMIC_RELEASE); /* first: see fdguard.c */
	if (fd >= 0)
		close(fd);
	rt.coord_lost = 0;
	queue_reset();
	api_complete(-1);
	warn("pid %d lost its coordinator (port %u): it goes on, and joins the computation "
	     "again when a coordinator listens there",
	     getpid(), rt.port);
	while (join_coordinator(HELLO_REJOIN, 1) < 0) {
		/* refused (another computation runs there): ask less often */
		struct timespec t = {.tv_sec = errno == EACCES ? REFUSED_S : 0,
				     .tv_nsec = errno == EACCES ? 0 : REJOIN_MS * 1000000L};
		nanosleep(&t, NULL);
	}
	debug("pid %d joined the coordinator on port %u again", getpid(), rt.port);
	send_interval();
}

__attribute__((noreturn)) static void *ckpt_thread(void *arg)
{
	(void)arg;
	/* the largest message (the members of a checkpoint); its pages are
	   touched only as far as messages reach */
	static uint8_t buf[PROTO_MAX_PAYLOAD];
	rt.ckpt_tid = rt_gettid();
	rt_plugins_runtime_thread(); /* the runtime's own paths are never translated */
	if (rt.coord_fd < 0)
		rejoin();
	rt_huge_ahead_reset();
	for (;;) {
		struct proto_msg m;
		if (killed)
			die_killed();
		if (!rt.coord_lost && !queue_len && rt_huge_ahead(rt.coord_fd))
			continue;
		if (rt.coord_lost || (!queue_take(0, &m, buf, sizeof(buf)) &&
				      proto_recv(rt.coord_fd, &m, buf, sizeof(buf)) < 0)) {
			rejoin();
			continue;
		}
		switch (m.hdr.type) {
		case MSG_CKPT_BEGIN:
			if (m.hdr.len >= sizeof(struct proto_ckpt_begin))
				checkpoint(&m, buf, sizeof(buf));
			fault_generation(0);
			break;
		case MSG_CKPT_RESULT:
			handle_result(&m);
			break;
		case MSG_INTERVAL:
			note_interval(&m);
			break;
		case MSG_KILL:
			die_killed();
			break;
		case MSG_PING:
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

/* Join as a process of the computation (a new one, or rt.comp_id when
 * rejoining); quiet: no message when it fails. */
static int join_coordinator(uint32_t flags, int quiet)
{
	struct proto_hello h = {.role = ROLE_PROCESS,
				.pid = getpid(),
				.comp_id = rt.comp_id,
				.gen = flags & HELLO_REJOIN ? rt.gen : 0,
				.flags = flags};
	struct proto_welcome w;
	char err[512], dir[PATH_MAX];
	program_name(rt.name, sizeof(rt.name));
	snprintf(h.name, sizeof(h.name), "%s", rt.name);
	int fd = proto_client_connect(rt.port, &h, &w, dir, sizeof(dir), err, sizeof(err));
	if (fd < 0) {
		if (!quiet)
			log_msg("error", "%s", err);
		return -1;
	}
	if (!rt.ckpt_dir[0])
		snprintf(rt.ckpt_dir, sizeof(rt.ckpt_dir), "%s", dir);
	rt.pid = getpid();
	const char *env = secure_getenv("STASIS_CKPT_DIR");
	if (env && env[0] == '/')
		snprintf(rt.ckpt_dir, sizeof(rt.ckpt_dir), "%s", env);
	if (secure_getenv("STASIS_NO_COMPRESS"))
		w.flags |= CKPT_NO_COMPRESS;
	if (getenv_flag("STASIS_INCREMENTAL"))
		w.flags |= CKPT_INCREMENTAL;
	rt.comp_id = w.comp_id;
	rt.gen = w.gen;
	rt.flags = w.flags;
	__atomic_store_n(&rt.coord_fd, fd_move_above(fd, 100), __ATOMIC_RELEASE);
	send_host();
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
	rt.nsuspended = rt.ntaken = rt.nrequeued = rt.nrestored = 0;
	rt.shared_pending.n = 0; /* the parent's */
	rt.take_due = 0;
	rt.suspending = 0;
	rt.api_pending = 0;
	rt_crit_forked();
	rt.coord_lost = 0;
	queue_reset(); /* the parent's connection's */
	rt.let_go = 0;
	join_coordinator(0, rt.comp_id != 0); /* failed: the thread joins again later */
	rt_plugins_start(1);
	if (rt_start_ckpt_thread() < 0) {
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
	if (rt_in_stasis_cli()) /* it starts again without the runtime (cli/main.c) */
		return;
	log_set_prefix("stasis runtime");
	rt.port = proto_default_port();
	rt.sig = sig ? atoi(sig) : SIGRTMAX - 2;
	rt_note_inherited_fds();
	rt_exec_init();
	rt_outside_init();
	const char *comp = secure_getenv("STASIS_COMP_ID"); /* exec'd: the same computation */
	rt.comp_id = comp ? strtoull(comp, NULL, 16) : 0;
	char err[PATH_MAX + 256];
	if (rt_plugins_load(err, sizeof(err)) < 0) { /* a computation without them is not one */
		log_msg("error", "pid %d: %s", getpid(), err);
		syscall(SYS_exit_group, 1);
	}
	if (rt_arena_init() < 0 || rt_progress_init() < 0 || rt_install_handler() < 0 ||
	    join_coordinator(0, 0) < 0) {
		log_msg("error", "pid %d runs without checkpoints: runtime setup failed", getpid());
		return;
	}
	rt_plugins_start(0);
	if (rt_start_ckpt_thread() < 0) {
		log_msg("error", "pid %d runs without checkpoints: runtime setup failed", getpid());
		return;
	}
	pthread_atfork(NULL, NULL, rt_forked_child);
	rt.enabled = 1;
}

EXPORT int stasis_rt_enabled(void)
{
	return rt.enabled;
}

EXPORT int stasis_rt_checkpoint(void)
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
