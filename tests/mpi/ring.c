/* An MPI ring whose every state is known in closed form (issue 10).
 *
 *   ring STEPS PACE_MS WORDS
 *
 * Each rank holds WORDS 64-bit words. At every step each rank sends its
 * block to the next rank and receives the previous rank's, then adds
 * step * (i + 1) to word i. So after step k, rank r holds the block that
 * started on rank o = (r - k) mod P, word i being st_word(o, i, k)
 * (steps.h), which every rank checks, every word, every step. An allreduce
 * of each rank's first and last word is checked against the same formula
 * summed over the ranks. Each step then sleeps PACE_MS, so that the test
 * can checkpoint between steps it has seen.
 */
#include "steps.h"

static uint64_t expected_sum(int size, long words, long k)
{
	uint64_t sum = 0;
	for (int o = 0; o < size; o++)
		sum += st_word(o, 0, k) + st_word(o, words - 1, k);
	return sum;
}

int main(int argc, char **argv)
{
	struct st_args a = st_init(&argc, &argv, 3, "ring STEPS PACE_MS WORDS");
	int rank = a.rank, size = a.size;
	long steps = a.steps, pace_ms = a.pace_ms, words = a.words;
	uint64_t *buf = st_blocks(1, words), *in = st_blocks(1, words);
	st_fill(buf, words, rank, 0);
	st_ready();
	int next = (rank + 1) % size, prev = (rank + size - 1) % size, bad = 0;
	uint64_t digest = ST_DIGEST0;
	for (long k = 1; k <= steps && !bad; k++) {
		MPI_Sendrecv(buf, (int)words, MPI_UINT64_T, next, 0, in, (int)words, MPI_UINT64_T,
			     prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		uint64_t *t = buf;
		buf = in;
		in = t;
		for (long i = 0; i < words; i++)
			buf[i] += (uint64_t)k * (i + 1);
		int origin = (int)(((rank - k) % size + size) % size);
		int mine = st_check(buf, words, origin, k, "ring");
		bad = st_step_end(k, buf[0] + buf[words - 1], expected_sum(size, words, k), mine,
				  &digest);
		st_pace(pace_ms);
	}
	return st_finish(bad, digest);
}
