/* stasis kill: end the computation (and optionally its coordinator). */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/proto.h"

#include <stdio.h>
#include <stdlib.h>

enum { OPT_COORDINATOR = 256 };
static const struct cli_opt opts[] = {
    CLI_OPT_PORT,
    CLI_OPTS_COORD,
    {"coordinator", OPT_COORDINATOR, NULL, "stop the coordinator too"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "kill",
    .synopsis = "[-p PORT] [--coord-host HOST] [--token-file FILE] [--coordinator]",
    .about = "End every process of the computation registered with the coordinator on PORT.",
    .opts = opts,
};

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
	int quit = 0;
	const char *arg;
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	while (cli_next(&a, &arg)) /* --coordinator: the only key it returns */
		quit = 1;
	uint16_t port = cli_args_port(&a, 0);
	if (command(port, MSG_CMD_KILL) < 0 || (quit && command(port, MSG_CMD_QUIT) < 0))
		return 1;
	return 0;
}
