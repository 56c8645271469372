/* api_crit: stasis.h's critical sections, generation, checkpoint directory
 * and restart count. argv[1]: a directory of files the test creates.
 *
 * Prints "ready gen G restarts R dir D", opens a critical section and prints
 * "in section"; while in it, a checkpoint must not happen (the generation stays
 * G); it leaves once DIR/leave exists, prints "left section", then waits for
 * the checkpoint the test asked for (generation G + 1) and prints "after gen
 * G+1". Each time it comes back from a restart it prints "restarted R gen G
 * dir D"; once DIR/verify exists it prints PASS and exits 0. Outside Stasis
 * ("direct" as argv[2]) every call says so and it prints PASS.
 *
 * "fork" as argv[2]: a second thread opens a section, the main thread forks
 * meanwhile, then the section closes; the child has no section open (a
 * checkpoint of both goes through). Prints "forked ready", then PASS once
 * DIR/verify exists (the child exits with it). */
#include <stasis/stasis.h>

#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
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

static int to_main[2], to_thread[2];

static void *open_section(void *arg)
{
	char c = 0;
	(void)arg;
	stasis_disable_checkpoint();
	if (write(to_main[1], &c, 1) != 1 || read(to_thread[0], &c, 1) != 1)
		return "pipe";
	stasis_enable_checkpoint();
	return NULL;
}

static int forked(void)
{
	pthread_t t;
	char c = 0;
	void *err;
	if (pipe(to_main) || pipe(to_thread) || pthread_create(&t, NULL, open_section, NULL) ||
	    read(to_main[0], &c, 1) != 1) {
		printf("FAIL: setup\n");
		return 1;
	}
	pid_t pid = fork(); /* while the other thread is in its section */
	if (pid == 0) {
		while (!exists("verify"))
			usleep(1000);
		_exit(0);
	}
	if (pid < 0 || write(to_thread[1], &c, 1) != 1 || pthread_join(t, &err) || err) {
		printf("FAIL: fork or thread\n");
		return 1;
	}
	printf("forked ready\n");
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	printf(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "PASS\n" : "FAIL: child %#x\n", st);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : ".");
	if (argc > 2 && !strcmp(argv[2], "direct"))
		return outside();
	if (argc > 2 && !strcmp(argv[2], "fork"))
		return forked();
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
