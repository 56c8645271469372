/* series: a batch job's computation whose result can be checked. It sums
 * 1/k^2 for k = 1..N in double precision, in that order (the bits of the sum
 * depend on it), folds every term into an 8 MiB table, and ends by printing
 * "result N SUM HASH": the sum in hexadecimal floating point and a hash of the
 * table. After every STEP terms it prints "progress K" and sleeps PACE_MS
 * milliseconds, so that the job lasts a known time, mostly asleep, that a
 * checkpoint can cut anywhere; the result does not depend on the pace.
 * usage: series N STEP PACE_MS */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_WORDS (1u << 20) /* 8 MiB */

static uint64_t table[TABLE_WORDS];

static void fill_table(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (uint32_t i = 0; i < TABLE_WORDS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		table[i] = x;
	}
}

static uint64_t table_hash(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint32_t i = 0; i < TABLE_WORDS; i++)
		h = (h ^ table[i]) * 0x100000001b3ull;
	return h;
}

/* Sleep ms milliseconds in all: a checkpoint's signal (EINTR) resumes on
 * what is left. */
static void pace(long ms)
{
	struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) == EINTR)
		;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: series N STEP PACE_MS\n");
		return 2;
	}
	long n = atol(argv[1]), step = atol(argv[2]), pace_ms = atol(argv[3]);
	if (n < 1 || step < 1 || pace_ms < 0) {
		fprintf(stderr, "series: N and STEP must be positive, PACE_MS not negative\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fill_table();
	double sum = 0;
	for (long k = 1; k <= n; k++) {
		double term = 1.0 / ((double)k * (double)k);
		uint64_t bits;
		sum += term;
		memcpy(&bits, &term, sizeof(bits));
		table[(uint64_t)k * 2654435761u % TABLE_WORDS] ^= bits + (uint64_t)k;
		if (k % step == 0) {
			printf("progress %ld\n", k);
			pace(pace_ms);
		}
	}
	printf("result %ld %a %016llx\n", n, sum, (unsigned long long)table_hash());
	return 0;
}
