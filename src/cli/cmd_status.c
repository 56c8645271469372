/* stasis status: show the coordinator, its computation and its processes. */
#include "cli/cli.h"
#include "common/log.h"
#include "common/proto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_text[] =
    "usage: stasis status [-p PORT] [--coord-host HOST] [--token-file FILE] [--json]\n"
    "\n"
    "Show the coordinator on PORT, its computation, and its processes.\n"
    "\n"
    "  -p, --port PORT  the coordinator's port (default $STASIS_PORT, else 7779)\n" CLI_COORD_USAGE
    "      --json       print one JSON object: port, pid, comp_id, gen, state, interval,\n"
    "                   timeout, ckpt_dir, log, checkpoint (in progress), last_ok,\n"
    "                   last_error, nprocs, procs [{pid, name, restored}];\n"
    "                   an error as {\"error\": ...}\n"
    "  -h, --help       show this help\n";

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_COORD_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	uint16_t port = 0;
	uint32_t json = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = cli_parse_port(optarg);
			break;
		case 'j':
			log_set_json(json = 1);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'H':
		case 'T':
			cli_coord_opt(opt == 'H' ? "--coord-host" : "--token-file", optarg);
			break;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	char *reply;
	long n = cli_coord_command(port ? port : cli_parse_port(NULL), MSG_CMD_STATUS, &json,
				   sizeof(json), MSG_STATUS_REPLY, &reply);
	if (n < 0)
		return 1;
	fwrite(reply, 1, n, stdout);
	if (n == 0 || reply[n - 1] != '\n')
		putchar('\n');
	free(reply);
	return 0;
}
