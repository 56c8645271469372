/* When no coordinator listens on its port, restart starts one and does not
 * wait for it: PID 1 and the processes are created, and restore their
 * descriptors and memory, while the coordinator comes up (an exec, a few
 * milliseconds). restart joins each process once it listens, on a socket
 * the process has held since it was created (made before PID 1, connected
 * after: one socket, shared), into memory the processes share with it
 * (set->conn). Each process waits here before it writes its coordinator's
 * answer into its runtime, and PID 1 before it asks the coordinator about TCP
 * connections.
 *
 * The gate is a pipe whose only write end restart holds: closing it opens the
 * gate for every process at once (read gets end of file). A process goes on
 * only if restart marked it joined (rst_conn.joined): restart killed before
 * that closes the pipe too, and its namespace ends with PID 1 a moment later;
 * restart that fails to join ends it itself. No process can run its
 * program before every one has joined, as before: joining only moved behind
 * the restore. A coordinator restart started itself serves no computation,
 * so none of the processes made meanwhile can meet a refusal that joining
 * first would have avoided: the lock of the computation is checked before
 * anything is made, and a second restart of it waits until this one's
 * processes have joined (cli/cmd_restart.c, lock_restart). */
#include "restore/gate.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Above the set's fixed descriptors, which the blob closes from set->base up. */
static int above_top(const struct rst_set *set, int fd)
{
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, set->top);
	close(fd);
	return moved;
}

int rst_gate_make(struct rst_set *set)
{
	int p[2];
	set->gate = set->gate_open = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return error("cannot create a pipe for the restart: %s", strerror(errno));
	set->gate = above_top(set, p[0]);
	set->gate_open = above_top(set, p[1]);
	if (set->gate < 0 || set->gate_open < 0)
		return error("cannot place the restart's pipe: %s", strerror(errno));
	return 0;
}

void rst_gate_child(struct rst_set *set)
{
	if (set->gate_open >= 0)
		close(set->gate_open);
	set->gate_open = -1;
}

void rst_gate_open(struct rst_set *set)
{
	rst_gate_child(set);
}

int rst_gate_wait(const struct rst_set *set, int i)
{
	char c;
	ssize_t n = 0;
	if (set->gate >= 0)
		while ((n = read(set->gate, &c, 1)) < 0 && errno == EINTR)
			;
	if (n != 0)
		return -1;
	return i < 0 || __atomic_load_n(&set->conn[i].joined, __ATOMIC_ACQUIRE) ? 0 : -1;
}
