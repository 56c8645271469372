/* The bootstrap: `stasis-ssh --bootstrap`, run by sshd on HOST for the local
 * relay, outside any computation. It reads the setup from the ssh channel,
 * keeps the coordinator's token in <run dir>/ssh-<comp>.token (0600), starts
 * the remote relay with `stasis launch --coord-host ...` in a session of its
 * own (so that it outlives this ssh session: its stdio is a log file, never
 * the channel), tells it the cookie and the command over a socket pair, and
 * answers the local relay with the address and port the relay listens on:
 * the address sshd was reached at ($SSH_CONNECTION), which the local host
 * can reach. Then it exits, and so does the real ssh. */
#include "ssh/ssh.h"
#include "common/io.h"
#include "common/log.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int answer_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "error TEXT" to the local relay (one line), and status 1. */
static int answer_error(const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++)
		if (*p == '\n')
			*p = ' ';
	printf("error %s\n", text);
	fflush(stdout);
	return 1;
}

/* The address this sshd was reached at: $SSH_CONNECTION's third word. */
static int server_addr(char *addr, size_t size)
{
	const char *c = getenv("SSH_CONNECTION");
	char a[64];
	if (!c || sscanf(c, "%*s %*s %63s", a) != 1)
		return -1;
	snprintf(addr, size, "%s", a);
	return 0;
}

static int save_token(const struct ssh_setup *s, char *path, size_t size, char *err, size_t errlen)
{
	uint8_t token[PROTO_TOKEN_LEN];
	char name[64];
	if (proto_token_from_hex(s->token_hex, token) < 0)
		return errf(err, errlen, "no token in the setup");
	snprintf(name, sizeof(name), "ssh-%s.token", s->comp[0] ? s->comp : "0");
	int rc = proto_token_save(name, token, path, size, err, errlen);
	sodium_memzero(token, sizeof(token));
	return rc;
}

/* stdout and stderr of the remote relay and of its launch. */
static int open_log(const struct ssh_setup *s, char *path, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "ssh-%s.log", s->comp[0] ? s->comp : "0");
	if (proto_run_path(name, path, size) < 0)
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static void exec_launch(const struct ssh_setup *s, const char *token, int log, int sp)
{
	char stasis[4096], self[4096], port[16], err[512];
	const char *v[16];
	int n = 0, null = open("/dev/null", O_RDONLY);
	setsid();
	dup2(null, 0);
	dup2(log, 1);
	dup2(log, 2);
	dup2(sp, 3); /* without close-on-exec: the relay's setup channel */
	if (ssh_stasis_path(stasis, sizeof(stasis), err, sizeof(err)) < 0 ||
	    ssh_self_path(self, sizeof(self)) < 0) {
		error("%s", err[0] ? err : "cannot find stasis-ssh's own path");
		_exit(1);
	}
	snprintf(port, sizeof(port), "%u", s->port);
	v[n++] = stasis;
	v[n++] = "launch";
	v[n++] = "--coord-host";
	v[n++] = s->coord_host;
	v[n++] = "-p";
	v[n++] = port;
	v[n++] = "--token-file";
	v[n++] = token;
	if (s->ckpt_dir[0]) {
		v[n++] = "--ckpt-dir";
		v[n++] = s->ckpt_dir;
	}
	v[n++] = "--no-tty";
	v[n++] = "--";
	v[n++] = self;
	v[n++] = "--serve";
	v[n] = NULL;
	execv(stasis, (char **)v);
	error("cannot run %s: %s", stasis, strerror(errno));
	_exit(127);
}

/* The last lines of the log: why the launch failed. */
static void log_tail(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end = fd < 0 ? 0 : lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)size - 1 ? end - (off_t)size + 1 : 0;
	ssize_t n = fd < 0 ? 0 : pread_full(fd, buf, size - 1, from);
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Start the remote relay and learn its port: 0, or -1 with err. */
static int start_relay(const struct ssh_setup *s, const char *token, const char *addr,
		       unsigned *port, char *err, size_t errlen)
{
	char logpath[4096], line[64], *msg;
	size_t len;
	int sp[2], log = open_log(s, logpath, sizeof(logpath));
	if (log < 0)
		return errf(err, errlen, "cannot open the relay's log %s: %s", logpath,
			    strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return errf(err, errlen, "cannot make a socket pair: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0)
		exec_launch(s, token, log, sp[1]);
	close(sp[1]);
	close(log);
	if (pid < 0)
		return errf(err, errlen, "cannot fork: %s", strerror(errno));
	struct ssh_setup r = {.cmd = s->cmd};
	memcpy(r.cookie_hex, s->cookie_hex, sizeof(r.cookie_hex));
	snprintf(r.addr, sizeof(r.addr), "%s", addr);
	if (ssh_setup_format(&r, &msg, &len) < 0)
		return errf(err, errlen, "out of memory");
	int sent = write_full(sp[0], msg, len);
	free(msg);
	if (sent < 0 || ssh_read_line(sp[0], line, sizeof(line), SSH_SETUP_MS) < 0 ||
	    sscanf(line, "port %u", port) != 1) {
		char tail[1024];
		kill(pid, SIGKILL); /* it may be the relay already, waiting: not to stay */
		log_tail(logpath, tail, sizeof(tail));
		return errf(err, errlen, "the relay did not start within %d s: %s",
			    SSH_SETUP_MS / 1000, tail[0] ? tail : "(nothing in its log)");
	}
	close(sp[0]);
	return 0;
}

int ssh_bootstrap(void)
{
	struct ssh_setup s;
	char err[2048], token[4096], addr[64];
	unsigned port;
	if (ssh_setup_read(0, &s, SSH_SETUP_MS, err, sizeof(err)) < 0)
		return answer_error("%s", err);
	if (s.run_dir[0])
		setenv("STASIS_RUN_DIR", s.run_dir, 1);
	if (!s.coord_host[0] || !s.port || !s.cookie_hex[0])
		return answer_error("the setup lacks the coordinator or the cookie");
	if (server_addr(addr, sizeof(addr)) < 0)
		return answer_error("$SSH_CONNECTION is not set: not started by sshd");
	if (save_token(&s, token, sizeof(token), err, sizeof(err)) < 0 ||
	    start_relay(&s, token, addr, &port, err, sizeof(err)) < 0)
		return answer_error("%s", err);
	printf("ok %s %u\n", addr, port);
	fflush(stdout);
	return 0;
}
