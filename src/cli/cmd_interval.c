/* stasis interval: change the periodic checkpoint interval of a running
 * coordinator (dmtcp_command -i). */
#include "cli/cli.h"
#include "common/log.h"
#include "common/proto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_text[] =
    "usage: stasis interval [-p PORT] [--coord-host HOST] [--token-file FILE] [--json] SECONDS\n"
    "\n"
    "Checkpoint the computation of the coordinator on PORT every SECONDS seconds from\n"
    "now on (0: no periodic checkpoints). The interval is kept in the images: a\n"
    "restart brings it back (unless restart is given -i or $STASIS_INTERVAL).\n"
    "\n"
    "  -p, --port PORT  the coordinator's port (default $STASIS_PORT, else 7779)\n" CLI_COORD_USAGE
    "      --json       print {\"port\": PORT, \"interval\": SECONDS}, or {\"error\": ...}\n"
    "  -h, --help       show this help\n";

int cmd_interval(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_COORD_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	uint16_t port = 0;
	int json = 0, opt;
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
	if (optind + 1 != argc) {
		fprintf(stderr, "stasis interval: give one number of seconds\n%s", usage_text);
		return 2;
	}
	uint32_t secs = cli_parse_seconds(argv[optind], "interval");
	if (!port)
		port = cli_parse_port(NULL);
	if (cli_coord_command(port, MSG_CMD_SET_INTERVAL, &secs, sizeof(secs), MSG_OK, NULL) < 0)
		return 1;
	if (json)
		printf("{\"port\": %u, \"interval\": %u}\n", port, secs);
	else if (secs)
		printf("the coordinator on port %u checkpoints every %u s\n", port, secs);
	else
		printf("the coordinator on port %u no longer checkpoints periodically\n", port);
	return 0;
}
