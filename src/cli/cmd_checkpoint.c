/* stasis checkpoint: checkpoint the computation and print its image paths. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"
#include "common/proto.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_KILL = 256, OPT_NO_COMPRESS, OPT_INCREMENTAL, OPT_CKPT_DIR };
static const struct cli_opt opts[] = {
    CLI_OPT_PORT,
    CLI_OPTS_COORD,
    {"kill", OPT_KILL, NULL, "end the computation once its images are safely written"},
    {"no-compress", OPT_NO_COMPRESS, NULL, "store memory uncompressed (larger, faster to restart)"},
    {"incremental", OPT_INCREMENTAL, NULL,
     "store only the pages written since each process's previous image, which the new one "
     "builds on (the first is full)"},
    {"ckpt-dir", OPT_CKPT_DIR, "DIR",
     "write the images and the restart script in DIR (an existing directory), and those of "
     "every checkpoint after this one (as DMTCP's ckptdir); the images of earlier checkpoints "
     "stay where they are"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "checkpoint",
    .synopsis = "[-p PORT] [--coord-host HOST] [--token-file FILE] [--kill] [--no-compress]\n"
		"                         [--incremental] [--ckpt-dir DIR]",
    .about = "Checkpoint every process registered with the coordinator on PORT; print the\n"
	     "image files written, one per line. A restart script is written next to them.",
    .opts = opts,
};

static int print_result(const char *reply, long n)
{
	struct proto_ckpt_result r;
	if ((size_t)n < sizeof(r))
		return error("malformed checkpoint result from the coordinator");
	memcpy(&r, reply, sizeof(r));
	const char *text = reply + sizeof(r);
	if (r.status == 0) {
		fputs(text, stdout);
		return 0;
	}
	size_t len = strlen(text);
	while (len && text[len - 1] == '\n')
		len--;
	if (r.gen) /* the list of errors may be long: not through error()'s buffer */
		fprintf(stderr, "stasis: error: checkpoint generation %u failed:\n%.*s\n", r.gen,
			(int)len, text);
	else
		error("checkpoint not taken: %.*s", (int)len, text);
	return -1;
}

int cmd_checkpoint(int argc, char **argv)
{
	struct {
		struct proto_cmd_checkpoint cmd;
		char dir[PATH_MAX];
	} req = {0};
	const char *arg;
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));) {
		if (key == OPT_KILL)
			req.cmd.flags |= CKPT_KILL;
		else if (key == OPT_NO_COMPRESS)
			req.cmd.flags |= CKPT_NO_COMPRESS;
		else if (key == OPT_INCREMENTAL)
			req.cmd.flags |= CKPT_INCREMENTAL;
		else if (key == OPT_CKPT_DIR && cli_absolute(arg, req.dir, sizeof(req.dir)) < 0)
			return 1;
	}
	char *reply;
	long n = cli_coord_command(cli_args_port(&a, 0), MSG_CMD_CHECKPOINT, &req,
				   sizeof(req.cmd) + strlen(req.dir), MSG_CKPT_RESULT, &reply);
	if (n < 0)
		return 1;
	int rc = print_result(reply, n);
	free(reply);
	return rc < 0 ? 1 : 0;
}
