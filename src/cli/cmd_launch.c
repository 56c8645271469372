/* stasis launch: run a program under checkpoint control, in the foreground. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/io.h"
#include "common/log.h"
#include "common/progkind.h"
#include "common/proto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	OPT_DIR = 256,
	OPT_NO_COMPRESS,
	OPT_NO_TTY,
	OPT_INCREMENTAL,
	OPT_PORT_FILE,
	OPT_LOG_FILE,
	OPT_PLUGIN
};
static const struct cli_opt opts[] = {
    {"port", 'p', "PORT",
     "the coordinator's port (default $STASIS_PORT, else 7779; 0: start one on a free port)"},
    {"port-file", OPT_PORT_FILE, "FILE",
     "write the coordinator's port to FILE (atomically) once it listens"},
    {"log-file", OPT_LOG_FILE, "FILE",
     "the log file of a coordinator launch starts (coordinator --log-file)"},
    CLI_OPTS_COORD,
    {"ckpt-dir", OPT_DIR, "DIR",
     "where images go (default $STASIS_CKPT_DIR, else the current directory)"},
    {"interval", 'i', "N",
     "checkpoint every N seconds (0: never; default $STASIS_INTERVAL, else the coordinator's)"},
    {"no-compress", OPT_NO_COMPRESS, NULL,
     "store memory uncompressed (faster on fast disks, mappable)"},
    {"no-tty", OPT_NO_TTY, NULL,
     "with a terminal on stdin, run PROGRAM on it directly instead of on a pty of its own "
     "(its job control then does not survive a restart)"},
    {"incremental", OPT_INCREMENTAL, NULL,
     "after the first image, store only the pages written since the previous one (every "
     "checkpoint of the program)"},
    {"plugin", OPT_PLUGIN, "LIB.so",
     "load plugin LIB.so into every process of the computation (repeatable, in order, after "
     "those of $STASIS_PLUGINS, a colon-separated list); a restart loads it again "
     "(docs/plugins.md)"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "launch",
    .synopsis = "[-p PORT] [--coord-host HOST] [--token-file FILE] [--ckpt-dir DIR]\n"
		"                     [-i SECONDS] [--no-compress] [--no-tty] [--incremental]\n"
		"                     [--port-file FILE] [--log-file FILE] [--plugin LIB.so]...\n"
		"                     [--] PROGRAM [ARGS...]",
    .about = "Runs PROGRAM under checkpoint control, in the foreground: its stdin, stdout and\n"
	     "stderr are yours and its exit status is launch's. It joins the coordinator on\n"
	     "127.0.0.1:PORT (default 7779, or $STASIS_PORT), starting one if none runs; with\n"
	     "--coord-host, the coordinator of another host (none is started: it must run),\n"
	     "or on an address of this host (one is started there with --bind HOST).\n"
	     "With a terminal on stdin, PROGRAM runs on a pty of its own (launch relays your\n"
	     "terminal to it), so that its terminal and job control come back at a restart.\n"
	     "PROGRAM must be a dynamically linked x86_64 program: a 32-bit one is refused; a\n"
	     "statically linked one runs outside Stasis, without checkpoints (with a warning).",
    .opts = opts,
    .operands = "PROGRAM",
    .min_operands = 1,
    .max_operands = -1,
    .operands_end_options = 1,
};

static int set_preload(void)
{
	char lib[PATH_MAX], val[2 * PATH_MAX];
	if (cli_runtime_path(lib, sizeof(lib)) < 0)
		return -1;
	const char *old = getenv("LD_PRELOAD");
	if (old && strstr(old, "libstasis.so"))
		snprintf(val, sizeof(val), "%s", old);
	else if (old && *old)
		snprintf(val, sizeof(val), "%s:%s", lib, old);
	else
		snprintf(val, sizeof(val), "%s", lib);
	setenv("LD_PRELOAD", val, 1);
	return 0;
}

/* Tell the coordinator we hold whether a program is being started (1: it
 * waits a few seconds after our connection closes for it to join); 0 also
 * lets go of it. */
void cli_launching(int hold, uint32_t state)
{
	proto_send(hold, MSG_EXEC, &state, sizeof(state), NULL, 0);
	if (!state)
		close(hold);
}

