/* The remote relay: `stasis-ssh --serve`, a process of the computation on
 * HOST (started by the bootstrap with stasis launch). It listens where the
 * bootstrap says, accepts the local relay (a peer without the cookie is
 * closed), runs COMMAND with the user's shell on three pipes, as sshd would,
 * and relays them until COMMAND has ended and its output is sent; then it
 * sends COMMAND's status and waits for the local relay to close. If the
 * local relay goes away first, COMMAND is left to run, its pipes closed (it
 * sees the end of its input and EPIPE, as when an ssh session breaks). */
#include "ssh/ssh.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SETUP_FD 3
#define CLOSE_WAIT_MS 10000 /* for the local relay to close once it has the status */

static pid_t child = -1;
static int child_status = -1, pidfd = -1, exit_sent;

static int listen_on(const char *addr, unsigned *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_PASSIVE},
			*ai;
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	int rc = getaddrinfo(addr, "0", &hints, &ai);
	if (rc)
		return error("bad address %s: %s", addr, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &l) < 0) {
		error("cannot listen on %s: %s", addr, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* The cookie's 16 bytes from fd within ms: 1 if they match. */
static int shows_cookie(int fd, const uint8_t *cookie, int ms)
{
	uint8_t got[SSH_COOKIE_LEN];
	return ssh_read_exact(fd, got, sizeof(got), ms) == 0 &&
	       sodium_memcmp(got, cookie, sizeof(got)) == 0;
}

/* The local relay's connection, within SSH_SETUP_MS: others are closed. */
static int accept_relay(int lfd, const uint8_t *cookie)
{
	long long end = ssh_now_ms() + SSH_SETUP_MS;
	for (long long left; (left = end - ssh_now_ms()) > 0;) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (shows_cookie(fd, cookie, 5000))
			return fd;
		warn("closed a connection to the relay that did not show its cookie");
		close(fd);
	}
	return error("the local relay did not connect within %d s", SSH_SETUP_MS / 1000);
}

/* COMMAND with the user's shell, as sshd runs it, on three new pipes: our
 * ends in fds[0] (its stdin), fds[1] (stdout), fds[2] (stderr). */
static pid_t run_command(const char *cmd, int fds[3])
{
	struct passwd *pw = getpwuid(getuid());
	const char *shell = pw && pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
	const char *base = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
	int p[3][2];
	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			return error("cannot create a pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[0][0], 0);
		dup2(p[1][1], 1);
		dup2(p[2][1], 2);
		signal(SIGPIPE, SIG_DFL);
		execl(shell, base, "-c", cmd, (char *)NULL);
		error("cannot run %s: %s", shell, strerror(errno));
		_exit(127);
	}
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	fds[0] = p[0][1];
	fds[1] = p[1][0];
	fds[2] = p[2][0];
	return pid;
}

static void on_child(struct relay *r, void *arg)
{
	int st;
	(void)arg;
	if (waitpid(child, &st, WNOHANG) != child)
		return;
	child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 255; /* ssh's, for a signal */
	relay_watch(r, -1, NULL, NULL);
	close(pidfd);
}

static int serve_done(struct relay *r)
{
	if (relay_peer_closed(r))
		return 1;
	if (child_status >= 0 && relay_sources_done(r) && !exit_sent) {
		uint32_t st = (uint32_t)child_status;
		relay_send(r, RELAY_EXIT, &st, sizeof(st));
		exit_sent = 1;
	}
	return exit_sent && relay_sent_all(r);
}

static int close_done(struct relay *r)
{
	return relay_peer_closed(r);
}

static int serve(int sock, const char *cmd)
{
	int fds[3] = {-1, -1, -1};
	char err[512];
	struct relay *r = relay_new(sock);
	if (!r || (child = run_command(cmd, fds)) < 0)
		return 1;
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0)
		return error("pidfd_open of pid %d: %s", (int)child, strerror(errno));
	relay_sink(r, fds[0], RELAY_IN);
	relay_source(r, fds[1], RELAY_OUT);
	relay_source(r, fds[2], RELAY_ERR);
	relay_watch(r, pidfd, on_child, NULL);
	if (relay_run(r, serve_done, -1, err, sizeof(err)) < 0)
		return error("relay: %s", err);
	if (!exit_sent)
		return error("the local relay went away; the command (pid %d) goes on", (int)child);
	shutdown(sock, SHUT_WR);
	if (relay_run(r, close_done, CLOSE_WAIT_MS, err, sizeof(err)) < 0)
		warn("the local relay did not close: %s", err);
	relay_free(r);
	return 0;
}

int ssh_serve(void)
{
	struct ssh_setup s;
	char err[512];
	uint8_t cookie[SSH_COOKIE_LEN];
	unsigned port = 0;
	signal(SIGPIPE, SIG_IGN);
	if (ssh_setup_read(SETUP_FD, &s, SSH_SETUP_MS, err, sizeof(err)) < 0)
		return error("%s", err);
	if (sodium_hex2bin(cookie, sizeof(cookie), s.cookie_hex, strlen(s.cookie_hex), NULL, NULL,
			   NULL) < 0 ||
	    !s.addr[0])
		return error("the setup lacks the cookie or the address");
	int lfd = listen_on(s.addr, &port);
	if (lfd < 0)
		return 1;
	dprintf(SETUP_FD, "port %u\n", port);
	close(SETUP_FD);
	int sock = accept_relay(lfd, cookie);
	close(lfd);
	if (sock < 0)
		return 1;
	return serve(sock, s.cmd);
}
