/* Creating the restored process with its exact PID: a new user namespace
 * (no privileges needed) owning a new PID namespace, whose init (PID 1) creates
 * the process with clone3(set_tid). The restored computation runs in the
 * foreground; its wait status comes back to the caller through a pipe. */
#include "restore/spawn.h"
#include "restore/chain.h"
#include "restore/fd_tty.h"
#include "restore/fdkinds.h"
#include "restore/fds.h"
#include "restore/gate.h"
#include "restore/load.h"
#include "restore/locks.h"
#include "restore/mem.h"
#include "restore/objs.h"
#include "restore/pathmap.h"
#include "restore/plan.h"
#include "restore/set.h"
#include "restore/sigfwd.h"
#include "restore/sysv.h"
#include "restore/zombies.h"
#include "restore/fd_tcp.h"
#include "restore/verify.h"
#include "restore/blob/blob.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"
#include "common/proto.h"
#include "restore/blob/restart_info.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What PID 1 tells restart: the first process's wait status, or that the
 * restart was given up (a process failed before it became its image). */
struct init_report {
	int32_t status;
	int32_t aborted;
};

static int report_fd = -1; /* PID 1's end of the pipe to restart */

/* In PID 1: a process of the restart failed. Ending PID 1 ends the namespace:
 * the kernel kills every process in it, none is left half restored. Only a
 * process of the namespace asks (a signal from outside has si_pid 0 here). */
static void on_abort(int sig, siginfo_t *si, void *uc)
{
	struct init_report r = {.aborted = 1};
	(void)sig;
	(void)uc;
	if (si->si_code != SI_USER || si->si_pid <= 0)
		return;
	write_full(report_fd, &r, sizeof(r));
	_exit(1);
}

void rst_abort(const char *fmt, ...)
{
	if (fmt) {
		char msg[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		error("%s", msg);
	}
	kill(1, BLOB_ABORT_SIGNAL);
	_exit(1);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = write_full(fd, s, strlen(s));
	close(fd);
	return rc;
}

static int enter_namespaces(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	/* a new IPC namespace too: SysV objects get their ids back there (sysv.c) */
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC) < 0)
		return error("cannot create a user and PID namespace for the restart: %s "
			     "(are unprivileged user namespaces disabled? "
			     "sysctl kernel.unprivileged_userns_clone; 'stasis check' shows what "
			     "this machine allows)",
			     strerror(errno));
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return error("cannot write uid_map: %s", strerror(errno));
	write_file("/proc/self/setgroups", "deny\n");
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return error("cannot write gid_map: %s", strerror(errno));
	return 0;
}

static pid_t clone_with_pid(pid_t pid)
{
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.exit_signal = SIGCHLD;
	a.set_tid = (uint64_t)(uintptr_t)&pid;
	a.set_tid_size = 1;
	return fault_hit(FAULT_RST_CLONE) ? -1 : syscall(SYS_clone3, &a, sizeof(a));
}

/* Create process i of the set with its PID; the child becomes it. */
static pid_t spawn_member(struct rst_set *set, int i)
{
	pid_t pid = clone_with_pid(set->img[i].proc->pid);
	if (pid == 0)
		rst_process(set, i);
	if (pid < 0)
		rst_abort("cannot create pid %u in the restart namespace: %s",
			  set->img[i].proc->pid, strerror(errno));
	return pid;
}

static void close_restorer_fds(const struct rst_set *set)
{
	close_range(set->base, set->top - 1, 0);
}

/* All but the image files, which the verifier reads (verify.c). */
static void close_all_but_images(const struct rst_set *set)
{
	int images = set->base + 3 + set->n;
	close_range(set->base, images - 1, 0);
	if (images + set->n <= set->top - 1)
		close_range(images + set->n, set->top - 1, 0);
}

/* PID 1 dies with restart (SIGKILL of restart while it loads leaves
 * nothing): if restart was gone before that was set, go now. */
