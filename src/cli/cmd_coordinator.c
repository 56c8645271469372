/* stasis coordinator: run the coordinator in the foreground or as a daemon. */
#include "cli/cli.h"
#include "common/log.h"
#include "coordinator/coord.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_text[] =
    "usage: stasis coordinator [-p PORT] [--bind ADDR] [--daemon] [--exit-on-last]\n"
    "                          [--ckpt-dir DIR] [-i SECONDS] [--no-compress] [--timeout SECS]\n"
    "                          [--port-file FILE] [--log-file FILE]\n"
    "\n"
    "Run the coordinator that the processes of a computation register with.\n"
    "\n"
    "  -p, --port PORT      listen on PORT (default $STASIS_PORT, else 7779; 0: a free\n"
    "                       port, see --port-file)\n"
    "      --port-file FILE write the port to FILE once listening (atomically: a\n"
    "                       script waits for FILE to exist); removed at exit\n"
    "      --log-file FILE  log to FILE, each line with its date and time (default:\n"
    "                       stderr; with --daemon <run dir>/coord-PORT.log)\n"
    "      --bind ADDR      listen on ADDR (default 127.0.0.1; other hosts need the\n"
    "                       token file, copied securely)\n"
    "      --daemon         run in the background, its messages in\n"
    "                       <run dir>/coord-PORT.log; return once it listens\n"
    "      --exit-on-last   exit once no process, client or checkpoint is left (after a\n"
    "                       grace of 1.5 s, 5 s while a launch's program is starting)\n"
    "      --ckpt-dir DIR   write images and restart scripts in DIR (default: cwd)\n"
    "  -i, --interval SECS  checkpoint every SECS seconds (0: never; default\n"
    "                       $STASIS_INTERVAL, else the interval a restarted\n"
    "                       computation had, else never)\n"
    "      --no-compress    store memory uncompressed by default\n"
    "      --timeout SECS   a checkpoint gives up on a process that says nothing for\n"
    "                       SECS seconds (stopped, hung), naming it (default 20)\n"
    "  -h, --help           show this help\n";

static int usage_error(void)
{
	fputs(usage_text, stderr);
	return 2;
}

int cmd_coordinator(int argc, char **argv)
{
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
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"bind", required_argument, NULL, OPT_BIND},
	    {"daemon", no_argument, NULL, OPT_DAEMON},
	    {"exit-on-last", no_argument, NULL, OPT_EXIT_ON_LAST},
	    {"ckpt-dir", required_argument, NULL, OPT_DIR},
	    {"interval", required_argument, NULL, 'i'},
	    {"no-compress", no_argument, NULL, OPT_NO_COMPRESS},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"port-file", required_argument, NULL, OPT_PORT_FILE},
	    {"log-file", required_argument, NULL, OPT_LOG_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct coord_opts o = {0};
	int daemon = 0, port_given = 0, opt;
	while ((opt = getopt_long(argc, argv, "p:i:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o.port = cli_parse_port_or_any(optarg);
			port_given = 1;
			break;
		case OPT_PORT_FILE:
			o.port_file = optarg;
			break;
		case OPT_LOG_FILE:
			o.log_file = optarg;
			break;
		case OPT_BIND:
			o.bind_addr = optarg;
			break;
		case OPT_DAEMON:
			daemon = 1;
			break;
		case OPT_EXIT_ON_LAST:
			o.exit_on_last = 1;
			break;
		case OPT_DIR:
			o.ckpt_dir = optarg;
			break;
		case 'i':
			o.interval = cli_parse_seconds(optarg, "interval");
			o.interval_given = 1;
			break;
		case OPT_NO_COMPRESS:
			o.no_compress = 1;
			break;
		case OPT_TIMEOUT:
			if (!(o.timeout = cli_parse_seconds(optarg, "timeout"))) {
				log_msg("error", "invalid timeout '%s': at least 1 second", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error();
		}
	}
	if (optind < argc)
		return usage_error();
	long env_interval = cli_env_interval();
	if (!o.interval_given && env_interval >= 0) {
		o.interval = (unsigned)env_interval;
		o.interval_given = 1;
	}
	if (!port_given)
		o.port = cli_parse_port(NULL);
	if (!daemon)
		return coord_run(&o);
	char err[PATH_MAX + 256];
	if (coord_spawn(&o, 1, NULL, err, sizeof(err)) < 0) {
		error("%s", err);
		return 1;
	}
	return 0;
}
