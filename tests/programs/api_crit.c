/* api_crit: stasis.h's critical sections, generation, checkpoint directory
 * and restart count. argv[1]: a directory of files the test creates.
 *
 * Prints "ready gen G restarts R dir D", opens a critical section and prints
 * "in section"; while in it, a checkpoint must not happen (the generation stays
 * G); it leaves once DIR/leave exists, prints "left section", then waits for
 * the checkpoint the test asked for (generation G + 1) and prints "after gen
 * G+1". Each time it comes back from a restart it prints "restarted R gen G
 * dir D"; once DIR/verify exists it prints PASS and exits 0. Outside Stasis
 * ("direct" as argv[2]) every call says so and it prints PASS. */
#include <stasis/stasis.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[4096];

static int exists(const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int outside(void)
{
	const char *d = stasis_checkpoint_dir();
	if (stasis_disable_checkpoint() != 0 || stasis_enable_checkpoint() != 0 ||
	    stasis_generation() != 0 || stasis_restart_count() != 0 || d) {
		printf("FAIL: the API answered outside Stasis\n");
		return 1;
	}
	printf("PASS\n");
	return 0;
}

static int section(unsigned gen)
{
	if (stasis_disable_checkpoint() != 1 || stasis_disable_checkpoint() != 1) {
		printf("FAIL: stasis_disable_checkpoint\n");
		return -1;
	}
	printf("in section\n");
	while (!exists("leave"))
		if (stasis_generation() != gen) {
			printf("FAIL: checkpointed in a critical section (generation %u)\n",
			       stasis_generation());
			return -1;
		} else
			usleep(1000);
	if (stasis_enable_checkpoint() != 1 || stasis_enable_checkpoint() != 1 ||
	    stasis_enable_checkpoint() != -1) {
		printf("FAIL: stasis_enable_checkpoint\n");
		return -1;
	}
	printf("left section\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : ".");
	if (argc > 2 && !strcmp(argv[2], "direct"))
		return outside();
	unsigned gen = stasis_generation(), restarts = stasis_restart_count();
	const char *d = stasis_checkpoint_dir();
	printf("ready gen %u restarts %u dir %s\n", gen, restarts, d ? d : "(none)");
	if (section(gen) < 0)
		return 1;
	while (stasis_generation() == gen)
		usleep(1000);
	printf("after gen %u\n", stasis_generation());
	while (!exists("verify")) {
		if (stasis_restart_count() != restarts) {
			restarts = stasis_restart_count();
			d = stasis_checkpoint_dir();
			printf("restarted %u gen %u dir %s\n", restarts, stasis_generation(),
			       d ? d : "(none)");
		}
		usleep(1000);
	}
	printf("PASS\n");
	return 0;
}
