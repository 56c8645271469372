/* The option parser of every command (opts.h). */
#include "cli/opts.h"
#include "cli/cli.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HELP_KEY 'h'
#define WIDTH 79 /* of --help's lines */

static const struct cli_opt help_opt = {"help", HELP_KEY, NULL, "show this help"};
static int usage_json; /* the command was given --json: usage errors are JSON */

static void add_opt(struct cli_args *a, int k, const struct cli_opt *o, char **s)
{
	a->longopts[k] =
	    (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->key};
	if (o->key < 256) {
		*(*s)++ = (char)o->key;
		if (o->arg)
			*(*s)++ = ':';
	}
}

static const struct cli_opt *find_opt(const struct cli_command *cmd, int key)
{
	for (const struct cli_opt *o = cmd->opts; o->name; o++)
		if (o->key == key)
			return o;
	return NULL;
}

void cli_args_start(struct cli_args *a, const struct cli_command *cmd, int argc, char **argv)
{
	char *s;
	int k = 0;
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	a->argc = argc;
	a->argv = argv;
	s = a->shortopts;
	if (cmd->operands_end_options)
		*s++ = '+';
	*s++ = ':'; /* a missing value is told from an unknown option */
	for (; cmd->opts[k].name && k < CLI_MAX_OPTS; k++)
		add_opt(a, k, &cmd->opts[k], &s);
	add_opt(a, k, &help_opt, &s);
	*s = 0;
	optind = 0; /* glibc: start over, reading the optstring's '+' again */
	opterr = 0;
	usage_json = 0;
	for (int i = 1; find_opt(cmd, CLI_KEY_JSON) && i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json")) /* before any error the options may have */
			log_set_json(a->json = usage_json = 1);
}

static void check_operands(const struct cli_args *a, int first)
{
	const struct cli_command *cmd = a->cmd;
	int n = a->argc - first;
	if (n < cmd->min_operands)
		cli_usage_error(cmd, "missing %s", cmd->operands);
	if (cmd->max_operands >= 0 && n > cmd->max_operands)
		cli_usage_error(cmd, "unexpected argument '%s'",
				a->argv[first + cmd->max_operands]);
}

int cli_next(struct cli_args *a, const char **arg)
{
	int key;
	while ((key = getopt_long(a->argc, a->argv, a->shortopts, a->longopts, NULL)) ==
		   CLI_KEY_COORD_HOST ||
	       key == CLI_KEY_TOKEN_FILE || key == CLI_KEY_JSON || key == 'p') {
		if (key == 'p')
			a->port_s = optarg;
		else if (key == CLI_KEY_JSON)
			log_set_json(a->json = usage_json = 1);
		else
			cli_coord_opt(key == CLI_KEY_COORD_HOST ? "--coord-host" : "--token-file",
				      optarg);
	}
	const char *bad = a->argv[optind - 1];
	*arg = optarg;
	if (key == -1) {
		check_operands(a, optind);
		a->next = optind;
		return 0;
	}
	if (key == HELP_KEY) {
		cli_usage(a->cmd, stdout);
		exit(0);
	}
	if (key == ':') {
		const struct cli_opt *o = find_opt(a->cmd, optopt);
		cli_usage_error(a->cmd, "option '%s' needs a value (%s)", bad,
				o && o->arg ? o->arg : "an argument");
	}
	if (key == '?' && !strncmp(bad, "--", 2) &&
	    (optopt == HELP_KEY || find_opt(a->cmd, optopt)))
		cli_usage_error(a->cmd, "option '%.*s' takes no value", (int)strcspn(bad, "="),
				bad);
	if (key == '?' && optopt && optopt < 256)
		cli_usage_error(a->cmd, "unknown option '-%c'", optopt);
	if (key == '?')
		cli_usage_error(a->cmd, "unknown option '%s'", bad);
	return key;
}

void cli_parse(struct cli_args *a, const struct cli_command *cmd, int argc, char **argv)
{
	const char *arg;
	cli_args_start(a, cmd, argc, argv);
	while (cli_next(a, &arg))
		;
}

uint16_t cli_args_port(const struct cli_args *a, int any)
{
	return any && a->port_s ? cli_parse_port_or_any(a->port_s) : cli_parse_port(a->port_s);
}

/* "  -p, --port PORT" or "      --kill" */
static int opt_head(const struct cli_opt *o, char *buf, size_t size)
{
	int letter = o->key < 256;
	return snprintf(buf, size, "  %c%c%c --%s%s%s", letter ? '-' : ' ', letter ? o->key : ' ',
			letter ? ',' : ' ', o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* The head, then the help from column `col`, its words wrapped at WIDTH. */
static void print_opt(const struct cli_opt *o, int col, FILE *f)
{
	char head[128];
	int at = opt_head(o, head, sizeof(head));
	fprintf(f, "%s%*s", head, col - at, "");
	at = col;
	for (const char *w = o->help; *w;) {
		int len = (int)strcspn(w, " ");
		if (at > col && at + 1 + len > WIDTH) {
			fprintf(f, "\n%*s", col, "");
			at = col;
		}
		fprintf(f, "%s%.*s", at > col ? " " : "", len, w);
		at += (at > col) + len;
		w += len + (w[len] == ' ');
	}
	fputc('\n', f);
}

/* Where the help of cmd's options begins: after the longest head. */
static int help_column(const struct cli_command *cmd)
{
	char head[128];
	int col = opt_head(&help_opt, head, sizeof(head));
	for (const struct cli_opt *o = cmd->opts; o->name; o++)
		if (opt_head(o, head, sizeof(head)) > col)
			col = opt_head(o, head, sizeof(head));
	return col + 2;
}

void cli_usage(const struct cli_command *cmd, FILE *f)
{
	int col = help_column(cmd);
	fprintf(f, "usage: stasis %s%s%s\n\n%s\n\n", cmd->name, cmd->synopsis[0] ? " " : "",
		cmd->synopsis, cmd->about);
	for (const struct cli_opt *o = cmd->opts; o->name; o++)
		print_opt(o, col, f);
	print_opt(&help_opt, col, f);
}

void cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	char msg[512];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (usage_json) {
		log_msg("error", "stasis %s: %s (see 'stasis %s --help')", cmd->name, msg,
			cmd->name);
		exit(2);
	}
	fprintf(stderr, "stasis %s: %s\n", cmd->name, msg);
	cli_usage(cmd, stderr);
	exit(2);
}
