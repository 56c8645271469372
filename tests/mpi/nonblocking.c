/* Non-blocking point-to-point with messages in flight at the checkpoint
 * (issue 10).
 *
 *   nonblocking STEPS PACE_MS WORDS
 *
 * At every step k each rank posts its receives from both neighbours, then
 * sends each of them two messages with MPI_Isend: a small one (8 words,
 * sent eagerly) and its whole block of WORDS words (large enough for the
 * rendezvous protocols), then sleeps PACE_MS before MPI_Waitall: most of a
 * step is spent with its messages posted and not yet delivered, so most
 * checkpoints find them in flight. What arrives is checked, every word,
 * against st_word() of the sender (steps.h), and the first and last words
 * summed over the ranks by an allreduce.
 */
#include "steps.h"

#define SMALL 8

int main(int argc, char **argv)
{
	struct st_args a = st_init(&argc, &argv, 3, "nonblocking STEPS PACE_MS WORDS");
	int rank = a.rank, size = a.size;
	long steps = a.steps, pace_ms = a.pace_ms, words = a.words;
	int peer[2] = {(rank + size - 1) % size, (rank + 1) % size};
	uint64_t *out = st_blocks(1, words), *in[2], small_in[2][SMALL], small_out[SMALL];
	in[0] = st_blocks(1, words);
	in[1] = st_blocks(1, words);
	st_ready();
	int bad = 0;
	uint64_t digest = ST_DIGEST0;
	for (long k = 1; k <= steps && !bad; k++) {
		MPI_Request req[8];
		MPI_Status stat[8]; /* MPICH's header: MPI_STATUSES_IGNORE warns */
		int n = 0;
		for (int s = 0; s < 2; s++) {
			MPI_Irecv(small_in[s], SMALL, MPI_UINT64_T, peer[s], 1, MPI_COMM_WORLD,
				  &req[n++]);
			MPI_Irecv(in[s], (int)words, MPI_UINT64_T, peer[s], 2, MPI_COMM_WORLD,
				  &req[n++]);
		}
		st_fill(out, words, rank, k);
		st_fill(small_out, SMALL, rank, k);
		for (int s = 0; s < 2; s++) {
			MPI_Isend(small_out, SMALL, MPI_UINT64_T, peer[s], 1, MPI_COMM_WORLD,
				  &req[n++]);
			MPI_Isend(out, (int)words, MPI_UINT64_T, peer[s], 2, MPI_COMM_WORLD,
				  &req[n++]);
		}
		st_pace(pace_ms);
		MPI_Waitall(n, req, stat);
		int mine = 0;
		for (int s = 0; s < 2; s++) {
			mine |= st_check(small_in[s], SMALL, peer[s], k, "small message");
			mine |= st_check(in[s], words, peer[s], k, "large message");
		}
		uint64_t want = 0;
		for (int o = 0; o < size; o++)
			want += st_word(o, words - 1, k) + st_word(o, 0, k);
		bad = st_step_end(k, in[0][words - 1] + in[1][0], want, mine, &digest);
	}
	return st_finish(bad, digest);
}
