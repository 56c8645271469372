/* The local relay: what `ssh [OPTIONS] HOST COMMAND` became in a process of
 * the computation (see ssh.h). It runs the real ssh outside the computation
 * only to start the bootstrap on HOST, and gives it over the ssh channel
 * (never on a command line or in an environment) the coordinator's token and
 * the cookie its relay must show. Then it relays its own stdin, stdout and
 * stderr, which are the program's pipes to "ssh", and exits with COMMAND's
 * status as ssh would (255 when it could not run it). */
#include "ssh/ssh.h"
#include "common/io.h"
#include "common/log.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SSH_FAILED 255 /* ssh's own status for a failure of its own */

/* The real ssh, as the program asked for it: a process of the computation,
 * as before this relay existed (the runtime's exec wrapper does not send a
 * relay's exec of ssh back here). */
static int run_real(const char *file, char **argv, const char *why)
{
	debug("pid %d: %s runs as it is: %s", getpid(), file, why);
	execvp(file, argv);
	error("cannot run %s: %s", file, strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

static int remote_coordinator(const char **host)
{
	const char *h = getenv("STASIS_COORD_HOST");
	*host = h;
	return h && *h && strcmp(h, "127.0.0.1") && strcmp(h, "localhost") && strcmp(h, "::1");
}

/* Everything the bootstrap needs; a cookie of our own in cookie. */
static int make_setup(struct ssh_setup *s, const char *host, char *cmd,
		      uint8_t cookie[SSH_COOKIE_LEN])
{
	uint8_t token[PROTO_TOKEN_LEN];
	char err[1024];
	const char *v;
	memset(s, 0, sizeof(*s));
	uint16_t port = proto_default_port();
	if (proto_token_load(port, token, err, sizeof(err)) < 0)
		return error("ssh to run '%s': %s", cmd, err);
	proto_token_to_hex(token, s->token_hex);
	sodium_memzero(token, sizeof(token));
	randombytes_buf(cookie, SSH_COOKIE_LEN);
	sodium_bin2hex(s->cookie_hex, sizeof(s->cookie_hex), cookie, SSH_COOKIE_LEN);
	snprintf(s->coord_host, sizeof(s->coord_host), "%s", host);
	s->port = port;
	if ((v = getenv("STASIS_COMP_ID")) && strlen(v) == 16)
		snprintf(s->comp, sizeof(s->comp), "%s", v);
	if ((v = getenv("STASIS_CKPT_DIR")))
		snprintf(s->ckpt_dir, sizeof(s->ckpt_dir), "%s", v);
	if ((v = getenv("STASIS_RUN_DIR")))
		snprintf(s->run_dir, sizeof(s->run_dir), "%s", v);
	s->cmd = cmd;
	return 0;
}

/* `stasis nocheckpoint FILE -T OPTIONS HOST 'SELF' --bootstrap` on pipes:
 * its pid; *to and *from the pipes' other ends. */
static pid_t start_bootstrap(const char *file, char **argv, const struct ssh_args *a, int *to,
			     int *from)
{
	char stasis[4096], self[4096], remote[4200], err[512];
	int in[2], out[2];
	if (ssh_stasis_path(stasis, sizeof(stasis), err, sizeof(err)) < 0 ||
	    ssh_self_path(self, sizeof(self)) < 0)
		return error("%s", err[0] ? err : "cannot find stasis-ssh's own path");
	snprintf(remote, sizeof(remote), "'%s' --bootstrap", self);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return error("cannot create a pipe: %s", strerror(errno));
	char **v = calloc(a->dest + 8, sizeof(char *));
	int n = 0;
	if (!v)
		return error("out of memory");
	v[n++] = stasis;
	v[n++] = "nocheckpoint";
	v[n++] = (char *)file;
	v[n++] = "-T"; /* no terminal: the relay has none to give */
	for (int i = 1; i < a->dest; i++)
		v[n++] = argv[i];
	v[n++] = argv[a->dest];
	v[n++] = remote;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(stasis, v);
		error("cannot run %s: %s", stasis, strerror(errno));
		_exit(SSH_FAILED);
	}
	free(v);
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	if (pid < 0)
		return error("cannot fork: %s", strerror(errno));
	return pid;
}

/* connect(2) of a non-blocking socket, within SSH_SETUP_MS. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n, e = 0;
	socklen_t l = sizeof(e);
	if (connect(fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	while ((n = poll(&p, 1, SSH_SETUP_MS)) < 0 && errno == EINTR)
		;
	if (n == 0)
		return errno = ETIMEDOUT, -1;
	if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return -1;
	return e ? (errno = e, -1) : 0;
}

/* Connected to the remote relay at addr:port, cookie sent: the socket, or -1. */
static int connect_relay(const char *addr, const char *port, const uint8_t *cookie)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
	int rc = getaddrinfo(addr, port, &hints, &ai);
	if (rc)
		return error("bad relay address %s: %s", addr, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect_within(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		error("cannot connect to the relay on %s port %s: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		send(fd, cookie, SSH_COOKIE_LEN, MSG_NOSIGNAL); /* an empty send buffer takes it */
	return fd;
}

/* The bootstrap's answer, "ok ADDR PORT" or "error TEXT": the relay's
 * connection, or -1. ssh itself has ended (it did what it was for). */
static int hear_bootstrap(pid_t pid, int from, const char *host, const uint8_t *cookie)
{
	char line[4096], addr[64], port[16];
	int got = ssh_read_line(from, line, sizeof(line), SSH_SETUP_MS);
	int saved = errno, st = 0;
	close(from);
	if (got < 0)
		kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got < 0)
		return error("ssh to %s did not start the remote relay within %d s (%s; ssh "
			     "exited with status %d): is stasis installed at the same path there?",
			     host, SSH_SETUP_MS / 1000, strerror(saved),
			     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	if (!strncmp(line, "error ", 6))
		return error("on %s: %s", host, line + 6);
	if (sscanf(line, "ok %63s %15s", addr, port) != 2)
		return error("unexpected answer from the bootstrap on %s: '%.80s'", host, line);
	return connect_relay(addr, port, cookie);
}

static int local_done(struct relay *r)
{
	return relay_sinks_flushed(r) && (relay_exit_status(r) >= 0 || relay_peer_closed(r));
}

static int relay_stdio(int sock, int no_stdin, const char *host)
{
	char err[512];
	struct relay *r = relay_new(sock);
	if (!r)
		return error("out of memory"), SSH_FAILED;
	uint32_t in = RELAY_IN;
	if (no_stdin)
		relay_send(r, RELAY_EOF, &in, sizeof(in));
	else
		relay_source(r, 0, RELAY_IN);
	relay_sink(r, 1, RELAY_OUT);
	relay_sink(r, 2, RELAY_ERR);
	int rc = relay_run(r, local_done, -1, err, sizeof(err));
	int st = relay_exit_status(r);
	relay_free(r);
	close(sock);
	if (rc < 0 || st < 0)
		return error("the connection to the command on %s ended before its exit status%s%s",
			     host, rc < 0 ? ": " : "", rc < 0 ? err : ""),
		       SSH_FAILED;
	return st;
}

int ssh_local(const char *file, int argc, char **argv)
{
	struct ssh_args a;
	struct ssh_setup s;
	uint8_t cookie[SSH_COOKIE_LEN];
	const char *coord;
	int to = -1, from = -1;
	if (ssh_parse_args(argc, argv, &a) < 0)
		return run_real(file, argv, a.why);
	if (!remote_coordinator(&coord))
		return run_real(file, argv,
				"the coordinator is on this host only (launch with --coord-host "
				"ADDR to make commands run over ssh part of the computation)");
	char *cmd = ssh_join_command(argc, argv, a.cmd);
	const char *host = argv[a.dest];
	signal(SIGPIPE, SIG_IGN);
	if (!cmd || make_setup(&s, coord, cmd, cookie) < 0)
		return SSH_FAILED;
	char *msg;
	size_t len;
	pid_t pid = start_bootstrap(file, argv, &a, &to, &from);
	if (pid < 0 || ssh_setup_format(&s, &msg, &len) < 0)
		return SSH_FAILED;
	sodium_memzero(s.token_hex, sizeof(s.token_hex));
	if (write_full(to, msg, len) < 0)
		debug("ssh to %s took only part of the setup: %s", host, strerror(errno));
	sodium_memzero(msg, len);
	free(msg);
	close(to);
	int sock = hear_bootstrap(pid, from, host, cookie);
	free(cmd);
	return sock < 0 ? SSH_FAILED : relay_stdio(sock, a.no_stdin, host);
}