static void init_follows_restart(void)
{
	struct sigaction sa = {.sa_sigaction = on_abort, .sa_flags = SA_SIGINFO};
	sigfillset(&sa.sa_mask);
	sigaction(BLOB_ABORT_SIGNAL, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct pollfd p = {.fd = report_fd};
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) /* no reader: restart is gone */
		_exit(1);
}

/* Wait until every root has ended: the status of the first that failed (by
 * a signal or a non-zero exit), else 0. Other processes are reaped. */
static int wait_roots(const pid_t *roots, int nroots)
{
	int st = 0, failed = 0, left = nroots;
	while (left > 0) {
		int s, i;
		pid_t w = waitpid(-1, &s, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		for (i = 0; i < nroots && roots[i] != w; i++)
			;
		if (i == nroots)
			continue;
		left--;
		if (!failed && !(WIFEXITED(s) && WEXITSTATUS(s) == 0)) {
			st = s;
			failed = 1;
		}
	}
	return st;
}

/* PID 1 of the restart namespace: creates the processes whose parent is not in
 * the set (the roots: one per program launched into the computation, as the
 * tasks of `srun stasis launch`), reaps, and reports once every root has
 * ended. */
static void run_init(struct rst_set *set, int status_fd)
{
	pid_t *roots = calloc(set->n, sizeof(pid_t));
	int nroots = 0;
	report_fd = status_fd;
	rst_gate_child(set);
	init_follows_restart();
	rst_sigfwd_init();
	if (!roots)
		rst_abort("cannot restart %d processes: out of memory", set->n);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		rst_abort("cannot mount /proc in the restart namespace: %s", strerror(errno));
	/* the new IPC namespace's own message queues, where programs look for them */
	if (access("/dev/mqueue", F_OK) == 0)
		mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	debug("restart: init has mounted /proc");
	if (rst_sysv_create(set) < 0 || rst_tcp_restore(set) < 0 || rst_objs_create(set, -1) < 0)
		rst_abort(NULL);
	for (int i = 0; i < set->n; i++) {
		if (set->parent[i] >= 0)
			continue;
		roots[nroots++] = spawn_member(set, i);
	}
	rst_sigfwd_programs(roots, nroots);
	close_restorer_fds(set); /* the restored processes have them */
	struct init_report r = {.status = wait_roots(roots, nroots)};
	write_full(status_fd, &r, sizeof(r));
	_exit(0);
}

static pid_t init_pid;	     /* PID 1 of the restart, from restart's side */
static volatile int stopped; /* rst_stop ended it */

void rst_stop(void)
{
	stopped = 1;
	pid_t p = __atomic_load_n(&init_pid, __ATOMIC_ACQUIRE);
	if (p > 0)
		kill(p, SIGKILL);
}

/* The host's /proc, kept at a number >= top (PID 1 mounts the namespace's own
 * over it): in it, "self" is a process's PID on the host. */
static void keep_host_proc(struct rst_set *set)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	set->host_proc = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, set->top);
	if (fd >= 0)
		close(fd);
}

/* The processes are being made: join them, then open the gate (gate.c). On
 * failure (said why) the namespace is ended, nothing of it runs. */
static int join_late(struct rst_set *set, pid_t init)
{
	int s;
	if (set->join(set) == 0) {
		rst_gate_open(set);
		return 0;
	}
	kill(init, SIGKILL);
	while (waitpid(init, &s, 0) < 0 && errno == EINTR)
		;
	return -1;
}

