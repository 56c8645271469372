/* echo_lines: prints "ready", then for every line read on stdin prints
 * "got N: LINE" (N counts lines across checkpoints and restarts); at end of
 * input prints "eof after N" and exits 0. The line "exec" makes it exec itself
 * (as "echo_lines N"), which prints "ready" again and counts on from N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[512];
	int n = argc > 1 ? atoi(argv[1]) : 0;
	setvbuf(stdin, NULL, _IONBF, 0); /* an exec'd image reads on where this one stopped */
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		printf("got %d: %s", ++n, line);
		fflush(stdout);
		if (!strcmp(line, "exec\n")) {
			char count[16], exe[4096];
			ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
			exe[len > 0 ? len : 0] = 0;
			snprintf(count, sizeof(count), "%d", n);
			execl(exe, argv[0], count, (char *)NULL);
			printf("exec failed\n");
			return 1;
		}
	}
	printf("eof after %d\n", n);
	return 0;
}
