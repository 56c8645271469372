/* stasis check: what this kernel and machine allow, and what a missing
 * feature costs (criu check). */
#include "cli/check.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

static const struct cli_opt opts[] = {
    {"json", CLI_KEY_JSON, NULL,
     "print {\"ok\": BOOL, \"checks\": [{name, ok, needed, detail, cost}]}"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "check",
    .synopsis = "[--json]",
    .about = "Tries each kernel feature Stasis uses and prints one line for each: ok or\n"
	     "missing, what was found, and what a missing one costs. Exits 0 when every\n"
	     "feature Stasis needs is there (user namespaces, clone3 with set_tid in them,\n"
	     "PAGEMAP_SCAN), 1 otherwise.",
    .opts = opts,
};

static struct check checks[] = {
    {"user namespaces", 1,
     "restart is impossible: it gives processes their PIDs in a new "
     "user and PID namespace",
     probe_userns},
    {"clone3 set_tid", 1, "restart is impossible: processes cannot get their PIDs back",
     probe_set_tid},
    {"PAGEMAP_SCAN", 1,
     "checkpoints are impossible: the runtime finds the pages to store "
     "with it",
     probe_pagemap_scan},
    {"userfaultfd write-protect", 0,
     "no incremental checkpoints (--incremental): every "
     "image is full",
     probe_uffd_wp},
    {"POSIX timer IDs", 0, "timers (timer_create) are lost at restart, with a warning",
     probe_timer_ids},
    {"vDSO layout", 0, "programs cannot be restarted (the vDSO is moved to where it was)",
     probe_vdso},
    {"devpts", 0,
     "no pty of its own for a program launched on a terminal (launch "
     "--no-tty), and a computation with a terminal cannot be restarted",
     probe_devpts},
    {"ptrace scope", 0, "gdb -p on a restored process (restart --debug-pause) needs root",
     probe_ptrace},
    {"MADV_COLLAPSE", 0,
     "memory is not gathered into huge pages ahead of a checkpoint: a "
     "longer pause for programs with much memory",
     probe_collapse},
};
#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

static void print_json(int all)
{
	printf("{\"ok\": %s, \"checks\": [", all ? "true" : "false");
	for (size_t i = 0; i < NCHECKS; i++) {
		const struct check *c = &checks[i];
		printf("%s{\"name\": ", i ? ", " : "");
		cli_json_string(c->name);
		printf(", \"ok\": %s, \"needed\": %s, \"detail\": ", c->ok ? "true" : "false",
		       c->needed ? "true" : "false");
		cli_json_string(c->detail);
		printf(", \"cost\": ");
		if (c->ok)
			printf("null");
		else
			cli_json_string(c->cost);
		putchar('}');
	}
	printf("]}\n");
}

static void print_text(int all)
{
	for (size_t i = 0; i < NCHECKS; i++) {
		const struct check *c = &checks[i];
		printf("%-8s %-26s %s\n", c->ok ? "ok" : "missing", c->name, c->detail);
		if (!c->ok)
			printf("%-8s %-26s %s: %s\n", "", "", c->needed ? "needed" : "costs",
			       c->cost);
	}
	printf("%s\n", all ? "Stasis can checkpoint and restart here."
			   : "Stasis cannot work here: a feature it needs is missing.");
}

int cmd_check(int argc, char **argv)
{
	int all = 1;
	struct cli_args a;
	cli_parse(&a, &cmd, argc, argv);
	for (size_t i = 0; i < NCHECKS; i++) {
		checks[i].probe(&checks[i]);
		all &= checks[i].ok || !checks[i].needed;
	}
	if (a.json)
		print_json(all);
	else
		print_text(all);
	return all ? 0 : 1;
}
