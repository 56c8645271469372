/* MPI-IO: every rank writes its part of one shared file (issue 10).
 *
 *   mpiio STEPS PACE_MS WORDS FILE
 *
 * At step k every rank writes its block st_word(rank, i, k) (steps.h) at
 * offset ((k - 1) * P + rank) * WORDS * 8 of FILE with the collective
 * MPI_File_write_at_all, syncs, and reads back the block its next
 * neighbour wrote at that step, which it checks every word of. The file
 * ends holding every rank's block of every step: the test compares it with
 * the file of an uninterrupted run.
 */
#include "steps.h"

int main(int argc, char **argv)
{
	MPI_File fh;
	struct st_args a = st_init(&argc, &argv, 4, "mpiio STEPS PACE_MS WORDS FILE");
	int rank = a.rank, size = a.size;
	long steps = a.steps, pace_ms = a.pace_ms, words = a.words;
	if (MPI_File_open(MPI_COMM_WORLD, argv[4], MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
			  &fh) != MPI_SUCCESS)
		MPI_Abort(MPI_COMM_WORLD, 2);
	uint64_t *out = st_blocks(1, words), *in = st_blocks(1, words);
	st_ready();
	int next = (rank + 1) % size, bad = 0;
	uint64_t digest = ST_DIGEST0;
	MPI_Offset block = (MPI_Offset)words * 8;
	for (long k = 1; k <= steps && !bad; k++) {
		st_fill(out, words, rank, k);
		MPI_File_write_at_all(fh, ((k - 1) * size + rank) * block, out, (int)words,
				      MPI_UINT64_T, MPI_STATUS_IGNORE);
		MPI_File_sync(fh);
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_File_read_at(fh, ((k - 1) * size + next) * block, in, (int)words, MPI_UINT64_T,
				 MPI_STATUS_IGNORE);
		int mine = st_check(in, words, next, k, "block read back");
		uint64_t want = 0;
		for (int o = 0; o < size; o++)
			want += st_word(o, 0, k);
		bad = st_step_end(k, in[0], want, mine, &digest);
		st_pace(pace_ms);
	}
	MPI_File_close(&fh);
	return st_finish(bad, digest);
}
