/* echo_lines: prints "ready", then for every line read on stdin prints
 * "got N: LINE" (N counts lines across checkpoints and restarts); at end of
 * input prints "eof after N" and exits 0. */
#include <stdio.h>

int main(void)
{
	char line[512];
	int n = 0;
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		printf("got %d: %s", ++n, line);
		fflush(stdout);
	}
	printf("eof after %d\n", n);
	return 0;
}
