/* Locks of the run directory, each an flock'ed file that names its holder;
 * the lock goes with the holder's process: one that was killed holds nothing.
 *
 * A computation is served by one coordinator at a time. The coordinator that
 * serves computation ID holds an exclusive lock (flock) on
 * <rundir>/comp-<ID as 16 hex digits>.lock, whose text names it: "PORT PID\n".
 * Another coordinator (or `stasis restart`, before it creates anything) finds
 * the computation taken there. */
#ifndef STASIS_COMMON_COMPLOCK_H
#define STASIS_COMMON_COMPLOCK_H

#include <stddef.h>
#include <stdint.h>

struct complock_holder {
	unsigned port;
	int pid;
};

/* Take comp_id's lock for the coordinator on port: 0 and the lock's fd in *fd;
 * -1 with errno EWOULDBLOCK and the holder in *h when another holds it, or
 * with another errno when the lock file cannot be used. */
int complock_take(uint64_t comp_id, unsigned port, int *fd, struct complock_holder *h);
/* The lock file's path, for messages: 0, or -1 (ENAMETOOLONG). */
int portlock_path(unsigned port, char *buf, size_t size);
/* Give it up: the file is removed while still locked, then closed. */
void complock_release(uint64_t comp_id, int fd);
/* 1 and the holder in *h if a coordinator holds comp_id's lock, else 0. */
int complock_holder(uint64_t comp_id, struct complock_holder *h);

/* A port of the run directory is served by one coordinator at a time,
 * whatever address it listens on: two may listen on one port at different
 * addresses (--bind), but would share the token file <rundir>/coord-PORT.token.
 * The coordinator listening on PORT holds an exclusive lock on
 * <rundir>/coord-PORT.lock, whose text names it: "PID ADDR\n". */
struct portlock_holder {
	int pid;
	char addr[64];
};
/* Take port's lock for the coordinator listening on addr: 0 and the lock's fd
 * in *fd; -1 with errno EWOULDBLOCK and the holder in *h when another holds
 * it, or with another errno when the lock file cannot be used. */
int portlock_take(unsigned port, const char *addr, int *fd, struct portlock_holder *h);
/* Give it up: the file is removed while still locked, then closed. */
void portlock_release(unsigned port, int fd);

/* One `stasis restart` of a computation at a time on this host, from before
 * it creates anything until its processes have joined their coordinator
 * (which then holds the computation's lock): a restart that starts the
 * coordinator creates its processes before they join (cli/cmd_restart.c).
 * The lock is a POSIX write lock (fcntl) on the empty file
 * <rundir>/comp-<ID>.restart.lock: its holder is the process that took it
 * (F_GETLK names it), not the children it forks. */
/* 0 and the lock's fd in *fd; -1 with errno EWOULDBLOCK and the holder's pid
 * in *pid (0 if unknown) when another holds it, or with another errno. */
int restartlock_take(uint64_t comp_id, int *fd, int *pid);
/* Give it up (the file is removed while still locked, then closed). */
void restartlock_release(uint64_t comp_id, int fd);

#endif
