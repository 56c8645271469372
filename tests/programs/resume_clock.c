/* resume_clock: how long a restart takes to the program's next instruction.
 *
 *   resume_clock SIZE_MIB [DIRTY_MIB]
 *
 * Fills SIZE_MIB MiB with incompressible data, prints "ready", then spins
 * reading CLOCK_REALTIME. When two readings are more than 50 ms apart the
 * process was frozen (checkpointed, killed, restarted): it prints
 * "resumed REALTIME_NS" right away, before touching its buffer, so a bench that
 * noted the time it started `stasis restart` gets the restart's latency. With
 * DIRTY_MIB it then rewrites that many MiB (spread over the buffer, one write
 * per page) and prints "dirtied N": the incremental checkpoint workload. After
 * every resume it checks a sample of the buffer and prints "ok" or "CORRUPT".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static uint64_t word(uint64_t i, uint64_t gen)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull + gen * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 31;
	return x * 0x94d049bb133111ebull;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	size_t dirty = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	size_t words = (mib << 20) / 8, pages = (mib << 20) / 4096;
	uint64_t *buf = malloc(mib << 20);
	uint8_t *gen = calloc(pages, 1); /* per page: how often it was rewritten */
	if (!buf || !gen)
		return 2;
	for (size_t i = 0; i < words; i++)
		buf[i] = word(i, 0);
	printf("ready\n");
	fflush(stdout);
	uint64_t last = now_ns(), round = 0;
	for (;;) {
		uint64_t t = now_ns();
		if (t - last < 50000000ull) {
			last = t;
			continue;
		}
		printf("resumed %llu\n", (unsigned long long)t);
		fflush(stdout);
		size_t bad = 0;
		for (size_t p = 0; p < pages; p += 61) /* a sample of every page's first word */
			bad += buf[p * 512] != word(p * 512, gen[p]);
		round++;
		size_t step = dirty ? pages / ((dirty << 20) / 4096) : 0;
		for (size_t p = round % (step ? step : 1); step && p < pages; p += step) {
			gen[p]++;
			for (size_t w = p * 512; w < p * 512 + 512; w++)
				buf[w] = word(w, gen[p]);
		}
		if (dirty)
			printf("dirtied %zu\n", dirty);
		printf("%s\n", bad ? "CORRUPT" : "ok");
		fflush(stdout);
		last = now_ns();
	}
}
