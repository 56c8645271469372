/* What the MPI test programs share (tests/mpi/): the closed formula of a
 * block's words, the pace of the steps, and rank 0's output, which is all an
 * uninterrupted run prints and nothing else: "ready N ranks", "step K SUM"
 * per step, "PASS DIGEST" at the end, or "FAIL: ..." lines. */
#ifndef STASIS_TESTS_MPI_STEPS_H
#define STASIS_TESTS_MPI_STEPS_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Word i of the block that rank `origin` made at step k. */
static inline uint64_t st_word(int origin, uint64_t i, uint64_t k)
{
	return (((uint64_t)origin << 32) | i) + (i + 1) * (k * (k + 1) / 2);
}

/* 0, or -1 after a FAIL line naming the first wrong word. */
static inline int st_check(const uint64_t *buf, long words, int origin, long k, const char *what)
{
	for (long i = 0; i < words; i++) {
		if (buf[i] == st_word(origin, i, k))
			continue;
		printf("FAIL: %s: step %ld word %ld is %#llx, expected %#llx\n", what, k, i,
		       (unsigned long long)buf[i], (unsigned long long)st_word(origin, i, k));
		fflush(stdout);
		return -1;
	}
	return 0;
}

static inline void st_fill(uint64_t *buf, long words, int origin, long k)
{
	for (long i = 0; i < words; i++)
		buf[i] = st_word(origin, i, k);
}

static inline void st_pace(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The end of step k: every rank's part summed (checked by rank 0 against
 * want), every rank's verdict; rank 0 prints the step. Returns nonzero when
 * any rank failed. *digest hashes every sum. */
static inline int st_step_end(long k, uint64_t part, uint64_t want, int mine, uint64_t *digest)
{
	int rank, bad = 0;
	uint64_t sum = 0;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Allreduce(&part, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	MPI_Allreduce(&mine, &bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	if (rank == 0) {
		if (sum != want) {
			printf("FAIL: step %ld allreduce %#llx, expected %#llx\n", k,
			       (unsigned long long)sum, (unsigned long long)want);
			bad = -1;
		}
		printf("step %ld %#llx\n", k, (unsigned long long)sum);
		fflush(stdout);
	}
	MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
	*digest = (*digest ^ sum) * 1099511628211ull;
	return bad;
}

static inline void st_ready(void)
{
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (rank == 0) {
		printf("ready %d ranks\n", size);
		fflush(stdout);
	}
}

static inline int st_finish(int bad, uint64_t digest)
{
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (rank == 0 && !bad)
		printf("PASS %#llx\n", (unsigned long long)digest);
	fflush(stdout);
	MPI_Finalize();
	return bad ? 1 : 0;
}

#define ST_DIGEST0 1469598103934665603ull

/* The arguments every program takes: STEPS PACE_MS WORDS [more], after MPI_Init. */
struct st_args {
	int rank, size;
	long steps, pace_ms, words;
};

static inline struct st_args st_init(int *argc, char ***argv, int nargs, const char *usage)
{
	struct st_args a;
	MPI_Init(argc, argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &a.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &a.size);
	if (*argc != nargs + 1) {
		if (a.rank == 0)
			fprintf(stderr, "usage: %s\n", usage);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	a.steps = atol((*argv)[1]);
	a.pace_ms = atol((*argv)[2]);
	a.words = atol((*argv)[3]);
	return a;
}

/* n blocks of words 64-bit words each, or MPI_Abort */
static inline uint64_t *st_blocks(long n, long words)
{
	uint64_t *p = malloc(n * words * sizeof(*p));
	if (!p)
		MPI_Abort(MPI_COMM_WORLD, 2);
	return p;
}

#endif
