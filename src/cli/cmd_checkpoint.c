/* stasis checkpoint: checkpoint the computation and print its image paths. */
#include "cli/cli.h"
#include "common/log.h"
#include "common/proto.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: stasis checkpoint [-p PORT] [--coord-host HOST] [--token-file FILE] [--kill] "
    "[--no-compress] [--incremental]\n"
    "                         [--ckpt-dir DIR]\n"
    "\n"
    "Checkpoint every process registered with the coordinator on PORT; print the\n"
    "image files written, one per line. A restart script is written next to them.\n"
    "\n"
    "  -p, --port PORT  the coordinator's port (default $STASIS_PORT, else 7779)\n" CLI_COORD_USAGE
    "      --kill       end the computation once its images are safely written\n"
    "      --no-compress  store memory uncompressed (larger, faster to restart)\n"
    "      --incremental  store only the pages written since each process's previous\n"
    "                   image, which the new one builds on (the first is full)\n"
    "      --ckpt-dir DIR  write the images and the restart script in DIR (an existing\n"
    "                   directory), and every checkpoint after this one (as DMTCP's ckptdir);\n"
    "                   the images of earlier checkpoints stay where they are\n"
    "  -h, --help       show this help\n";

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
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"kill", no_argument, NULL, 'k'},
	    {"no-compress", no_argument, NULL, 'n'},
	    {"incremental", no_argument, NULL, 'I'},
	    {"ckpt-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_COORD_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct {
		struct proto_cmd_checkpoint cmd;
		char dir[PATH_MAX];
	} arg = {0};
	struct proto_cmd_checkpoint *cmd = &arg.cmd;
	uint16_t port = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = cli_parse_port(optarg);
			break;
		case 'k':
			cmd->flags |= CKPT_KILL;
			break;
		case 'n':
			cmd->flags |= CKPT_NO_COMPRESS;
			break;
		case 'I':
			cmd->flags |= CKPT_INCREMENTAL;
			break;
		case 'd':
			if (cli_absolute(optarg, arg.dir, sizeof(arg.dir)) < 0)
				return 1;
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
	long n = cli_coord_command(port ? port : cli_parse_port(NULL), MSG_CMD_CHECKPOINT, &arg,
				   sizeof(arg.cmd) + strlen(arg.dir), MSG_CKPT_RESULT, &reply);
	if (n < 0)
		return 1;
	int rc = print_result(reply, n);
	free(reply);
	return rc < 0 ? 1 : 0;
}
