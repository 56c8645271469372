/* shmhog: memhog's protocol with shared memory, for the pause of a checkpoint
 * whose shared pages are copied while the program is stopped (bench/run.sh,
 * workload "pause_shm").
 *
 *   shmhog SIZE_MIB
 *
 * SIZE_MIB MiB of MAP_SHARED|MAP_ANONYMOUS memory filled with random bytes,
 * shared with a forked child that only sleeps; every 100 ms the parent
 * re-verifies a checksum of the whole region and prints "tick N ok" (or
 * "tick N CORRUPT" and exits 3).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t sum(const uint64_t *p, size_t words)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < words; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoul(argv[1], NULL, 10) : 256) << 20;
	uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < len / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x;
	}
	uint64_t want = sum(p, len / 8);
	pid_t child = fork();
	if (child == 0)
		for (;;)
			pause();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned long n = 0;; n++) {
		int ok = sum(p, len / 8) == want;
		printf("tick %lu %s\n", n, ok ? "ok" : "CORRUPT");
		if (!ok) {
			kill(child, SIGKILL);
			return 3;
		}
		usleep(100000);
	}
}
