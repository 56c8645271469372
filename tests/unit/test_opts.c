/* Unit tests of the option parser every command uses (cli/opts.h): a value
 * given as --opt=VAL, --opt VAL, -oVAL or -o VAL, operands before and after
 * options (or, for a command that runs a program, options only before it),
 * --help generated from the table, exit status 2 with the reason for an
 * unknown option or a missing value, and the coordinator options every client
 * command shares. */
#include "cli/opts.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPT_KILL = 256, OPT_DIR };
static const struct cli_opt opts[] = {
    {"port", 'p', "PORT", "the port"},
    {"kill", OPT_KILL, NULL, "end it"},
    {"dir", OPT_DIR, "DIR",
     "a directory whose help is long enough to be wrapped at the width "
     "of a terminal, with its words kept whole"},
    {NULL},
};
static const struct cli_command cmd = {.name = "test",
				       .synopsis = "[-p PORT] [--kill] [ARG]",
				       .about = "Tests.",
				       .opts = opts,
				       .operands = "ARG",
				       .max_operands = 1};
static const struct cli_command prog_cmd = {.name = "prog",
					    .synopsis = "[-p PORT] PROGRAM",
					    .about = "Runs.",
					    .opts = opts,
					    .operands = "PROGRAM",
					    .min_operands = 1,
					    .max_operands = -1,
					    .operands_end_options = 1};

/* The options of argv as "key=value;" ..., then "|" and the operands. */
static void parse(const struct cli_command *c, char **argv, char *out, size_t size)
{
	int argc = 0;
	const char *arg;
	struct cli_args a;
	while (argv[argc])
		argc++;
	out[0] = 0;
	cli_args_start(&a, c, argc, argv);
	for (int key; (key = cli_next(&a, &arg));)
		snprintf(out + strlen(out), size - strlen(out), "%d=%s;", key, arg ? arg : "");
	if (a.port_s) /* -p: kept, not returned */
		snprintf(out + strlen(out), size - strlen(out), "p=%s;", a.port_s);
	if (a.json)
		snprintf(out + strlen(out), size - strlen(out), "json;");
	snprintf(out + strlen(out), size - strlen(out), "|");
	for (int i = a.next; i < argc; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s ", argv[i]);
}

#define PARSE(c, expect, ...)                                                                      \
	do {                                                                                       \
		char *argv[] = {"test", __VA_ARGS__, NULL};                                        \
		char got[256];                                                                     \
		parse(c, argv, got, sizeof(got));                                                  \
		ck_assert_str_eq(got, expect);                                                     \
	} while (0)

START_TEST(test_value_forms)
{
	PARSE(&cmd, "p=7;|", "--port=7");
	PARSE(&cmd, "p=7;|", "--port", "7");
	PARSE(&cmd, "p=7;|", "-p7");
	PARSE(&cmd, "p=7;|", "-p", "7");
	PARSE(&cmd, "257=/a b;|", "--dir=/a b");
	PARSE(&cmd, "257=/a b;|", "--dir", "/a b");
	PARSE(&cmd, "257=;|", "--dir=");
}
END_TEST

START_TEST(test_operands)
{
	PARSE(&cmd, "256=;p=1;|x ", "--kill", "x", "-p", "1");
	PARSE(&cmd, "256=;|--port=1 ", "--kill", "--", "--port=1");
	/* a program's own options are its own */
	PARSE(&prog_cmd, "p=1;|sh -c --kill ", "-p", "1", "sh", "-c", "--kill");
	PARSE(&prog_cmd, "|sh --kill ", "--", "sh", "--kill");
}
END_TEST

/* What parsing argv does in a child: its exit status (or -1 if it returned)
 * and the first line it wrote on stdout or stderr. */
static int parse_exit(const struct cli_command *c, char **argv, char *line, size_t size)
{
	int fds[2], st;
	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char got[256];
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		parse(c, argv, got, sizeof(got));
		_exit(99);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	if (!fgets(line, size, f))
		line[0] = 0;
	line[strcspn(line, "\n")] = 0;
	fclose(f);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) != 99 ? WEXITSTATUS(st) : -1;
}

static const struct cli_opt json_opts[] = {
    {"port", 'p', "PORT", "the port"}, {"json", CLI_KEY_JSON, NULL, "print JSON"}, {NULL}};
static const struct cli_command json_cmd = {.name = "js",
					    .synopsis = "[--json] ARG",
					    .about = "Tests.",
					    .opts = json_opts,
					    .operands = "ARG",
					    .min_operands = 1,
					    .max_operands = 1};

