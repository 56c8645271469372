/* stasis kill: end the computation (and optionally its coordinator). */
#include "cli/cli.h"
#include "common/proto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage_text[] =
    "usage: stasis kill [-p PORT] [--coord-host HOST] [--token-file FILE] [--coordinator]\n"
    "\n"
    "End every process of the computation registered with the coordinator on PORT.\n"
    "\n"
    "  -p, --port PORT  the coordinator's port (default $STASIS_PORT, else 7779)\n" CLI_COORD_USAGE
    "      --coordinator  stop the coordinator too\n"
    "  -h, --help       show this help\n";

static int command(uint16_t port, uint16_t type)
{
	char *reply;
	if (cli_coord_command(port, type, NULL, 0, MSG_OK, &reply) < 0)
		return -1;
	free(reply);
	return 0;
}

int cmd_kill(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"coordinator", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_COORD_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	uint16_t port = 0;
	int quit = 0, opt;
	while ((opt = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = cli_parse_port(optarg);
			break;
		case 'c':
			quit = 1;
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
	if (!port)
		port = cli_parse_port(NULL);
	if (command(port, MSG_CMD_KILL) < 0 || (quit && command(port, MSG_CMD_QUIT) < 0))
		return 1;
	return 0;
}
