/* stasis nocheckpoint: run a program outside the computation, from inside it
 * (DMTCP's dmtcp_nocheckpoint). The program gets the environment without the
 * runtime in LD_PRELOAD and without any STASIS_* variable, so neither it nor
 * what it starts joins the coordinator; a checkpoint leaves it out (it is not
 * in the images, it runs on after `stasis kill` and is not there after a
 * restart). The stasis command itself never joins a computation (cli/main.c). */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const struct cli_opt opts[] = {{NULL}};
static const struct cli_command cmd = {
    .name = "nocheckpoint",
    .synopsis = "PROGRAM [ARGS...]",
    .about = "Runs PROGRAM outside the computation, from a program inside it: without the\n"
	     "Stasis runtime in LD_PRELOAD (the program's own entries stay) and without the\n"
	     "STASIS_* variables, so that PROGRAM and its children are not checkpointed,\n"
	     "not ended by `stasis kill`, and not restarted. Its parent's checkpoints go on\n"
	     "without it.",
    .opts = opts,
    .operands = "PROGRAM",
    .min_operands = 1,
    .max_operands = -1,
    .operands_end_options = 1,
};

int cli_drop_runtime_preload(void)
{
	const char *v = getenv("LD_PRELOAD");
	int dropped = 0;
	if (!v)
		return 0;
	char *out = malloc(strlen(v) + 1), *o = out;
	if (!out)
		die("out of memory");
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, ": ");
		if (n && !memmem(p, n, "libstasis.so", 12)) {
			if (o != out)
				*o++ = ':';
			memcpy(o, p, n);
			o += n;
		} else if (n) {
			dropped = 1;
		}
		p += n + (p[n] != 0);
	}
	*o = 0;
	if (*out)
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
	free(out);
	return dropped;
}

void cli_env_without_stasis(void)
{
	cli_drop_runtime_preload();
	for (int again = 1; again;) {
		again = 0;
		for (char **e = environ; e && *e; e++) {
			if (strncmp(*e, "STASIS_", 7))
				continue;
			char name[256];
			size_t n = strcspn(*e, "=");
			snprintf(name, sizeof(name), "%.*s", (int)n, *e);
			unsetenv(name); /* environ changed: look again from the start */
			again = 1;
			break;
		}
	}
}

int cmd_nocheckpoint(int argc, char **argv)
{
	const char *arg;
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	while (cli_next(&a, &arg))
		;
	int first = a.next;
	cli_env_without_stasis();
	execvp(argv[first], argv + first);
	error("nocheckpoint: cannot run %s: %s", argv[first], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
