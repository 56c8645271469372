/* stasis restart: bring a computation back from its images, in the foreground. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/clock.h"
#include "common/complock.h"
#include "common/log.h"
#include "restore/fd_inet.h"
#include "restore/load.h"
#include "restore/mapimg.h"
#include "restore/pathmap.h"
#include "restore/plugins.h"
#include "restore/set.h"
#include "restore/spawn.h"
#include "restore/tree.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
	OPT_DIR = 256,
	OPT_WAIT,
	OPT_NO_MAP,
	OPT_NO_VERIFY,
	OPT_DEBUG_PAUSE,
	OPT_CKPT_DIR,
	OPT_PORT_FILE,
	OPT_LOG_FILE,
	OPT_PATH_MAP
};
static const struct cli_opt opts[] = {
    {"port", 'p', "PORT",
     "the coordinator's port (default $STASIS_PORT, else 7779; 0: start one on a free port)"},
    {"port-file", OPT_PORT_FILE, "FILE",
     "write the coordinator's port to FILE (atomically) once it listens"},
    {"log-file", OPT_LOG_FILE, "FILE",
     "the log file of a coordinator restart starts (coordinator --log-file)"},
    CLI_OPTS_COORD,
    {"dir", OPT_DIR, "DIR", "restart the newest complete checkpoint in DIR"},
    {"wait", OPT_WAIT, "SECONDS", "how long the parts of other hosts may take to come back"},
    {"interval", 'i', "SECONDS",
     "checkpoint every SECONDS seconds (0: never; default $STASIS_INTERVAL, else the interval "
     "the computation had)"},
    {"ckpt-dir", OPT_CKPT_DIR, "DIR",
     "where the restarted computation's checkpoints go (default: the directory of the images; "
     "a coordinator already running keeps its own)"},
    {"path-map", OPT_PATH_MAP, "OLD=NEW",
     "the files under directory OLD are under NEW now (repeatable): the files open at the "
     "checkpoint, mapped files, the working directory and plugins are taken from there, and "
     "plugins get the map (the pathvirt plugin also maps the program's later opens)"},
    {"no-map", OPT_NO_MAP, NULL,
     "read every memory chunk (verifying its checksum) before the program runs, instead of "
     "mapping the uncompressed ones from the image file (also STASIS_NO_MAP=1)"},
    {"no-verify", OPT_NO_VERIFY, NULL,
     "do not verify the mapped chunks' checksums (by default restart verifies them while the "
     "program runs, and kills it if one is corrupt): for images you trust"},
    {"debug-pause", OPT_DEBUG_PAUSE, NULL,
     "stop each restored process (SIGSTOP) once it is whole, before its program goes on, and "
     "print its PID on this host: attach a debugger with 'gdb -p PID', let it go on with "
     "'kill -CONT PID' (also STASIS_RESTART_PAUSE=1)"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "restart",
    .synopsis =
	"[-p PORT] [--coord-host HOST] [--token-file FILE] [--wait SECONDS]\n"
	"                      [-i SECONDS] [--ckpt-dir DIR] [--port-file FILE]\n"
	"                      [--log-file FILE] [--path-map OLD=NEW]...\n"
	"                      [--no-map | --no-verify] [--debug-pause] (IMAGE... | --dir DIR)",
    .about = "Restarts a computation from its images (or from the newest complete checkpoint\n"
	     "in DIR), in the foreground like launch: the program's terminal and pipes to\n"
	     "outside become restart's own stdin, stdout and stderr. Processes get back their\n"
	     "PIDs inside a new PID namespace. It joins the coordinator on PORT, starting one\n"
	     "if none runs. A computation that had a terminal of its own (launched on a\n"
	     "terminal) gets a new one, relayed to the terminal restart runs in.\n"
	     "\n"
	     "On several hosts (--coord-host, or --wait), it restarts the part of the newest\n"
	     "generation whose images are in DIR (or given); the coordinator holds its\n"
	     "processes until every process of that generation is back, from whichever\n"
	     "hosts, and ends them all if they are not within --wait SECONDS (default 60).",
    .opts = opts,
    .max_operands = -1,
};

/* Only the user who ran the program may bring it back, with the same identity. */
static int check_owner(struct rst_image *img)
{
	struct stat st;
	if (fstat(img->r.fd, &st) < 0)
		return error("cannot stat %s: %s", img->r.path, strerror(errno));
	if (st.st_uid != geteuid())
		return error("cannot restart %s: the image belongs to uid %u, not to you (uid %u)",
			     img->r.path, st.st_uid, geteuid());
	if (img->proc->uid != getuid())
		return error("cannot restart %s: the process ran as uid %u, you are uid %u",
			     img->r.path, img->proc->uid, getuid());
	return 0;
}