int rst_run(struct rst_set *set)
{
	int pfd[2];
	struct init_report r;
	set->host_proc = set->gate = set->gate_open = -1;
	if (set->opt.debug_pause)
		keep_host_proc(set);
	if ((set->join && rst_gate_make(set) < 0) || enter_namespaces() < 0 ||
	    rst_tty_prepare(set) < 0 || rst_verify_prepare(set) < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid_t init = fault_hit(FAULT_RST_CLONE) ? -1 : fork();
	if (init < 0)
		return error("cannot create the restart namespace's first process: %s",
			     strerror(errno));
	if (init > 0) {
		__atomic_store_n(&init_pid, init, __ATOMIC_RELEASE);
		if (stopped)
			kill(init, SIGKILL);
	}
	if (init == 0) {
		close(pfd[0]);
		run_init(set, pfd[1]);
	}
	close(pfd[1]);
	if (set->join && join_late(set, init) < 0) {
		close(pfd[0]);
		return -1;
	}
	close_all_but_images(set);
	rst_sigfwd_restart(init, rst_tty_own());
	int verified = rst_verify_run(set, init);
	close_restorer_fds(set);
	if (verified == 0)
		rst_tty_relay(pfd[0]); /* with a terminal of its own: until the computation ends */
	ssize_t n = read_full(pfd[0], &r, sizeof(r));
	int s;
	while (waitpid(init, &s, 0) < 0 && errno == EINTR)
		;
	if (verified < 0)
		return -1; /* said why: the memory was not what was saved */
	if (n == sizeof(r) && r.aborted)
		return error("cannot restart: a process failed while it was restored (above); "
			     "every process of the restart was ended, nothing of the computation "
			     "runs");
	if (n != sizeof(r))
		return stopped ? -1
			       : error("the restarted computation's namespace ended unexpectedly");
	return r.status;
}

static void restore_proc_state(struct rst_image *img)
{
	const struct img_proc *p = img->proc;
	const char *cwd = rst_str(img, p->cwd_str);
	if (chdir(cwd) < 0)
		warn("cannot return to directory %s: %s; staying in %s", cwd, strerror(errno),
		     "the current one");
	umask(p->umask);
	personality(p->personality);
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &img->sigact[sig - 1], NULL, 8);
}

static void restore_rlimits(const struct img_proc *p)
{
	for (int i = 0; i < IMG_NRLIMIT && i < RLIM_NLIMITS; i++) {
		struct rlimit r = {p->rlimits[i].cur, p->rlimits[i].max}, now;
		getrlimit(i, &now);
		if (r.rlim_max > now.rlim_max)
			r.rlim_max = now.rlim_max; /* raising a hard limit needs privileges */
		if (r.rlim_cur > r.rlim_max)
			r.rlim_cur = r.rlim_max;
		setrlimit(i, &r);
	}
}

/* The pipes and sockets among restart's own stdin, stdout and stderr lead
 * outside the restarted computation (the runtime's $STASIS_EXTERNAL). */
