/* An MPI ring whose every state is known in closed form (issue 10).
 *
 *   ring STEPS PACE_MS WORDS
 *
 * Each rank holds WORDS 64-bit words. At every step each rank sends its
 * block to the next rank and receives the previous rank's, then adds
 * step * (i + 1) to word i. So after step k, rank r holds the block that
 * started on rank o = (r - k) mod P, and word i is
 *     ((o << 32) | i) + (i + 1) * k * (k + 1) / 2        (mod 2^64)
 * which every rank checks, every word, every step. An allreduce of each
 * rank's first and last word is checked against the same formula summed over
 * the ranks. Rank 0 prints "ready" after MPI_Init, "step K SUM" after each
 * step (SUM: the allreduce) and at the end "PASS DIGEST" (a hash of every
 * sum), or "FAIL: ..." lines: the output of an interrupted run must be the
 * output of an uninterrupted one, byte for byte. Each step sleeps PACE_MS
 * so that the test can checkpoint between steps it has seen.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t expected(int origin, uint64_t i, uint64_t k)
{
	return (((uint64_t)origin << 32) | i) + (i + 1) * (k * (k + 1) / 2);
}

static int check_block(const uint64_t *buf, long words, int rank, int size, long k)
{
	int origin = (int)(((rank - k) % size + size) % size);
	for (long i = 0; i < words; i++) {
		if (buf[i] != expected(origin, i, k)) {
			printf("FAIL: rank %d step %ld word %ld is %#llx, expected %#llx\n", rank,
			       k, i, (unsigned long long)buf[i],
			       (unsigned long long)expected(origin, i, k));
			fflush(stdout);
			return -1;
		}
	}
	return 0;
}

static uint64_t expected_sum(int size, long words, long k)
{
	uint64_t sum = 0;
	for (int o = 0; o < size; o++)
		sum += expected(o, 0, k) + expected(o, words - 1, k);
	return sum;
}

static void pace(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	int rank, size;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc != 4) {
		if (rank == 0)
			fprintf(stderr, "usage: ring STEPS PACE_MS WORDS\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	long steps = atol(argv[1]), pace_ms = atol(argv[2]), words = atol(argv[3]);
	uint64_t *buf = malloc(words * sizeof(*buf));
	uint64_t *in = malloc(words * sizeof(*in));
	if (!buf || !in)
		MPI_Abort(MPI_COMM_WORLD, 2);
	for (long i = 0; i < words; i++)
		buf[i] = expected(rank, i, 0);
	if (rank == 0) {
		printf("ready %d ranks\n", size);
		fflush(stdout);
	}
	int next = (rank + 1) % size, prev = (rank + size - 1) % size, bad = 0;
	uint64_t digest = 1469598103934665603ull;
	for (long k = 1; k <= steps && !bad; k++) {
		MPI_Sendrecv(buf, (int)words, MPI_UINT64_T, next, 0, in, (int)words, MPI_UINT64_T,
			     prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		uint64_t *t = buf;
		buf = in;
		in = t;
		for (long i = 0; i < words; i++)
			buf[i] += (uint64_t)k * (i + 1);
		int mine = check_block(buf, words, rank, size, k);
		uint64_t part = buf[0] + buf[words - 1], sum = 0;
		MPI_Allreduce(&part, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
		MPI_Allreduce(&mine, &bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
		if (rank == 0) {
			if (sum != expected_sum(size, words, k)) {
				printf("FAIL: step %ld allreduce %#llx, expected %#llx\n", k,
				       (unsigned long long)sum,
				       (unsigned long long)expected_sum(size, words, k));
				bad = -1;
			}
			printf("step %ld %#llx\n", k, (unsigned long long)sum);
			fflush(stdout);
		}
		MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
		digest = (digest ^ sum) * 1099511628211ull;
		pace(pace_ms);
	}
	if (rank == 0) {
		if (!bad)
			printf("PASS %#llx\n", (unsigned long long)digest);
		fflush(stdout);
	}
	MPI_Finalize();
	return bad ? 1 : 0;
}
