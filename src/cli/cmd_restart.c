/* stasis restart: bring a computation back from its images, in the foreground. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/complock.h"
#include "common/log.h"
#include "restore/load.h"
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPT_DIR = 256, OPT_WAIT, OPT_NO_MAP, OPT_NO_VERIFY, OPT_DEBUG_PAUSE, OPT_CKPT_DIR };
static const struct cli_opt opts[] = {
    CLI_OPT_PORT,
    CLI_OPTS_COORD,
    {"dir", OPT_DIR, "DIR", "restart the newest complete checkpoint in DIR"},
    {"wait", OPT_WAIT, "SECONDS", "how long the parts of other hosts may take to come back"},
    {"interval", 'i', "SECONDS",
     "checkpoint every SECONDS seconds (0: never; default $STASIS_INTERVAL, else the interval "
     "the computation had)"},
    {"ckpt-dir", OPT_CKPT_DIR, "DIR",
     "where the restarted computation's checkpoints go (default: the directory of the images; "
     "a coordinator already running keeps its own)"},
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
	"                      [-i SECONDS] [--ckpt-dir DIR]\n"
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

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

struct found {
	uint64_t comp_id, created;
	uint32_t gen, nprocs;
	char path[PATH_MAX];
};

/* Every valid image header in dir (invalid ones are named and skipped). */
static int scan_dir(const char *dir, struct found **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0, cap = 0;
	*out = NULL;
	if (!d)
		return error("cannot open checkpoint directory %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		char path[PATH_MAX], err[512];
		struct img_reader r;
		if (!ends_with(e->d_name, ".stasis"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (img_open(&r, path, err, sizeof(err)) < 0) {
			warn("skipping %s", err);
			continue;
		}
		if (n == cap && !(*out = realloc(*out, sizeof(**out) * (cap = cap * 2 + 8))))
			die("out of memory");
		(*out)[n] =
		    (struct found){r.hdr.comp_id, r.hdr.created_ns, r.hdr.gen, r.hdr.nprocs};
		snprintf((*out)[n++].path, PATH_MAX, "%s", path);
		img_close(&r);
	}
	closedir(d);
	return n;
}

/* The newest complete checkpoint in dir: the newest image whose generation has
 * all its processes' images there; with part, the newest image's generation
 * (the other processes' images are on other hosts). Returns how many (their
 * paths in *out). */
static int newest_in_dir(const char *dir, char ***out, int part)
{
	struct found *f;
	int n = scan_dir(dir, &f), best = -1, k = 0;
	for (int i = 0; i < n; i++) {
		uint32_t have = 0;
		for (int j = 0; j < n; j++)
			have += f[j].comp_id == f[i].comp_id && f[j].gen == f[i].gen;
		if ((part || have >= f[i].nprocs) && (best < 0 || f[i].created > f[best].created))
			best = i;
	}
	if (best < 0) {
		free(f);
		return n < 0 ? -1
			     : error("no complete checkpoint in %s (no valid *.stasis image, or a "
				     "generation with images missing)",
				     dir);
	}
	debug("restarting generation %u of computation %016llx from %s (%u images)", f[best].gen,
	      (unsigned long long)f[best].comp_id, dir, f[best].nprocs);
	*out = calloc(f[best].nprocs + 1, sizeof(char *));
	for (int j = 0; j < n && *out && k < (int)f[best].nprocs; j++)
		if (f[j].comp_id == f[best].comp_id && f[j].gen == f[best].gen)
			(*out)[k++] = strdup(f[j].path);
	free(f);
	return *out ? k : error("out of memory");
}

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

/* Join as every image's process, holding the coordinator meanwhile. One that
 * is just exiting (its last process left) or not there yet is started again;
 * a refusal is final. */
static int join_all(struct rst_set *set, uint16_t port, const char *path, const char *ckpt_dir)
{
	char imgdir[PATH_MAX], err[1024];
	snprintf(imgdir, sizeof(imgdir), "%s", path);
	char *slash = strrchr(imgdir, '/');
	if (slash)
		*slash = 0;
	if (!ckpt_dir)
		ckpt_dir = slash ? imgdir : ".";
	for (int attempt = 0;; attempt++) {
		int hold = cli_ensure_coordinator(&port, ckpt_dir, 0), k;
		if (hold < 0)
			return -1;
		for (k = 0; k < set->n; k++) {
			set->conn[k] =
			    (struct rst_conn){.port = port, .part = set->part, .coord_fd = -1};
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
	const char *port_s = NULL, *dir = NULL, *arg, *ckpt_dir = NULL;
	long wait_s = -1, interval = cli_env_interval();
	char err[1024], *end;
	struct rst_options opt = {.map_images = 1, .verify_mapped = 1};
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));) {
		if (key == 'p')
			port_s = arg;
		else if (key == OPT_DIR)
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
	}
	const char *nomap = getenv("STASIS_NO_MAP"), *pause = getenv("STASIS_RESTART_PAUSE");
	if (nomap && *nomap && strcmp(nomap, "0"))
		opt.map_images = 0;
	if (pause && *pause && strcmp(pause, "0"))
		opt.debug_pause = 1;
	int nimg = argc - a.next;
	char **paths = argv + a.next;
	if ((dir && nimg) || (!dir && !nimg))
		cli_usage_error(&cmd, "give image files or --dir DIR");
	int part_ok = cli_coord_remote() || wait_s > 0; /* other hosts may have the rest */
	if (dir && (nimg = newest_in_dir(dir, &paths, part_ok)) <= 0)
		return 1;
	struct rst_set set = {.n = nimg,
			      .wait_s = wait_s > 0 ? (int)wait_s : 60,
			      .img = xcalloc(nimg, sizeof(struct rst_image)),
			      .conn = xcalloc(nimg, sizeof(struct rst_conn)),
			      .parent = xcalloc(nimg, sizeof(int)),
			      .opt = opt};
	for (int k = 0; k < nimg; k++) {
		if (rst_load(&set.img[k], paths[k], err, sizeof(err)) < 0) {
			error("cannot restart: %s", err);
			return 1;
		}
		if (check_owner(&set.img[k]) < 0)
			return 1;
		set.part |= part_ok && set.img[k].r.hdr.nprocs > (uint32_t)nimg;
	}
	if (rst_set_check(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	uint16_t port = cli_parse_port(port_s);
	if (check_not_running(&set, port) < 0 || join_all(&set, port, paths[0], ckpt_dir) < 0 ||
	    set_interval(port, interval) < 0)
		return 1;
	if (rst_set_layout(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	if ((set.part || wait_s > 0) && start_watch(&set, set.conn[0].port, set.wait_s) < 0)
		return 1;
	int st = rst_run(&set);
	end_watch();
	if (st < 0 || watch_failed)
		return 1;
	return exit_like(st);
}