static void note_outside(const struct rst_set *set, struct rt_restart_info *ri)
{
	for (int k = 0; k < 3; k++) {
		struct stat st;
		if (fstat(set->base + k, &st) < 0 ||
		    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
			continue;
		ri->outer[ri->nouter].dev = st.st_dev;
		ri->outer[ri->nouter++].ino = st.st_ino;
	}
}

/* --debug-pause: say how to reach the process, which stops once every thread
 * is back (runtime, after_restart), before its program goes on. */
static void announce_pause(const struct rst_set *set, const struct rst_image *img)
{
	char self[32] = "";
	ssize_t n = readlinkat(set->host_proc, "self", self, sizeof(self) - 1);
	int host = n > 0 ? atoi(self) : 0;
	if (host <= 0) {
		warn("pid %u stops before it goes on (--debug-pause), but its host PID is not "
		     "known: find it with 'ps' (NSpid in /proc/PID/status)",
		     img->proc->pid);
		return;
	}
	log_msg(NULL,
		"pid %u (%s) is restored and stopped before it goes on (--debug-pause): "
		"attach a debugger with 'gdb -p %d' (its PID on this host), then let it go on "
		"with 'kill -CONT %d' (after the debugger detaches)",
		img->proc->pid, rst_str(img, img->proc->name_str), host, host);
}

static void write_restart_info(const struct rst_set *set, struct rst_image *img,
			       struct rst_layout *l, const struct proto_welcome *w, const char *dir,
			       uint16_t port)
{
	struct rt_restart_info ri;
	uint64_t at = img->proc->runtime_info;
	if (rst_read_target(img, l, at, &ri, 2 * sizeof(uint32_t)) < 0)
		rst_abort("%s is corrupt: it has no runtime restart area at %#llx", img->r.path,
			  (unsigned long long)at);
	if (ri.version != RT_RESTART_VERSION || ri.size != sizeof(ri))
		rst_abort("cannot restart %s: it was written by a Stasis runtime of another build "
			  "(its restart handoff is version %u, %u bytes; this stasis's is version "
			  "%u, %zu bytes): restart it with the stasis that checkpointed it",
			  img->r.path, ri.version, ri.size, RT_RESTART_VERSION, sizeof(ri));
	memset(&ri, 0, sizeof(ri));
	ri.version = RT_RESTART_VERSION;
	ri.size = sizeof(ri);
	note_outside(set, &ri);
	ri.debug_pause = !!set->opt.debug_pause;
	if (set->opt.debug_pause)
		announce_pause(set, img);
	ri.magic = RT_RESTART_MAGIC;
	ri.blob_addr = l->blob_addr;
	ri.blob_len = l->blob_len;
	ri.comp_id = w->comp_id;
	ri.gen = w->gen > img->r.hdr.gen ? w->gen : img->r.hdr.gen;
	ri.flags = w->flags;
	ri.port = port;
	if (dir[0] && !proto_coord_remote()) /* the coordinator's, as the next checkpoint's */
		snprintf(ri.ckpt_dir, sizeof(ri.ckpt_dir), "%s", dir);
	ri.nmapped = l->nruns;
	ri.base_gen = rst_chain_base_gen(img);
	snprintf(ri.path_map, sizeof(ri.path_map), "%s", rst_pathmap_text());
	if (l->nruns)
		memcpy(ri.mapped, l->runs, l->nruns * sizeof(ri.mapped[0]));
	if (rst_write_target(img, l, at, &ri, sizeof(ri)) < 0)
		rst_abort("%s is corrupt: it has no writable runtime restart area at %#llx",
			  img->r.path, (unsigned long long)at);
}

void rst_conn_init(struct rst_conn *o, uint16_t port, int part, int fd)
{
	static struct proto_host where; /* restart's, read once */
	static int known;
	if (!known++)
		proto_host_fill(&where);
	memset(o, 0, sizeof(*o));
	o->port = port;
	o->part = part;
	o->coord_fd = fd;
	o->where = where;
}

int rst_join(struct rst_image *img, struct rst_conn *o, char *err, size_t errlen)
{
	struct proto_hello h = {.role = ROLE_PROCESS,
				.pid = img->proc->pid,
				.comp_id = img->r.hdr.comp_id,
				.gen = img->r.hdr.gen,
				.flags = HELLO_RESTART | (o->part ? HELLO_PART : 0),
				.nprocs = img->r.hdr.nprocs,
				.restart_id = (uint32_t)getpid()}; /* this 'stasis restart' */
	struct proto_host host = o->where; /* where it runs now, and where it ran */
	for (uint32_t k = 0; k < img->nmembers; k++)
		if (img->members[k].flags & IMG_MEMBER_SELF)
			memcpy(host.orig_host, img->members[k].host, sizeof(host.orig_host) - 1);
	if (o->part)
		proto_origin(h.origin, host.orig_host);
	snprintf(h.name, sizeof(h.name), "%s", rst_str(img, img->proc->name_str));
	/* on the socket the processes hold already, when restart made them first */
	int fd = proto_client_connect_fd(o->coord_fd, o->port, &h, &o->welcome, o->ckpt_dir,
					 sizeof(o->ckpt_dir), err, errlen);
	if (fd < 0)
		return -1;
	o->coord_fd = fd;
	proto_send(o->coord_fd, MSG_HOST, &host, sizeof(host), NULL, 0);
	__atomic_store_n(&o->joined, 1, __ATOMIC_RELEASE);
	return 0;
}

/* A child that led its own session or process group does so again (the
 * processes of the set with no parent in it stay in restart's session and
 * group, which own the terminal). */
static void own_session(const struct rst_set *set, int i)
{
	const struct img_proc *p = set->img[i].proc;
	if (set->parent[i] < 0 && !rst_tty_leads_session(set, i))
		return; /* stays in restart's, unless it has a terminal of its own */
	if (p->sid == p->pid && setsid() < 0)
		warn("pid %u cannot lead a session again: %s", p->pid, strerror(errno));
	else if (p->sid != p->pid && p->pgid == p->pid && setpgid(0, 0) < 0)
		warn("pid %u cannot lead a process group again: %s", p->pid, strerror(errno));
}

/* Children that were in another process group of their session than ours join
 * it again. Like a shell, the parent puts them there itself (the children do too,
 * whoever comes first): group leaders first. */
static void children_groups(const struct rst_set *set, int i)
{
	const struct img_proc *me = set->img[i].proc;
	for (int j = 0; j < set->n; j++) {
		const struct img_proc *c = set->img[j].proc;
		if (set->parent[j] == i && c->pgid == c->pid && c->sid == me->sid)
			setpgid(c->pid, c->pid);
	}
	for (int j = 0; j < set->n; j++) {
		const struct img_proc *c = set->img[j].proc;
		if (set->parent[j] != i || c->pgid == c->pid || c->pgid == me->pgid ||
		    c->sid != me->sid)
			continue;
		if (setpgid(c->pid, c->pgid) < 0)
			warn("pid %u cannot join process group %u again: %s", c->pid, c->pgid,
			     strerror(errno));
	}
}

/* Process i: its descriptors first, so that its children inherit the ones
 * they share with it, and its controlling terminal, so that they have it
 * too; then its children; then its own state and memory. */
void rst_process(struct rst_set *set, int i)
{
	struct rst_image *img = &set->img[i];
	const struct rst_conn *o = &set->conn[i];
	sigset_t all;
	struct rst_layout l = {.opt = &set->opt};
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	own_session(set, i);
	if (rst_objs_create(set, i) < 0 || rst_fds(set, i) < 0 || rst_tty_take(set, i) < 0)
		rst_abort(NULL);
	for (int j = 0; j < set->n; j++)
		if (set->parent[j] == i && set->img[j].proc->pgid == set->img[j].proc->pid)
			spawn_member(set, j);
	for (int j = 0; j < set->n; j++)
		if (set->parent[j] == i && set->img[j].proc->pgid != set->img[j].proc->pid)
			spawn_member(set, j);
	children_groups(set, i);
	rst_tty_foreground(set, i);
	if (rst_zombies(set, i) < 0 || rst_fds_late(set, i) < 0)
		rst_abort(NULL);
	restore_proc_state(img);
	debug("pid %u: descriptors, children and state restored", img->proc->pid);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rst_memory(img, &l, rst_blob_area_size(img)) < 0)
		rst_abort(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	debug("memory of pid %u restored in %.1f ms", img->proc->pid,
	      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (rst_locks_take(img) < 0)
		rst_abort(NULL);
	if (rst_gate_wait(set, i) < 0) /* restart joins it meanwhile (gate.c) */
		rst_abort(NULL);       /* restart is gone: it said why, if it could */
	write_restart_info(set, img, &l, &o->welcome, o->ckpt_dir, o->port);
	restore_rlimits(img->proc);
	debug("pid %u: into the blob", img->proc->pid);
	rst_jump(img, &l, set->base, set->base + 2);
}
