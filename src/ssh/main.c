/* stasis-ssh: see ssh.h. Not meant to be run by hand: the runtime runs it in
 * place of ssh, and it runs itself on the other host. */
#include "ssh/ssh.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: stasis-ssh --ssh FILE SSH-ARGV...   (in place of ssh, from a computation)\n"
    "       stasis-ssh --bootstrap               (run by sshd for the former)\n"
    "       stasis-ssh --serve                   (the relay on the other host)\n"
    "\n"
    "A command that a program of a computation runs with 'ssh HOST COMMAND' joins\n"
    "the computation on HOST; see docs/distributed.md.\n";

int main(int argc, char **argv)
{
	log_set_prefix("stasis-ssh");
	if (argc >= 4 && !strcmp(argv[1], "--ssh"))
		return ssh_local(argv[2], argc - 3, argv + 3);
	if (argc == 2 && !strcmp(argv[1], "--bootstrap"))
		return ssh_bootstrap();
	if (argc == 2 && !strcmp(argv[1], "--serve"))
		return ssh_serve();
	fputs(usage, argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
	return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
}
