/* stasis interval: change the periodic checkpoint interval of a running
 * coordinator (dmtcp_command -i). */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"
#include "common/proto.h"

#include <stdio.h>
#include <stdlib.h>

static const struct cli_opt opts[] = {
    CLI_OPT_PORT,
    CLI_OPTS_COORD,
    {"json", CLI_KEY_JSON, NULL,
     "print {\"port\": PORT, \"interval\": SECONDS}, or {\"error\": ...}"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "interval",
    .synopsis = "[-p PORT] [--coord-host HOST] [--token-file FILE] [--json] SECONDS",
    .about = "Checkpoint the computation of the coordinator on PORT every SECONDS seconds from\n"
	     "now on (0: no periodic checkpoints). The interval is kept in the images: a\n"
	     "restart brings it back (unless restart is given -i or $STASIS_INTERVAL).",
    .opts = opts,
    .operands = "SECONDS",
    .min_operands = 1,
    .max_operands = 1,
};

int cmd_interval(int argc, char **argv)
{
	struct cli_args a;
	cli_parse(&a, &cmd, argc, argv);
	uint32_t secs = cli_parse_seconds(argv[a.next], "interval");
	uint16_t port = cli_args_port(&a, 0);
	if (cli_coord_command(port, MSG_CMD_SET_INTERVAL, &secs, sizeof(secs), MSG_OK, NULL) < 0)
		return 1;
	if (a.json)
		printf("{\"port\": %u, \"interval\": %u}\n", port, secs);
	else if (secs)
		printf("the coordinator on port %u checkpoints every %u s\n", port, secs);
	else
		printf("the coordinator on port %u no longer checkpoints periodically\n", port);
	return 0;
}