/* A computation that runs under another coordinator is refused before
 * anything is created (common/complock.h); on restart's own port the
 * coordinator refuses it, naming its processes. */
static int check_not_running(const struct rst_set *set, uint16_t port)
{
	struct complock_holder h;
	uint64_t comp = set->img[0].r.hdr.comp_id;
	if (!complock_holder(comp, &h) || h.port == port)
		return 0;
	return error("cannot restart: computation %016llx is already running under the "
		     "coordinator on port %u (pid %d): end it first with 'stasis kill -p %u'",
		     (unsigned long long)comp, h.port, h.pid, h.port);
}

/* This restart's lock of its computation (common/complock.h), -1: none. */
static int restart_lock = -1;
static uint64_t restart_comp;

/* One restart of a computation at a time on this host, from before it makes
 * anything until its processes have joined their coordinator (then the
 * coordinator refuses another while they run): a restart that starts the
 * coordinator makes its processes before they join, and they restore files,
 * shared memory and locks; a second restart joined first would run its
 * program with them. The other restart is waited for, twice as long as a
 * coordinator may take to start. Not for a part of a generation: the parts
 * come back together, and each joins before it makes anything. */
static int lock_restart(const struct rst_set *set)
{
	int s = 2 * cli_coord_start_s(), pid, said = 0;
	long long end = now_ms() + s * 1000LL;
	char err[4200];
	restart_comp = set->img[0].r.hdr.comp_id;
	if (set->part)
		return 0;
	if (proto_run_dir_ensure(err, sizeof(err)) < 0)
		return error("cannot restart: %s", err);
	while (restartlock_take(restart_comp, &restart_lock, &pid) < 0) {
		if (errno != EWOULDBLOCK)
			return error("cannot restart: cannot lock computation %016llx in the run "
				     "directory: %s (is $STASIS_RUN_DIR writable?)",
				     (unsigned long long)restart_comp, strerror(errno));
		if (!said++)
			debug("computation %016llx is being restarted by 'stasis restart' pid %d: "
			      "waiting for it (at most %d s)",
			      (unsigned long long)restart_comp, pid, s);
		if (now_ms() >= end)
			return error(
			    "cannot restart: computation %016llx is being restarted by "
			    "'stasis restart' pid %d, which has not joined its processes to "
			    "their coordinator within %d s: end it ('kill %d') and restart "
			    "again",
			    (unsigned long long)restart_comp, pid, s, pid);
		usleep(10000);
	}
	return 0;
}

static void unlock_restart(void)
{
	restartlock_release(restart_comp, restart_lock);
	restart_lock = -1;
}

/* "coordinator on port N refused us: REASON": REASON */
static const char *refusal(const char *err)
{
	const char *r = strstr(err, "refused us: ");
	return r ? r + 12 : err;
}

static void leave(struct rst_set *set, int n)
{
	for (int k = 0; k < n; k++) {
		close(set->conn[k].coord_fd);
		set->conn[k].coord_fd = -1;
	}
}

/* The directory of a coordinator restart starts: --ckpt-dir, else the
 * images' (into dir). */
