/* Ping-pong between ranks 0 and 1, as the OSU benchmarks measure it
 * (bench/mpi.py runs it natively and under stasis launch).
 *
 *   pingpong ITERS
 *
 * Latency: ITERS round trips of 8 bytes, half the mean round trip. Bandwidth:
 * ITERS / 10 windows of 64 MPI_Isend of 1 MiB from rank 0, each window
 * acknowledged by 4 bytes. Rank 0 prints "latency_us X" and "bandwidth_mbs Y"
 * (MB/s, 10^6 bytes).
 */
#include "steps.h"

#define WINDOW 64
#define BIG (1 << 20)

static double latency(int rank, long iters)
{
	char b[8] = {0};
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	for (long i = 0; i < iters; i++) {
		if (rank == 0) {
			MPI_Send(b, 8, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
			MPI_Recv(b, 8, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (rank == 1) {
			MPI_Recv(b, 8, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(b, 8, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
		}
	}
	return (MPI_Wtime() - t0) / iters / 2 * 1e6;
}

static double bandwidth(int rank, long windows, char *buf)
{
	MPI_Request req[WINDOW];
	MPI_Status stat[WINDOW];
	int ack = 0;
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	for (long w = 0; w < windows; w++) {
		for (int i = 0; i < WINDOW && rank < 2; i++) {
			if (rank == 0)
				MPI_Isend(buf, BIG, MPI_CHAR, 1, 2, MPI_COMM_WORLD, &req[i]);
			else
				MPI_Irecv(buf, BIG, MPI_CHAR, 0, 2, MPI_COMM_WORLD, &req[i]);
		}
		if (rank < 2)
			MPI_Waitall(WINDOW, req, stat);
		if (rank == 0)
			MPI_Recv(&ack, 1, MPI_INT, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		else if (rank == 1)
			MPI_Send(&ack, 1, MPI_INT, 0, 3, MPI_COMM_WORLD);
	}
	return (double)windows * WINDOW * BIG / (MPI_Wtime() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (argc != 2)
		MPI_Abort(MPI_COMM_WORLD, 2);
	long iters = atol(argv[1]);
	char *buf = (char *)st_blocks(1, BIG / 8);
	latency(rank, iters / 10); /* warm up: connections made, pages touched */
	double lat = latency(rank, iters);
	bandwidth(rank, 2, buf);
	double bw = bandwidth(rank, iters / 100 + 1, buf);
	if (rank == 0)
		printf("latency_us %.3f\nbandwidth_mbs %.1f\n", lat, bw);
	MPI_Finalize();
	return 0;
}
