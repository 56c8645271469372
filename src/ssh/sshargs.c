/* ssh's command line (OpenSSH's options, as ssh(1) lists them): where HOST
 * and COMMAND are, and whether the relay can stand in for the session. */
#include "ssh/ssh.h"

#include <stdlib.h>
#include <string.h>

/* Options that take a value (in the same word or the next one). */
static const char with_value[] = "BbcDEeFIiJLlmOoPpQRSWw";
/* Options the relay cannot stand in for: no command (-N), background (-f),
 * a terminal (-t), forwardings and multiplexing control. */
static const char refused[] = "NftDLRWOG";

static const char *refusal(char opt)
{
	switch (opt) {
	case 'N':
		return "-N runs no command";
	case 'f':
		return "-f goes to the background";
	case 't':
		return "-t asks for a terminal";
	case 'G':
		return "-G prints the configuration";
	case 'O':
		return "-O controls a master connection";
	default:
		return "it forwards ports or stdio (-D, -L, -R, -W)";
	}
}

int ssh_parse_args(int argc, char *const *argv, struct ssh_args *a)
{
	int i = 1;
	*a = (struct ssh_args){.dest = -1, .cmd = argc};
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		for (const char *p = argv[i] + 1; *p; p++) {
			if (strchr(refused, *p))
				return a->why = refusal(*p), -1;
			if (*p == 'n')
				a->no_stdin = 1;
			if (!strchr(with_value, *p))
				continue;
			if (!p[1] && ++i >= argc)
				return a->why = "an option lacks its value", -1;
			break; /* the rest of the word, or the next word, is the value */
		}
	}
	if (i >= argc)
		return a->why = "no host", -1;
	a->dest = i;
	a->cmd = i + 1;
	if (a->cmd >= argc)
		return a->why = "no command (an interactive session)", -1;
	return 0;
}

char *ssh_join_command(int argc, char *const *argv, int first)
{
	size_t n = 1;
	for (int i = first; i < argc; i++)
		n += strlen(argv[i]) + 1;
	char *s = malloc(n), *o = s;
	if (!s)
		return NULL;
	for (int i = first; i < argc; i++) {
		size_t k = strlen(argv[i]);
		if (i > first)
			*o++ = ' ';
		memcpy(o, argv[i], k);
		o += k;
	}
	*o = 0;
	return s;
}
