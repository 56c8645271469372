/* The benchmark's MPI job (bench/mpi.py): MIB MiB of random data per rank.
 *
 *   hog MIB PACE_MS
 *
 * Each rank fills MIB MiB with a xorshift stream of its own, then every
 * PACE_MS the ranks allreduce the sum of their memory's first word of every
 * page and rank 0 prints "tick N SUM": the benchmark takes the first tick
 * after a restart for the moment the job runs again.
 */
#include "steps.h"

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (argc != 3)
		MPI_Abort(MPI_COMM_WORLD, 2);
	long words = atol(argv[1]) << 17, pace_ms = atol(argv[2]);
	uint64_t *mem = st_blocks(1, words), x = 88172645463325252ull + (uint64_t)rank;
	for (long i = 0; i < words; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	st_ready();
	for (long k = 1;; k++) {
		uint64_t part = 0, sum = 0;
		for (long i = 0; i < words; i += 512)
			part += mem[i];
		MPI_Allreduce(&part, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
		if (rank == 0) {
			printf("tick %ld %#llx\n", k, (unsigned long long)sum);
			fflush(stdout);
		}
		st_pace(pace_ms);
	}
}