static const struct {
	const struct cli_command *cmd;
	char *argv[5];
	const char *said;
} bad_usage[] = {
    {&cmd, {"test", "--frob"}, "stasis test: unknown option '--frob'"},
    {&cmd, {"test", "-x"}, "stasis test: unknown option '-x'"},
    {&cmd, {"test", "--kill", "--port"}, "stasis test: option '--port' needs a value (PORT)"},
    {&cmd, {"test", "--kill=yes"}, "stasis test: option '--kill' takes no value"},
    {&prog_cmd, {"prog", "-p", "1"}, "stasis prog: missing PROGRAM"},
    {&cmd, {"test", "a", "b"}, "stasis test: unexpected argument 'b'"},
    /* under --json, wherever it stands: JSON on stdout */
    {&json_cmd,
     {"js", "--frob", "--json"},
     "{\"error\": \"stasis js: unknown option '--frob' (see 'stasis js --help')\"}"},
    {&json_cmd,
     {"js", "--json"},
     "{\"error\": \"stasis js: missing ARG (see 'stasis js --help')\"}"},
    {&json_cmd,
     {"js", "--json", "-p"},
     "{\"error\": \"stasis js: option '-p' needs a value (PORT) (see 'stasis js --help')\"}"},
    {&json_cmd, {"js", "--", "a", "--json"}, "stasis js: unexpected argument '--json'"},
};

/* An unknown option (long, short), a missing value, a value given to a flag,
 * a missing operand, too many operands: each says what it is, then the usage,
 * and exits 2. */
START_TEST(test_bad_usage)
{
	char line[256];
	ck_assert_int_eq(
	    parse_exit(bad_usage[_i].cmd, (char **)bad_usage[_i].argv, line, sizeof(line)), 2);
	ck_assert_str_eq(line, bad_usage[_i].said);
}
END_TEST

START_TEST(test_help)
{
	char *argv[] = {"test", "x", "--help", NULL}, line[256];
	ck_assert_int_eq(parse_exit(&cmd, argv, line, sizeof(line)), 0);
	ck_assert_str_eq(line, "usage: stasis test [-p PORT] [--kill] [ARG]");
}
END_TEST

START_TEST(test_usage_text)
{
	char buf[2048] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	cli_usage(&cmd, f);
	fclose(f);
	ck_assert_str_eq(
	    buf, "usage: stasis test [-p PORT] [--kill] [ARG]\n"
		 "\n"
		 "Tests.\n"
		 "\n"
		 "  -p, --port PORT  the port\n"
		 "      --kill       end it\n"
		 "      --dir DIR    a directory whose help is long enough to be wrapped at the\n"
		 "                   width of a terminal, with its words kept whole\n"
		 "  -h, --help       show this help\n");
}
END_TEST

/* --coord-host and --token-file, which every client command takes, are
 * applied by the parser (they go into the environment), in either form, and
 * never returned to the command. */
static const struct cli_opt coord_opts[] = {
    {"port", 'p', "PORT", "the port"}, CLI_OPTS_COORD, {NULL}};
static const struct cli_command coord_cmd = {
    .name = "coord", .synopsis = "", .about = "Tests.", .opts = coord_opts};

/* -p and --json are kept in the arguments, never returned */
START_TEST(test_port_and_json)
{
	PARSE(&json_cmd, "p=9;json;|x ", "x", "--json", "-p", "9");
	PARSE(&json_cmd, "|--json ", "--", "--json");
}
END_TEST

START_TEST(test_coord_options)
{
	unsetenv("STASIS_COORD_HOST");
	unsetenv("STASIS_TOKEN_FILE");
	PARSE(&coord_cmd, "p=7;|", "--coord-host=h1", "--token-file", "/dev/../dev/null", "-p",
	      "7");
	ck_assert_str_eq(getenv("STASIS_COORD_HOST"), "h1");
	ck_assert_str_eq(getenv("STASIS_TOKEN_FILE"), "/dev/null");
	PARSE(&coord_cmd, "|", "--coord-host", "h2");
	ck_assert_str_eq(getenv("STASIS_COORD_HOST"), "h2");
	unsetenv("STASIS_COORD_HOST");
	unsetenv("STASIS_TOKEN_FILE");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("opts");
	TCase *tc = tcase_create("opts");
	tcase_add_test(tc, test_value_forms);
	tcase_add_test(tc, test_operands);
	tcase_add_loop_test(tc, test_bad_usage, 0, sizeof(bad_usage) / sizeof(bad_usage[0]));
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_usage_text);
	tcase_add_test(tc, test_coord_options);
	tcase_add_test(tc, test_port_and_json);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
