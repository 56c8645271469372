/* stasis restart: bring a computation back from its images, in the foreground. */
#include "cli/cli.h"
#include "common/log.h"
#include "restore/restore.h"

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

static const char usage[] =
    "usage: stasis restart [-p PORT] [--no-map | --no-verify] (IMAGE... | --dir DIR)\n"
    "\n"
    "Restarts a computation from its images (or from the newest complete checkpoint\n"
    "in DIR), in the foreground like launch: the program's terminal and pipes to\n"
    "outside become restart's own stdin, stdout and stderr. Processes get back their\n"
    "PIDs inside a new PID namespace. It joins the coordinator on PORT, starting one\n"
    "if none runs. A computation that had a terminal of its own (launched on a\n"
    "terminal) gets a new one, relayed to the terminal restart runs in.\n"
    "\n"
    "  --no-map  read every memory chunk (verifying its checksum) before the program\n"
    "            runs, instead of mapping the uncompressed ones from the image file\n"
    "            (also STASIS_NO_MAP=1)\n"
    "  --no-verify  do not verify the mapped chunks' checksums (by default restart\n"
    "            verifies them while the program runs, and kills it if one is\n"
    "            corrupt): for images you trust\n";

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
 * all its processes' images there. Returns how many (their paths in *out). */
static int newest_in_dir(const char *dir, char ***out)
{
	struct found *f;
	int n = scan_dir(dir, &f), best = -1, k = 0;
	for (int i = 0; i < n; i++) {
		uint32_t have = 0;
		for (int j = 0; j < n; j++)
			have += f[j].comp_id == f[i].comp_id && f[j].gen == f[i].gen;
		if (have >= f[i].nprocs && (best < 0 || f[i].created > f[best].created))
			best = i;
	}
	if (best < 0) {
		free(f);
		return n < 0 ? -1
			     : error("no complete checkpoint in %s (no valid *.stasis image, or a "
				     "generation with images missing)",
				     dir);
	}
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

/* Join as the image's process; a coordinator that is just exiting (its last
 * process left) or not there yet is started again. */
static int join_coordinator(struct rst_image *img, struct rst_opts *o, const char *path)
{
	char imgdir[PATH_MAX], err[1024];
	snprintf(imgdir, sizeof(imgdir), "%s", path);
	char *slash = strrchr(imgdir, '/');
	if (slash)
		*slash = 0;
	for (int attempt = 0;; attempt++) {
		if (cli_ensure_coordinator(o->port, slash ? imgdir : ".", 0) < 0)
			return -1;
		if (rst_join(img, o, err, sizeof(err)) == 0)
			return 0;
		if (attempt == 5)
			return error("%s", err);
		debug("joining the coordinator failed (%s): trying again", err);
		usleep(100000 << (attempt < 3 ? attempt : 3));
	}
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

int cmd_restart(int argc, char **argv)
{
	const char *port_s = NULL, *dir = NULL;
	char err[1024];
	int i;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if ((!strcmp(a, "-p") || !strcmp(a, "--port")) && i + 1 < argc) {
			port_s = argv[++i];
		} else if (!strcmp(a, "--no-map")) {
			rst_map_images = 0;
		} else if (!strcmp(a, "--no-verify")) {
			rst_verify_mapped = 0;
		} else if (!strcmp(a, "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fprintf(stderr, "stasis restart: unknown option '%s'\n%s", a, usage);
			return 2;
		}
	}
	const char *nomap = getenv("STASIS_NO_MAP");
	if (nomap && *nomap && strcmp(nomap, "0"))
		rst_map_images = 0;
	int nimg = argc - i;
	char **paths = argv + i;
	if ((dir && nimg) || (!dir && !nimg)) {
		fprintf(stderr, "stasis restart: give image files or --dir DIR\n%s", usage);
		return 2;
	}
	if (dir && (nimg = newest_in_dir(dir, &paths)) <= 0)
		return 1;
	struct rst_set set = {.n = nimg,
			      .img = xcalloc(nimg, sizeof(struct rst_image)),
			      .opts = xcalloc(nimg, sizeof(struct rst_opts)),
			      .parent = xcalloc(nimg, sizeof(int))};
	for (int k = 0; k < nimg; k++) {
		if (rst_load(&set.img[k], paths[k], err, sizeof(err)) < 0) {
			error("cannot restart: %s", err);
			return 1;
		}
		if (check_owner(&set.img[k]) < 0)
			return 1;
	}
	if (rst_set_check(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	for (int k = 0; k < nimg; k++) {
		set.opts[k] = (struct rst_opts){.port = cli_parse_port(port_s), .coord_fd = -1};
		if (join_coordinator(&set.img[k], &set.opts[k], paths[k]) < 0)
			return 1;
	}
	if (rst_set_layout(&set, err, sizeof(err)) < 0) {
		error("cannot restart: %s", err);
		return 1;
	}
	int st = rst_run(&set);
	if (st < 0)
		return 1;
	return exit_like(st);
}
