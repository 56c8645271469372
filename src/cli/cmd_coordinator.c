/* stasis coordinator: run the coordinator in the foreground or as a daemon. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"
#include "coordinator/coord.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	OPT_BIND = 256,
	OPT_DAEMON,
	OPT_EXIT_ON_LAST,
	OPT_DIR,
	OPT_NO_COMPRESS,
	OPT_TIMEOUT,
	OPT_PORT_FILE,
	OPT_LOG_FILE
};
static const struct cli_opt opts[] = {
    {"port", 'p', "PORT",
     "listen on PORT (default $STASIS_PORT, else 7779; 0: a free port, see --port-file)"},
    {"port-file", OPT_PORT_FILE, "FILE",
     "write the port to FILE once listening (atomically: a script waits for FILE to exist); "
     "removed at exit"},
    {"log-file", OPT_LOG_FILE, "FILE",
     "log to FILE, each line with its date and time (default: stderr; with --daemon "
     "coord-PORT.log in the run directory)"},
    {"bind", OPT_BIND, "ADDR",
     "listen on ADDR, an IP address or a name of this host (default 127.0.0.1; of a name with "
     "several addresses the first, which it names; other hosts need the token file, copied "
     "securely)"},
    {"daemon", OPT_DAEMON, NULL,
     "run in the background, its messages in coord-PORT.log in the run directory; return once it "
     "listens"},
    {"exit-on-last", OPT_EXIT_ON_LAST, NULL,
     "exit once no process, client or checkpoint is left (after a grace of 1.5 s, 5 s while "
     "a launch's program is starting)"},
    {"ckpt-dir", OPT_DIR, "DIR", "write images and restart scripts in DIR (default: cwd)"},
    {"interval", 'i', "SECS",
     "checkpoint every SECS seconds (0: never; default $STASIS_INTERVAL, else the interval a "
     "restarted computation had, else never)"},
    {"no-compress", OPT_NO_COMPRESS, NULL, "store memory uncompressed by default"},
    {"timeout", OPT_TIMEOUT, "SECS",
     "a checkpoint gives up on a process that says nothing for SECS seconds (stopped, hung), "
     "naming it (default 20)"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "coordinator",
    .synopsis =
	"[-p PORT] [--bind ADDR] [--daemon] [--exit-on-last]\n"
	"                          [--ckpt-dir DIR] [-i SECONDS] [--no-compress] [--timeout SECS]\n"
	"                          [--port-file FILE] [--log-file FILE]",
    .about = "Run the coordinator that the processes of a computation register with.",
    .opts = opts,
};

/* $STASIS_COORD_READY_FD: launch or restart started this --daemon already
 * detached, and reads "R <port> <pid>" or "E <message>" on that descriptor
 * (cli/coordctl.c); -1 when it is not set. */
static int ready_fd(void)
{
	const char *v = getenv("STASIS_COORD_READY_FD");
	char *end;
	long fd = v ? strtol(v, &end, 10) : -1;
	unsetenv("STASIS_COORD_READY_FD");
	return v && *v && !*end && fd >= 3 && fd < 1024 ? (int)fd : -1;
}

int cmd_coordinator(int argc, char **argv)
{
	struct coord_opts o = {0};
	int daemon = 0;
	const char *arg;
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));) {
		switch (key) {
		case OPT_PORT_FILE:
			o.port_file = arg;
			break;
		case OPT_LOG_FILE:
			o.log_file = arg;
			break;
		case OPT_BIND:
			o.bind_addr = arg;
			break;
		case OPT_DAEMON:
			daemon = 1;
			break;
		case OPT_EXIT_ON_LAST:
			o.exit_on_last = 1;
			break;
		case OPT_DIR:
			o.ckpt_dir = arg;
			break;
		case 'i':
			o.interval = cli_parse_seconds(arg, "interval");
			o.interval_given = 1;
			break;
		case OPT_NO_COMPRESS:
			o.no_compress = 1;
			break;
		case OPT_TIMEOUT:
			if (!(o.timeout = cli_parse_seconds(arg, "timeout"))) {
				log_msg("error", "invalid timeout '%s': at least 1 second", arg);
				return 2;
			}
			break;
		}
	}
	long env_interval = cli_env_interval();
	if (!o.interval_given && env_interval >= 0) {
		o.interval = (unsigned)env_interval;
		o.interval_given = 1;
	}
	o.port = cli_args_port(&a, 1);
	if (!daemon)
		return coord_run(&o);
	int ready = ready_fd();
	if (ready >= 0)
		coord_run_detached(&o, ready);
	char err[PATH_MAX + 256];
	if (coord_spawn(&o, 1, NULL, err, sizeof(err)) < 0) {
		error("%s", err);
		return 1;
	}
	return 0;
}
