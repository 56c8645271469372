/* lifecycle: a process tree that keeps state the lifecycle tests can check.
 * The parent forks NCHILD children; every process fills MIB MiB with data
 * that does not compress (a pattern of its index) and keeps a counter. The
 * parent prints "tick N" every 50 ms, so a test sees whether it runs on.
 * At verify each child checks its memory and exits 0 (or 1); the parent
 * checks its own, waits for every child, and passes if all did. A child also
 * ends (with exit(), after checking its memory) as soon as VERIFY_FILE.exit
 * exists.
 *
 *   lifecycle VERIFY_FILE [NCHILD [MIB]]
 */
#include "zdtm.h"

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static uint64_t *mem;
static size_t words;

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;
	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

static void fill(uint64_t seed)
{
	for (size_t i = 0; i < words; i++)
		mem[i] = word(seed, i);
}

static int check(uint64_t seed)
{
	for (size_t i = 0; i < words; i++)
		if (mem[i] != word(seed, i))
			return -1;
	return 0;
}

static unsigned long ticks;

static void tick(void)
{
	char line[64];
	if (++ticks % 3)
		return;
	snprintf(line, sizeof(line), "tick %lu", ticks / 3);
	zd_say(line);
}

static char exit_path[4096];

static int child(int idx, int ready)
{
	fill(idx + 1);
	if (write(ready, "c", 1) != 1)
		return 2;
	close(ready);
	while (access(zd_verify_path, F_OK) < 0 && access(exit_path, F_OK) < 0)
		zd_sleep_ms(5);
	return check(idx + 1) ? 1 : 0;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	int n = argc > 2 ? atoi(argv[2]) : 0;
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 4;
	int pipefd[2];
	pid_t kids[64];
	words = mib << 17;
	snprintf(exit_path, sizeof(exit_path), "%s.exit", argv[1]);
	mem = mmap(NULL, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || n < 0 || n > 64 || pipe(pipefd) < 0) {
		perror("lifecycle");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			close(pipefd[0]);
			exit(child(i, pipefd[1]));
		}
	}
	close(pipefd[1]);
	for (int i = 0; i < n; i++) {
		char c;
		if (read(pipefd[0], &c, 1) != 1) {
			zd_fail("child %d did not start", i);
			return zd_finish();
		}
	}
	close(pipefd[0]);
	fill(0);
	zd_ready();
	zd_wait_tick(tick);
	zd_check(check(0) == 0, "the parent's memory changed");
	for (int i = 0; i < n; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) != kids[i])
			zd_fail("waitpid(%d): %s", (int)kids[i], strerror(errno));
		else
			zd_check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				 "child %d (pid %d) ended with status %#x", i, (int)kids[i], st);
	}
	return zd_finish();
}
