/* One option parser for every command. A command describes itself and its
 * options in one table; getopt_long's arguments and the option lines of its
 * --help both come from it, so that every option is in --help and takes its
 * value as `--opt VAL`, `--opt=VAL`, `-o VAL` or `-oVAL` alike.
 *
 *	const char *arg;
 *	struct cli_args a;
 *	cli_args_start(&a, &checkpoint_cmd, argc, argv);
 *	for (int key; (key = cli_next(&a, &arg));)
 *		switch (key) { case 'p': ...; }
 *	// operands: argv[a.next] .. argv[argc - 1]
 */
#ifndef STASIS_CLI_OPTS_H
#define STASIS_CLI_OPTS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_MAX_OPTS 16

struct cli_opt {
	const char *name; /* the long option, without "--" */
	int key;	  /* a letter is also the short option -LETTER; others >= 256 */
	const char *arg;  /* the value's name in --help (PORT, DIR), NULL: takes none */
	const char *help; /* for --help, which wraps its words */
};

/* -p, --port: the coordinator's. cli_next keeps its value and never returns
 * it: cli_args_port reads it. */
#define CLI_OPT_PORT                                                                               \
	{                                                                                          \
		"port", 'p', "PORT", "the coordinator's port (default $STASIS_PORT, else 7779)"    \
	}

/* --coord-host HOST, --token-file FILE: the coordinator of another host,
 * which every client command takes. cli_next applies them itself
 * (cli_coord_opt: they go into the environment) and never returns them. */
#define CLI_KEY_COORD_HOST 0x1000
#define CLI_KEY_TOKEN_FILE 0x1001
/* --json (each command says what it prints): cli_next sets a.json and turns
 * errors into {"error": ...} on stdout (log_set_json), and never returns it.
 * A usage error (unknown option, missing value or operand, bad number) is
 * JSON too, wherever --json stands on the command line. */
#define CLI_KEY_JSON 0x1002
#define CLI_OPTS_COORD                                                                             \
	{"coord-host", CLI_KEY_COORD_HOST, "HOST",                                                 \
	 "the coordinator's host (default $STASIS_COORD_HOST, else 127.0.0.1)"},                   \
	{                                                                                          \
		"token-file", CLI_KEY_TOKEN_FILE, "FILE",                                          \
		    "a copy of its token file (default $STASIS_TOKEN_FILE, else <run "             \
		    "dir>/coord-PORT.token)"                                                       \
	}

struct cli_command {
	const char *name;	    /* "checkpoint": --help says "usage: stasis checkpoint ..." */
	const char *synopsis;	    /* what follows the name on the usage line */
	const char *about;	    /* the paragraph between the usage line and the options */
	const struct cli_opt *opts; /* ends with {NULL}; -h, --help is every command's */
	const char *operands;	    /* what they are, for "missing PROGRAM" */
	int min_operands;
	int max_operands;	  /* -1: any number */
	int operands_end_options; /* options stop at the first operand (PROGRAM ARGS...) */
};

struct cli_args {
	const struct cli_command *cmd;
	int argc;
	char **argv;
	int next;	    /* once cli_next returned 0: the index of the first operand */
	const char *port_s; /* -p's value, NULL if not given */
	int json;	    /* --json was given */
	struct option longopts[CLI_MAX_OPTS + 2];
	char shortopts[3 * CLI_MAX_OPTS + 4];
};

void cli_args_start(struct cli_args *a, const struct cli_command *cmd, int argc, char **argv);
/* The key of the next option, its value in *arg (NULL if it takes none); 0 at
 * the end of the options. --help prints the usage on stdout and exits 0; an
 * unknown option, one without its value, or too few or too many operands say
 * so with the usage on stderr and exit 2. */
int cli_next(struct cli_args *a, const char **arg);
/* cli_args_start and cli_next to the end, for a command whose only options
 * are those cli_next handles itself (-p, --json, CLI_OPTS_COORD). */
void cli_parse(struct cli_args *a, const struct cli_command *cmd, int argc, char **argv);
/* The port -p gave (exits 2 on a bad one), else the default ($STASIS_PORT,
 * else 7779); with any, "0" is 0: a coordinator on a free port. */
uint16_t cli_args_port(const struct cli_args *a, int any);
/* The usage: the usage line, the paragraph, a line per option. */
void cli_usage(const struct cli_command *cmd, FILE *f);
/* "stasis NAME: MESSAGE" and the usage on stderr; exits 2. Under --json:
 * {"error": "stasis NAME: MESSAGE (see 'stasis NAME --help')"} on stdout. */
__attribute__((noreturn, format(printf, 2, 3))) void cli_usage_error(const struct cli_command *cmd,
								     const char *fmt, ...);

#endif
