/* fd_owner.c: signal-driven I/O of the program's descriptors, one way for
 * every kind: O_ASYNC, the owner its signals go to (F_SETOWN_EX: a process,
 * a thread or a process group; sockets send SIGURG there too) and the signal
 * (F_SETSIG). Recorded at checkpoint (rt_fd_owner_note, from fds.c, once per
 * open file description of the process) into the runtime's own memory, which
 * the image keeps, as POSIX timers are; set again after a restart
 * (rt_fd_owner_restore) once every process and thread of the restart exists
 * (after the RESTARTED barrier: an owner may be another process, or a thread
 * the blob made), before the program runs again. */
#ifndef STASIS_RUNTIME_FD_OWNER_H
#define STASIS_RUNTIME_FD_OWNER_H

/* The descriptors recorded so far are forgotten (a new checkpoint). */
void rt_fd_owner_reset(void);
/* Record fd's signal-driven I/O if it has any (open_flags: its F_GETFL). */
void rt_fd_owner_note(int fd, int open_flags);
/* Set every recorded one again; an owner that is not there any more (a
 * process outside the restarted computation) is warned of. */
void rt_fd_owner_restore(void);

#endif