static const char *coord_dir(const char *path, const char *ckpt_dir, char dir[PATH_MAX])
{
	snprintf(dir, PATH_MAX, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	return ckpt_dir ? ckpt_dir : slash ? dir : ".";
}

/* Join as every image's process, holding the coordinator meanwhile (hold: a
 * connection that does already, else -1). One that is just exiting (its last
 * process left) or not there yet is started again; a refusal is final. */
static int join_all(struct rst_set *set, uint16_t *port, const char *ckpt_dir, int hold)
{
	char err[1024];
	for (int attempt = 0;; attempt++, hold = -1) {
		int k;
		if (hold < 0)
			hold = cli_ensure_coordinator(port, ckpt_dir, 0);
		if (hold < 0)
			return -1;
		for (k = 0; k < set->n; k++) {
			rst_conn_init(&set->conn[k], *port, set->part, -1);
			if (rst_join(&set->img[k], &set->conn[k], err, sizeof(err)) < 0)
				break;
		}
		int refused = k < set->n && errno == EACCES;
		close(hold);
		if (k == set->n)
			return 0;
		leave(set, k);
		if (refused)
			return error("cannot restart: %s", refusal(err));
		if (attempt == 5)
			return error("%s", err);
		debug("joining the coordinator failed (%s): trying again", err);
		usleep(100000 << (attempt < 3 ? attempt : 3));
	}
}

/* What restart needs to join its processes once PID 1 runs (join_started). */
static struct {
	struct cli_coord_start start;
	uint16_t port;
	const char *dir;
	long interval;
} early;

static int set_interval(uint16_t port, long interval);

/* The coordinator restart started listens (or another launcher's, which took
 * the port meanwhile: restart is in its namespaces now, where it may start
 * none): join every process on the socket it holds already. */
static int join_started(struct rst_set *set)
{
	char err[1024];
	int hold = -1, rc = cli_coord_end(&early.start);
	if (rc < 0 && errno != EADDRINUSE)
		return -1; /* said why */
	if (rc < 0 && (hold = cli_coord_hold(early.port, early.dir)) < 0)
		return error("cannot join the coordinator that took port %u meanwhile: %s",
			     early.port, strerror(errno));
	for (int k = 0; k < set->n; k++) {
		if (rst_join(&set->img[k], &set->conn[k], err, sizeof(err)) < 0) {
			if (hold >= 0)
				close(hold);
			return error("cannot restart: %s", errno == EACCES ? refusal(err) : err);
		}
	}
	if (hold >= 0)
		close(hold);
	if (set_interval(early.port, early.interval) < 0)
		return -1;
	unlock_restart();
	return 0;
}

/* No coordinator listens on the port: start one and let it come up while
 * PID 1 and the processes are made and restore their memory; restart joins
 * them once it listens (join_started, run by rst_run once PID 1 exists), and
 * they wait at the gate until then (restore/gate.c). Nothing can refuse them
 * later that would have refused them first: a coordinator just started serves
 * no computation, and the computation's lock was checked (check_not_running).
 * 1 if started so, 0 if one listens (*hold holds it: join now) or the
 * restart is watched (watch: a part, or --wait), -1. */
static int start_early(struct rst_set *set, uint16_t port, const char *dir, long interval,
		       int watch, int *hold)
{
	const char *host = getenv("STASIS_COORD_HOST");
	*hold = -1;
	if (!port || watch || (host && *host && strcmp(host, "127.0.0.1")))
		return 0; /* port 0, parts and --wait, other hosts: the coordinator first */
	*hold = cli_coord_hold(port, dir);
	if (*hold >= 0 || errno != ECONNREFUSED)
		return 0;
	if (cli_coord_begin(port, dir, &early.start) < 0)
		return -1;
	early.port = port;
	early.dir = dir;
	early.interval = interval;
	for (int k = 0; k < set->n; k++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return error("cannot create a socket: %s", strerror(errno));
		rst_conn_init(&set->conn[k], port, 0, fd);
	}
	set->join = join_started;
	return 1;
}

/* A part of a generation: the coordinator holds its processes until every
 * process of the generation is back, from whichever hosts, or ends them all
 * after wait_s and says which did not come (MSG_CMD_RESTART_WAIT). A child
 * process waits for its answer (restart may not have threads: it enters a
 * user and PID namespace) and, on failure, prints it and tells restart with
 * WATCH_FAILED, which ends the restarted part (rst_stop). Not SIGUSR1: the
 * signals a user sends restart go to the program (restore/sigfwd.c). */
#define WATCH_FAILED (SIGRTMIN + 1)
static volatile sig_atomic_t watch_failed;
static pid_t watcher;

static void on_watch_failed(int sig)
{
	(void)sig;
	watch_failed = 1;
	rst_stop();
}

static __attribute__((noreturn)) void watch_result(int fd)
{
	static char buf[65536];
	struct proto_msg m;
	struct proto_ckpt_result r;
	if (fd > 3) /* restart's (the processes' sockets bound early): not the watcher's */
		close_range(3, fd - 1, 0);
	close_range(fd + 1, ~0U, 0);
	if (proto_recv(fd, &m, buf, sizeof(buf) - 1) < 0 || m.hdr.type != MSG_RESTART_RESULT ||
	    m.hdr.len < sizeof(r))
		_exit(0); /* the coordinator went away: the processes will say so */
	memcpy(&r, m.payload, sizeof(r));
	buf[m.hdr.len] = 0;
	if (r.status != 0) {
		fprintf(stderr, "stasis: error: %s\n", (char *)m.payload + sizeof(r));
		kill(getppid(), WATCH_FAILED);
	}
	_exit(0);
}

/* The image that lists every process of the generation (the coordinator
 * lists them in one image per host: the others list their own process). */
static const struct rst_image *listing_image(const struct rst_set *set)
{
	const struct rst_image *img = &set->img[0];
	for (int i = 1; i < set->n; i++)
		if (set->img[i].nmembers > img->nmembers)
			img = &set->img[i];
	return img;
}

static int start_watch(const struct rst_set *set, uint16_t port, int wait_s)
{
	const struct rst_image *img = listing_image(set);
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = (uint32_t)getpid()};
	struct proto_restart_wait w = {.comp_id = img->r.hdr.comp_id,
				       .gen = img->r.hdr.gen,
				       .seconds = (uint32_t)wait_s,
				       .nmembers = img->nmembers};
	struct proto_member *mv = calloc(img->nmembers + 1, sizeof(*mv));
	char err[1024];
	snprintf(h.name, sizeof(h.name), "restart");
	if (!mv)
		return error("out of memory");
	for (uint32_t k = 0; k < img->nmembers; k++) {
		memcpy(&mv[k], &img->members[k], sizeof(mv[k]));
		mv[k].flags = 0;
	}
	int fd = proto_client_connect(port, &h, NULL, NULL, 0, err, sizeof(err));
	int rc = fd < 0 ? error("%s", err) : 0;
	if (rc == 0 && proto_send(fd, MSG_CMD_RESTART_WAIT, &w, sizeof(w), mv,
				  img->nmembers * sizeof(*mv)) < 0)
		rc = error("cannot send to the coordinator: %s", strerror(errno));
	free(mv);
	signal(WATCH_FAILED, on_watch_failed);
	if (rc == 0 && (watcher = fork()) == 0)
		watch_result(fd);
	if (rc == 0 && watcher < 0)
		rc = error("cannot fork: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static void end_watch(void)
{
	if (watcher <= 0)
		return;
	kill(watcher, SIGKILL);
	while (waitpid(watcher, NULL, 0) < 0 && errno == EINTR)
		;
}

static int exit_like(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		sigset_t s;
		signal(sig, SIG_DFL);
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		if (sig != SIGKILL && sig != SIGSTOP)
			raise(sig);
		return 128 + sig;
	}
	return 1;
}

static void *xcalloc(int n, size_t size)
{
	void *p = n > 0 && n <= 65536 ? calloc(n, size) : NULL;
	if (!p)
		die("cannot restart %d processes: out of memory", n);
	return p;
}

/* Zeroed memory that the processes restart creates share with it (what it
 * learns when it joins them once they exist: restore/gate.c). */
static void *xshared(int n, size_t size)
{
	void *p = n > 0 && n <= 65536 ? mmap(NULL, (size_t)n * size, PROT_READ | PROT_WRITE,
					     MAP_SHARED | MAP_ANONYMOUS, -1, 0)
				      : MAP_FAILED;
	if (p == MAP_FAILED)
		die("cannot restart %d processes: out of memory", n);
	return p;
}

/* -i or $STASIS_INTERVAL: the coordinator keeps it (the restored processes'
 * own interval does not replace it). */
static int set_interval(uint16_t port, long interval)
{
	uint32_t secs = (uint32_t)interval;
	if (interval < 0)
		return 0;
	return cli_coord_command(port, MSG_CMD_SET_INTERVAL, &secs, sizeof(secs), MSG_OK, NULL) < 0
		   ? -1
		   : 0;
}

int cmd_restart(int argc, char **argv)
{
	const char *dir = NULL, *arg, *ckpt_dir = NULL, *port_file = NULL, *log_file = NULL;
	long wait_s = -1, interval = cli_env_interval();
	char err[1024], *end;
	struct rst_options opt = {.map_images = 1, .verify_mapped = 1};
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));) {
		if (key == OPT_DIR)
			dir = arg;
		else if (key == OPT_WAIT) {
			wait_s = strtol(arg, &end, 10);
			if (!*arg || *end || wait_s < 1 || wait_s > 86400)
				cli_usage_error(
				    &cmd, "invalid --wait '%s': expected seconds (1-86400)", arg);
		} else if (key == OPT_NO_MAP)
			opt.map_images = 0;
		else if (key == OPT_NO_VERIFY)
			opt.verify_mapped = 0;
		else if (key == OPT_DEBUG_PAUSE)
			opt.debug_pause = 1;
		else if (key == 'i')
			interval = cli_parse_seconds(arg, "interval");
		else if (key == OPT_CKPT_DIR)
			ckpt_dir = arg;
		else if (key == OPT_PORT_FILE)
			port_file = arg;
		else if (key == OPT_LOG_FILE)
			log_file = arg;
		else if (key == OPT_PATH_MAP && rst_pathmap_add(arg, err, sizeof(err)) < 0)
			cli_usage_error(&cmd, "%s", err);
	}
	const char *nomap = getenv("STASIS_NO_MAP"), *pause = getenv("STASIS_RESTART_PAUSE");
	if (nomap && *nomap && strcmp(nomap, "0"))
		opt.map_images = 0;
	if (pause && *pause && strcmp(pause, "0"))
		opt.debug_pause = 1;
	opt.max_map_count = rst_max_map_count();
	int nimg = argc - a.next;
	char **paths = argv + a.next;
	if ((dir && nimg) || (!dir && !nimg))
		cli_usage_error(&cmd, "give image files or --dir DIR");
	int part_ok = cli_coord_host_given() || wait_s > 0; /* other hosts may have the rest */
	if (dir && (nimg = cli_newest_in_dir(dir, &paths, part_ok)) <= 0)
		return 1;
	struct rst_set set = {.n = nimg,
			      .wait_s = wait_s > 0 ? (int)wait_s : 60,
			      .img = xcalloc(nimg, sizeof(struct rst_image)),
			      .conn = xshared(nimg, sizeof(struct rst_conn)),
			      .parent = xcalloc(nimg, sizeof(int)),
			      .opt = opt};
	for (int k = 0; k < nimg; k++) {
		if (rst_load(&set.img[k], paths[k], err, sizeof(err)) < 0) {
			error("cannot restart: %s", err);
			return 1;
		}
		if (check_owner(&set.img[k]) < 0)
			return 1;
		if (rst_plugins_check(&set.img[k], err, sizeof(err)) < 0) {
			error("cannot restart: %s", err);
			return 1;
		}
		set.part |= part_ok && set.img[k].r.hdr.nprocs > (uint32_t)nimg;
	}
	if (rst_set_check(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	uint16_t port = cli_args_port(&a, 1);
	char dirbuf[PATH_MAX];
	const char *dir_for_coord = coord_dir(paths[0], ckpt_dir, dirbuf);
	int hold, early_start, watch = set.part || wait_s > 0;
	cli_coord_files(port_file, log_file);
	cli_coord_start_s();
	if (lock_restart(&set) < 0 || check_not_running(&set, port) < 0)
		return 1;
	/* before the joins, whose connections take ports: a part that has joined
	 * holds its own (fd_inet.c) */
	if (rst_inet_bind_ports(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	if ((early_start = start_early(&set, port, dir_for_coord, interval, watch, &hold)) < 0)
		return 1;
	if (!early_start) {
		if (join_all(&set, &port, dir_for_coord, hold) < 0 ||
		    set_interval(port, interval) < 0)
			return 1;
		unlock_restart();
	}
	if (rst_set_layout(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	if (watch && start_watch(&set, set.conn[0].port, set.wait_s) < 0)
		return 1;
	int st = rst_run(&set);
	end_watch();
	if (st < 0 || watch_failed)
		return 1;
	return exit_like(st);
}
