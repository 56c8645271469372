/* The coordinator daemon: authenticates the processes of a computation and the
 * CLI, runs checkpoints as a sequence of barriers, and records the images of each
 * generation in a restart script. See docs/protocol.md.
 */
#ifndef STASIS_COORDINATOR_COORD_H
#define STASIS_COORDINATOR_COORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct coord_opts {
	uint16_t port;	       /* 0: any free port (tests read it back) */
	const char *bind_addr; /* NULL: 127.0.0.1 */
	const char *ckpt_dir;  /* NULL: the current directory; created if missing */
	unsigned interval;     /* seconds between checkpoints, 0: none */
	int interval_given;    /* interval was asked for (even 0): a restarted computation's
				  own interval does not replace it */
	int exit_on_last;      /* exit when the last process leaves */
	int no_compress;       /* default CKPT_NO_COMPRESS for every checkpoint */
	const char *self_exe;  /* stasis binary named in restart scripts; NULL: /proc/self/exe */
	unsigned timeout;      /* seconds a checkpoint waits for a silent process; 0: 20 */
	const char *port_file; /* write the port there once listening (atomically); NULL: none */
	const char *log_file;  /* log there with timestamps; NULL: a daemon's default */
};

struct coord;

/* Resolve the checkpoint directory, bind, create the token file, listen.
 * Returns NULL with a user-facing message in err. */
struct coord *coord_start(const struct coord_opts *o, char *err, size_t errlen);
uint16_t coord_port(const struct coord *c);
const char *coord_ckpt_dir(const struct coord *c);
/* Serve until CMD_QUIT, SIGINT/SIGTERM/SIGHUP or --exit-on-last; then remove the
 * token file and free c. Returns the exit status (0, or 1 if the loop failed). */
int coord_serve(struct coord *c);

/* coord_start, a line on stderr saying where it listens, coord_serve. */
int coord_run(const struct coord_opts *o);

/* Run a coordinator in a child process and return once it listens (or failed to
 * start: -1 with the child's message in err). daemon: detached by a double fork
 * and setsid, cwd /, stdio on /dev/null; otherwise a plain child that gets
 * SIGTERM when its parent dies (for tests). Returns the coordinator's pid and
 * stores its port in *port (if port is not NULL). */
pid_t coord_spawn(const struct coord_opts *o, int daemon, uint16_t *port, char *err, size_t errlen);

/* In a process that its starter has already detached (setsid, not its
 * child): start, say "R <port> <pid>" or "E <message>" on fd, serve like a
 * daemon, exit. What launch and restart run (cli/coordctl.c), so that one
 * process, not three, stands between them and a listening coordinator. */
__attribute__((noreturn)) void coord_run_detached(const struct coord_opts *o, int fd);

#endif
