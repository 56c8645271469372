/* stasis-ssh: a process of the computation that a program starts with
 * `ssh [OPTIONS] HOST COMMAND` joins the computation on HOST and comes back
 * at restart with its stdin, stdout and stderr relayed again.
 *
 * The runtime's exec wrapper runs `stasis-ssh --ssh FILE ARGV...` instead of
 * ssh (runtime/exec.c). Three roles, one program:
 *   local (local.c)      in the computation, where ssh was run: starts the
 *                        real ssh outside the computation (stasis nocheckpoint)
 *                        to run `stasis-ssh --bootstrap` on HOST, tells it over
 *                        the ssh channel how to join (coordinator, token, a
 *                        cookie, the command), then relays its stdio over a
 *                        TCP connection to the remote relay;
 *   bootstrap (bootstrap.c)  outside the computation, on HOST, run by sshd:
 *                        writes the token to a 0600 file, starts the remote
 *                        relay with `stasis launch --coord-host ...`, answers
 *                        where it listens, and exits (so does the real ssh);
 *   serve (serve.c)      in the computation, on HOST: accepts the local relay
 *                        (with the cookie), runs COMMAND with the user's shell
 *                        on pipes, relays them, and ends with its status.
 * The relays' connection is a TCP connection inside the computation: it
 * survives checkpoints and restarts like any other (docs/distributed.md). */
#ifndef STASIS_SSH_SSH_H
#define STASIS_SSH_SSH_H

#include <stddef.h>
#include <stdint.h>

#define SSH_COOKIE_LEN 16
#define SSH_SETUP_MS 30000 /* each step of the setup: ssh connecting, the launch */

/* sshargs.c: ssh's command line. dest: index of HOST in argv; cmd: index of
 * the first word of COMMAND (argc when none). Returns 0, or -1 when the
 * options ask for what the relay does not do (no command, -N, -f, -t,
 * forwardings...): the real ssh then runs as it is, with why set. */
struct ssh_args {
	int dest, cmd, no_stdin; /* -n */
	const char *why;
};
int ssh_parse_args(int argc, char *const *argv, struct ssh_args *a);
/* COMMAND as ssh sends it: its words joined by single spaces (malloc'ed). */
char *ssh_join_command(int argc, char *const *argv, int first);

/* setup.c: the setup messages, "KEY VALUE\n" lines; a value may hold
 * anything but a newline, except the last ("cmd LEN\n" then LEN bytes). */
struct ssh_setup {
	char coord_host[256], token_hex[2 * 32 + 1], cookie_hex[2 * SSH_COOKIE_LEN + 1];
	char comp[17], ckpt_dir[4096], run_dir[4096], addr[64];
	unsigned port;
	char *cmd; /* malloc'ed */
};
/* Append the fields that are set (non-empty, port non-zero) and the command
 * to buf (malloc'ed, *len bytes). */
int ssh_setup_format(const struct ssh_setup *s, char **buf, size_t *len);
/* Read a setup from fd within deadline_ms: 0, or -1 with err. */
int ssh_setup_read(int fd, struct ssh_setup *s, int deadline_ms, char *err, size_t errlen);
/* CLOCK_MONOTONIC in milliseconds, for the deadlines. */
long long ssh_now_ms(void);
/* One line from fd (newline removed) within deadline_ms; -1 with errno. */
int ssh_read_line(int fd, char *buf, size_t size, int deadline_ms);
/* len bytes from fd within deadline_ms: 0, or -1 with errno. */
int ssh_read_exact(int fd, void *dst, size_t len, int deadline_ms);

/* relay.c: the frames on the relays' connection: u32 type, u32 length, then
 * the bytes (little-endian, length at most RELAY_FRAME_MAX). */
enum relay_frame {
	RELAY_IN = 1,	/* bytes for COMMAND's stdin (local -> serve) */
	RELAY_OUT = 2,	/* bytes of its stdout (serve -> local) */
	RELAY_ERR = 3,	/* bytes of its stderr (serve -> local) */
	RELAY_EOF = 4,	/* u32: the stream of that type ended */
	RELAY_EXIT = 5, /* u32: ssh's exit status for COMMAND's end (serve -> local) */
};
#define RELAY_FRAME_MAX 65536

struct relay;
/* A relay on the connection sock; sources are read into frames of their
 * type, sinks get the bytes of frames of theirs. */
struct relay *relay_new(int sock);
void relay_source(struct relay *r, int fd, uint32_t type);
void relay_sink(struct relay *r, int fd, uint32_t type);
/* serve: also poll fd (a pidfd); on_ready is called when it is readable */
void relay_watch(struct relay *r, int fd, void (*on_ready)(struct relay *r, void *arg), void *arg);
/* Queue a frame for the peer. */
void relay_send(struct relay *r, uint32_t type, const void *data, uint32_t len);
/* Runs until done(r) says so, or for timeout_ms (-1: no bound; ETIMEDOUT):
 * 0, or -1 with err (a malformed frame, the time is up). relay_exit_status:
 * the EXIT frame's value, or -1. */
int relay_run(struct relay *r, int (*done)(struct relay *r), int timeout_ms, char *err,
	      size_t errlen);
int relay_exit_status(const struct relay *r);
int relay_sources_done(const struct relay *r);
int relay_sinks_flushed(const struct relay *r);
int relay_sent_all(const struct relay *r);
int relay_peer_closed(const struct relay *r);
void relay_free(struct relay *r);

/* The programs next to this one: stasis-ssh itself, and stasis (bin/stasis
 * from lib/ or lib/stasis/). 0, or -1 with err. */
int ssh_self_path(char *buf, size_t size);
int ssh_stasis_path(char *buf, size_t size, char *err, size_t errlen);

/* file: the program the caller asked for (ssh, searched in PATH if it has no
 * slash); argv: its arguments, argv[0] included. */
int ssh_local(const char *file, int argc, char **argv);
int ssh_bootstrap(void);
int ssh_serve(void);

#endif
