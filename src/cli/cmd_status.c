/* stasis status: show the coordinator, its computation and its processes. */
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
     "print one JSON object: port, pid, comp_id, gen, state, interval, timeout, ckpt_dir, log, "
     "checkpoint (in progress), last_ok, last_error, nprocs, procs [{pid, name, restored}]; an "
     "error as {\"error\": ...}"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "status",
    .synopsis = "[-p PORT] [--coord-host HOST] [--token-file FILE] [--json]",
    .about = "Show the coordinator on PORT, its computation, and its processes.",
    .opts = opts,
};

int cmd_status(int argc, char **argv)
{
	struct cli_args a;
	cli_parse(&a, &cmd, argc, argv);
	uint32_t json = (uint32_t)a.json;
	char *reply;
	long n = cli_coord_command(cli_args_port(&a, 0), MSG_CMD_STATUS, &json, sizeof(json),
				   MSG_STATUS_REPLY, &reply);
	if (n < 0)
		return 1;
	fwrite(reply, 1, n, stdout);
	if (n == 0 || reply[n - 1] != '\n')
		putchar('\n');
	free(reply);
	return 0;
}
