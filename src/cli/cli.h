/* The stasis command line: one function per subcommand, dispatched from main.c. */
#ifndef STASIS_CLI_CLI_H
#define STASIS_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int cmd_launch(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_coordinator(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_interval(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* launch_tty.c: run argv on a pty of its own, relaying the user's terminal */
int cli_launch_tty(char **argv, int hold);
/* cmd_launch.c: say on the held connection whether a program is being started
 * (1), or not (0: the connection is closed too) */
void cli_launching(int hold, uint32_t state);
int cmd_merge(int argc, char **argv);
int cmd_nocheckpoint(int argc, char **argv);
/* cmd_nocheckpoint.c: this process's environment without the runtime in
 * LD_PRELOAD and without any STASIS_* variable */
void cli_env_without_stasis(void);
/* cmd_nocheckpoint.c: LD_PRELOAD without the runtime's entries (separated by
 * ':' or ' '), the program's own kept; 1 if it named the runtime */
int cli_drop_runtime_preload(void);

/* Make sure a coordinator listens on port: connect to it, or (connection
 * refused, or reset by one that is exiting) start `stasis coordinator --daemon
 * --exit-on-last -p port [--ckpt-dir DIR] [--no-compress]` and connect to it.
 * ckpt_dir may be NULL (the coordinator then uses the caller's cwd). A
 * coordinator already running with another directory or compression default
 * is used as it is, with a warning. Returns the connection, which holds the
 * coordinator (HELLO_HOLD) until it is closed: close it once the processes
 * have joined (a launch: at exec, after sending MSG_EXEC 1; it then waits a
 * few seconds more for the program). -1 after printing why. */
int cli_ensure_coordinator(uint16_t *port, const char *ckpt_dir, int no_compress);
/* The two halves of starting one, for a caller with work to do meanwhile
 * (restart restores its processes while the coordinator comes up): when none
 * listens on port (cli_coord_hold: -1 with errno ECONNREFUSED), cli_coord_begin
 * starts it and returns at once; cli_coord_end waits until it listens (0).
 * When another launcher's coordinator took the port meanwhile, cli_coord_end
 * says nothing and returns -1 with errno EADDRINUSE: join that one
 * (cli_ensure_coordinator). Other failures: -1 after printing why. */
struct cli_coord_start {
	int fd;	       /* the coordinator's report */
	pid_t pid;     /* the child that detached it */
	uint16_t port; /* its port (0: any, written to the port file) */
};
int cli_coord_hold(uint16_t port, const char *ckpt_dir);
int cli_coord_begin(uint16_t port, const char *ckpt_dir, struct cli_coord_start *s);
int cli_coord_end(struct cli_coord_start *s);
/* How long a coordinator launch or restart started may take to say it
 * listens: $STASIS_COORD_START_TIMEOUT seconds, else 20; a bad value ends
 * the command (exit status 2), which launch and restart check first. */
int cli_coord_start_s(void);
/* Port 0 for cli_ensure_coordinator: start one on a free port; *port is set.
 * --port-file and --log-file given to a coordinator it starts (NULL: none);
 * the port file is also written when it joins one that runs already. */
void cli_coord_files(const char *port_file, const char *log_file);
/* jobenv.c: inside a Slurm job (SLURM_JOB_ID), put the job's defaults for
 * STASIS_RUN_DIR, STASIS_CKPT_DIR and STASIS_PORT into the environment where
 * they are not set (docs/slurm.md); argv[0] is the command. launch creates
 * the default checkpoint directory. */
void cli_job_defaults(int argc, char **argv);
/* The port a Slurm job's coordinator tries at its attempt-th try (0 first). */
#define JOB_PORT_BASE 20000
#define JOB_PORT_SPAN 10000
#define JOB_PORT_TRIES 16
uint16_t cli_job_port(unsigned long job, unsigned attempt);
/* --coord-host HOST and --token-file FILE, which every client command takes
 * (opts.h CLI_OPTS_COORD): they set $STASIS_COORD_HOST and $STASIS_TOKEN_FILE
 * (made absolute) for this process and for what it starts (the runtime of a
 * launched program, the restorer). Returns 1 if opt is one of them (arg
 * consumed), else 0. */
int cli_coord_opt(const char *opt, const char *arg);
/* 1 when the coordinator is another host's (proto_coord_remote: no address of
 * $STASIS_COORD_HOST is this host's): nothing may start one here */
int cli_coord_remote(void);
/* 1 when the command was given the coordinator's host ($STASIS_COORD_HOST set,
 * and not 127.0.0.1, localhost or ::1): a computation on several hosts, of
 * which a restart here may bring back a part, even on the coordinator's own
 * host */
int cli_coord_host_given(void);
/* ckptdir.c: the newest complete checkpoint in dir: the newest image whose
 * generation has all its processes' images there (with part: the newest
 * image's generation, whose other images may be on other hosts). Invalid
 * images are named in a warning and skipped. Returns how many images, their
 * paths in *out (malloc'ed), or -1 after saying why (none there too). */
int cli_newest_in_dir(const char *dir, char ***out, int part);
/* Parse a port argument; exits with status 2 and a message on a bad value.
 * NULL: the default ($STASIS_PORT, else 7779). */
uint16_t cli_parse_port(const char *s);
/* The same, but "0" is 0: any free port (coordinator, launch) */
uint16_t cli_parse_port_or_any(const char *s);
/* s as a JSON string on stdout */
void cli_json_string(const char *s);
/* path made absolute against the current directory (not resolved: it may
 * not exist yet); 0, or -1 after printing why */
int cli_absolute(const char *path, char *out, size_t size);
/* Parse a number of seconds (what names it in the message: "interval");
 * exits with status 2 and a message on a bad value. */
unsigned cli_parse_seconds(const char *s, const char *what);
/* $STASIS_INTERVAL (the default of -i for launch, coordinator and restart),
 * or -1 when it is not set; exits with status 2 on a bad value. */
long cli_env_interval(void);
/* The directory above the one holding this executable: /usr for
 * /usr/bin/stasis, /x/build for /x/build/bin/stasis. */
const char *cli_self_dir(void);
/* runtime_path.c: the runtime library to preload ($STASIS_LIB, else the one
 * installed beside this executable, else the build tree's) in out. Returns 0,
 * or -1 after printing what was tried and what to do. */
int cli_runtime_path(char *out, size_t size);
/* Send one command to the coordinator on port as a control client and wait for
 * the reply of type reply_type. Returns the reply's length, its payload in
 * *reply unless reply is NULL (malloc'ed, NUL-terminated; free it), or -1 after printing why. */
long cli_coord_command(uint16_t port, uint16_t type, const void *arg, size_t arglen,
		       uint16_t reply_type, char **reply);

#endif
