/* stasis nocheckpoint: run a program outside the computation, from inside it
 * (DMTCP's dmtcp_nocheckpoint). The program gets the environment without the
 * runtime in LD_PRELOAD and without any STASIS_* variable, so neither it nor
 * what it starts joins the coordinator; a checkpoint leaves it out (it is not
 * in the images, it runs on after `stasis kill` and is not there after a
 * restart). The stasis command itself never joins a computation (the runtime
 * sees stasis_cli_marker, see runtime/ckpt.c). */
#include "cli/cli.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char usage_text[] =
    "usage: stasis nocheckpoint PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM outside the computation, from a program inside it: without the\n"
    "Stasis runtime in LD_PRELOAD (the program's own entries stay) and without the\n"
    "STASIS_* variables, so that PROGRAM and its children are not checkpointed,\n"
    "not ended by `stasis kill`, and not restarted. Its parent's checkpoints go on\n"
    "without it.\n"
    "\n"
    "  -h, --help  show this help\n";

/* LD_PRELOAD without the runtime's entries (separated by ':' or ' '). */
static void drop_runtime_preload(void)
{
	const char *v = getenv("LD_PRELOAD");
	if (!v)
		return;
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
		}
		p += n + (p[n] != 0);
	}
	*o = 0;
	if (*out)
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
	free(out);
}

void cli_env_without_stasis(void)
{
	drop_runtime_preload();
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
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	int first = !strcmp(argv[1], "--") ? 2 : 1;
	if (first >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	cli_env_without_stasis();
	execvp(argv[first], argv + first);
	error("nocheckpoint: cannot run %s: %s", argv[first], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
