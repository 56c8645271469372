/* sock_stdio: a child whose stdin and stdout are a Unix socket to its parent
 * (MPICH's proxy gives each rank such a socket), across checkpoint/restart.
 *
 *   sock_stdio VERIFY_FILE
 *
 * The parent makes a stream socketpair and forks; the child puts its end on
 * fds 0 and 1 (fd 2 stays the harness's file) and answers every line it reads
 * on stdin with "echo: LINE" on stdout; "stat" answers whether fds 0 and 1 are
 * still one socket. The parent sends a numbered line every tick and checks
 * the answer; one line is left unread in each direction at "ready" (bytes in
 * flight at every checkpoint). After VERIFY_FILE: every answer came back in
 * order, and the child's stdin and stdout are still its socket.
 */
#include "zdtm.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int sock;
static long sent, answered;

static void child(void)
{
	char line[256], out[300];
	for (;;) {
		if (zd_read_line(0, line, sizeof(line)) < 0)
			_exit(0);
		if (!strcmp(line, "stat")) {
			struct stat a, b;
			int ok = fstat(0, &a) == 0 && fstat(1, &b) == 0 && S_ISSOCK(a.st_mode) &&
				 a.st_ino == b.st_ino;
			snprintf(out, sizeof(out), "stdio is %s\n", ok ? "the socket" : "lost");
		} else {
			snprintf(out, sizeof(out), "echo: %s\n", line);
		}
		if (write(1, out, strlen(out)) != (ssize_t)strlen(out))
			_exit(1);
	}
}

static void send_line(const char *s)
{
	if (write(sock, s, strlen(s)) != (ssize_t)strlen(s))
		zd_fail("send '%s': %s", s, strerror(errno));
}

static void expect(const char *want)
{
	char got[300];
	if (zd_read_line(sock, got, sizeof(got)) < 0)
		zd_fail("no answer for '%s': %s", want, errno ? strerror(errno) : "end of file");
	else if (strcmp(got, want))
		zd_fail("answer '%s', want '%s'", got, want);
}

/* one question, and the answer to the one before (always one in flight) */
static void tick(void)
{
	char q[64], a[80];
	if (zd_failed)
		return;
	snprintf(q, sizeof(q), "line %ld\n", ++sent);
	send_line(q);
	snprintf(a, sizeof(a), "echo: line %ld", ++answered);
	expect(a);
}

int main(int argc, char **argv)
{
	int sv[2];
	zd_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		zd_fail("socketpair: %s", strerror(errno));
		return zd_finish();
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		close(sv[1]);
		child();
	}
	close(sv[1]);
	sock = sv[0];
	send_line("line 1\n");
	sent = 1;
	zd_ready();
	zd_wait_tick(tick);
	char a[80];
	snprintf(a, sizeof(a), "echo: line %ld", ++answered);
	expect(a);
	send_line("stat\n");
	expect("stdio is the socket");
	close(sock);
	int status;
	zd_check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "the child did not end cleanly (status %#x)", status);
	return zd_finish();
}