static int resolve_dir(const char *dir, char *out)
{
	struct stat st;
	if (!realpath(dir, out) || stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		return error("checkpoint directory %s: %s", dir,
			     errno ? strerror(errno) : "not a directory");
	if (access(out, W_OK) < 0)
		return error("checkpoint directory %s is not writable: %s", out, strerror(errno));
	return 0;
}

/* The runtime is preloaded into dynamically linked x86_64 programs only: a
 * 32-bit one is refused (126); a static one runs, with a warning, outside
 * Stasis (no coordinator, no runtime variables: nothing it starts joins). */
static int check_program(char **argv)
{
	char path[PATH_MAX];
	if (prog_find(argv[0], getenv("PATH"), path, sizeof(path)) < 0)
		return 0; /* exec says it is not found */
	enum prog_kind k = prog_kind(path);
	if (k == PROG_32BIT) {
		error("%s is a 32-bit program: Stasis checkpoints x86_64 programs only (its "
		      "runtime cannot be loaded into a 32-bit process; see docs/supported.md); "
		      "build it for x86_64, or run it without stasis launch",
		      path);
		return 126;
	}
	if (k == PROG_STATIC) {
		warn("%s is statically linked: the runtime cannot be loaded into it, so it runs "
		     "outside Stasis, without checkpoints (link it dynamically to checkpoint it)",
		     path);
		cli_env_without_stasis();
		execvp(argv[0], argv);
		error("cannot run %s: %s", argv[0], strerror(errno));
		return errno == ENOENT ? 127 : 126;
	}
	return 0;
}

#define MAX_PLUGIN_ARGS 16 /* the runtime loads 16 at most */

/* Append plugin path to list (absolute, so that a process that changes its
 * directory, or a restart, finds it). */
static int add_plugin(char *list, size_t size, const char *path)
{
	char abs[PATH_MAX];
	size_t len = strlen(list);
	if (!realpath(path, abs) || access(abs, R_OK) < 0)
		return error("plugin %s: %s; give the path of the plugin's shared library", path,
			     strerror(errno));
	if (strchr(abs, ':'))
		return error("plugin %s: a plugin's path cannot contain ':'", abs);
	if (snprintf(list + len, size - len, "%s%s", len ? ":" : "", abs) >= (int)(size - len))
		return error("too many plugins: their paths exceed %zu bytes", size - 1);
	return 0;
}

/* $STASIS_PLUGINS, then every --plugin, into $STASIS_PLUGINS. */
static int set_plugins(const char **plugins, int n)
{
	static char list[8192];
	const char *env = getenv("STASIS_PLUGINS");
	char path[PATH_MAX];
	while (env && *env) {
		size_t len = strcspn(env, ":");
		snprintf(path, sizeof(path), "%.*s", (int)len, env);
		env += len + (env[len] == ':');
		if (len && add_plugin(list, sizeof(list), path) < 0)
			return -1;
	}
	for (int k = 0; k < n; k++)
		if (add_plugin(list, sizeof(list), plugins[k]) < 0)
			return -1;
	if (list[0])
		setenv("STASIS_PLUGINS", list, 1);
	return 0;
}

int cmd_launch(int argc, char **argv)
{
	const char *dir = getenv("STASIS_CKPT_DIR"), *arg, *port_file = NULL, *log_file = NULL;
	long interval = cli_env_interval();
	int no_compress = 0, no_tty = 0, nplugins = 0;
	const char *plugins[MAX_PLUGIN_ARGS];
	char absdir[PATH_MAX], portbuf[16];
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));) {
		switch (key) {
		case OPT_DIR:
			dir = arg;
			break;
		case 'i':
			interval = cli_parse_seconds(arg, "interval");
			break;
		case OPT_PORT_FILE:
			port_file = arg;
			break;
		case OPT_LOG_FILE:
			log_file = arg;
			break;
		case OPT_NO_COMPRESS:
			no_compress = 1;
			break;
		case OPT_NO_TTY:
			no_tty = 1;
			break;
		case OPT_INCREMENTAL:
			setenv("STASIS_INCREMENTAL", "1", 1);
			break;
		case OPT_PLUGIN:
			if (nplugins == MAX_PLUGIN_ARGS)
				cli_usage_error(&cmd, "more than %d --plugin options",
						MAX_PLUGIN_ARGS);
			plugins[nplugins++] = arg;
			break;
		}
	}
	int i = a.next;
	int refused = check_program(argv + i);
	if (refused)
		return refused;
	uint16_t port = cli_args_port(&a, 1);
	if (resolve_dir(dir ? dir : ".", absdir) < 0 || set_plugins(plugins, nplugins) < 0)
		return 1;
	cli_coord_files(port_file, log_file);
	cli_coord_start_s();
	int hold = cli_ensure_coordinator(&port, absdir, no_compress);
	if (hold < 0 || set_preload() < 0)
		return 1;
	if (interval >= 0) {
		uint32_t secs = interval;
		if (cli_coord_command(port, MSG_CMD_SET_INTERVAL, &secs, sizeof(secs), MSG_OK,
				      NULL) < 0)
			return 1;
	}
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	setenv("STASIS_PORT", portbuf, 1);
	setenv("STASIS_CKPT_DIR", absdir, 1);
	setenv("STASIS_RUNTIME", "1", 1);
	unsetenv("STASIS_COMP_ID"); /* a new computation, whatever launched launch */
	unsetenv("STASIS_EXTERNAL");
	if (no_compress)
		setenv("STASIS_NO_COMPRESS", "1", 1);
	if (!no_tty && isatty(0))
		return cli_launch_tty(argv + i, hold);
	cli_launching(hold, 1); /* the held connection closes at exec */
	execvp(argv[i], argv + i);
	int saved = errno;
	cli_launching(hold, 0);
	error("cannot run %s: %s", argv[i], strerror(saved));
	return saved == ENOENT ? 127 : 126;
}
