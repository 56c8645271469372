/* stasis: transparent checkpoint/restart. Dispatches subcommands from one table. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/proto.h"
#include "image/format.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

#ifndef STASIS_VERSION
#define STASIS_VERSION "unknown"
#endif

static int cmd_version(int argc, char **argv)
{
	static const struct cli_opt opts[] = {{NULL}};
	static const struct cli_command cmd = {
	    .name = "version",
	    .synopsis = "(or stasis --version)",
	    .about = "Prints the version of stasis, the image format version it writes and the\n"
		     "range it reads, and the version of the coordinator protocol.",
	    .opts = opts,
	};
	const char *arg;
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	while (cli_next(&a, &arg))
		;
	printf("stasis %s (image format %u, reads %u to %u; protocol %u)\n", STASIS_VERSION,
	       IMG_VERSION, IMG_VERSION_MIN, IMG_VERSION, PROTO_VERSION);
	return 0;
}

static const struct command commands[] = {
    {"launch", cmd_launch, "run a program under checkpoint control"},
    {"checkpoint", cmd_checkpoint, "checkpoint the running computation"},
    {"restart", cmd_restart, "restart a computation from its images"},
    {"status", cmd_status, "show the coordinator and its processes"},
    {"kill", cmd_kill, "end the computation"},
    {"interval", cmd_interval, "change the periodic checkpoint interval"},
    {"coordinator", cmd_coordinator, "run a coordinator"},
    {"inspect", cmd_inspect, "print and verify an image file, or show a whole checkpoint"},
    {"merge", cmd_merge, "merge an incremental image and its chain into one image"},
    {"check", cmd_check, "check what this kernel and machine allow"},
    {"nocheckpoint", cmd_nocheckpoint, "run a program outside the computation, from inside it"},
    {"version", cmd_version, "print the version of stasis and of its formats"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: stasis COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'stasis COMMAND --help' describes each command; 'man stasis' all of them.\n");
}

/* The runtime, preloaded into a computation, finds this symbol in a stasis
 * program started inside it (a shell under `stasis launch bash` running
 * `stasis checkpoint`) and stays off (runtime/ckpt.c). */
__attribute__((used, visibility("default"))) const int stasis_cli_marker = 1;

/* Such a program then starts again without the runtime: it is outside the
 * computation as any program is that does not map the runtime (its parent's
 * checkpoints go on without it: runtime/outside.c), and so is all it starts. */
static void start_without_runtime(char **argv)
{
	if (!dlsym(RTLD_DEFAULT, "stasis_rt_enabled") || !cli_drop_runtime_preload())
		return;
	execv("/proc/self/exe", argv);
	warn("cannot start %s again without the Stasis runtime: %s", argv[0], strerror(errno));
}

int main(int argc, char **argv)
{
	log_set_prefix("stasis");
	unsetenv("STASIS_RUNTIME"); /* nor do our children join (launch sets it again) */
	start_without_runtime(argv);
	const char *fault = getenv("STASIS_FAULT");
	char err[256];
	if (fault && !strcmp(fault, "list")) { /* fault injection points (common/fault.h) */
		fault_list(stdout);
		return 0;
	}
	if (fault_check_env(err, sizeof(err)) < 0) {
		error("%s", err);
		return 2;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			cli_job_defaults(argc - 1, argv + 1);
			return commands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "stasis: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
