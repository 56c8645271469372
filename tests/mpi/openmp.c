/* MPI and OpenMP: each rank computes with libgomp's pool of threads (issue 10).
 *
 *   openmp STEPS PACE_MS WORDS
 *
 * Each rank keeps WORDS words; at step k a parallel loop of the pool's
 * threads (OMP_NUM_THREADS) adds k * (i + 1) to word i and sums the block
 * with a reduction, which is checked against the closed formula
 * (st_word, steps.h), and then the ranks' sums are checked by an allreduce.
 * The pool's threads wait between the steps (libgomp keeps them), so a
 * checkpoint finds them idle in the pool or working in a loop.
 */
#include "steps.h"

#include <omp.h>

static uint64_t block_sum(int origin, long words, long k)
{
	uint64_t sum = 0;
	for (long i = 0; i < words; i++)
		sum += st_word(origin, i, k);
	return sum;
}

int main(int argc, char **argv)
{
	struct st_args a = st_init(&argc, &argv, 3, "openmp STEPS PACE_MS WORDS");
	int rank = a.rank, size = a.size;
	long steps = a.steps, pace_ms = a.pace_ms, words = a.words;
	uint64_t *buf = st_blocks(1, words);
	st_fill(buf, words, rank, 0);
	st_ready();
	int bad = 0;
	uint64_t digest = ST_DIGEST0;
	for (long k = 1; k <= steps && !bad; k++) {
		uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
		for (long i = 0; i < words; i++) {
			buf[i] += (uint64_t)k * (i + 1);
			sum += buf[i];
		}
		int mine = sum == block_sum(rank, words, k) ? 0 : -1;
		if (mine)
			mine = st_check(buf, words, rank, k, "openmp block");
		uint64_t want = 0;
		for (int o = 0; o < size; o++)
			want += block_sum(o, words, k);
		bad = st_step_end(k, sum, want, mine, &digest);
		st_pace(pace_ms);
	}
	return st_finish(bad, digest);
}
