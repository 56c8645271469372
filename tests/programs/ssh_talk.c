/* ssh_talk: talks to a command it starts on another host through ssh, over
 * ssh's stdin and stdout, as MPI launchers and job scripts do.
 *
 *   ssh_talk VERIFY SSH_CONFIG HOST COMMAND
 *
 * Runs `ssh -F SSH_CONFIG HOST COMMAND` on pipes, where COMMAND is
 * echo_lines (it answers every line with "got N: LINE"), then say something
 * on its stderr. Every 20 ms it sends "line K" and reads the answer; every
 * answer must be "got K: line K" (K counts on across checkpoints and
 * restarts: nothing lost, nothing twice); "answered K" on stdout every 25
 * lines shows that it talks on. At VERIFY it closes ssh's stdin:
 * COMMAND prints "eof after K" and its stderr line, and ssh exits 0. */
#include "zdtm.h"

#include <sys/wait.h>

static int to, from, errfd;
static pid_t ssh;
static int k;

static void expect_line(int fd, const char *want)
{
	char line[512];
	if (zd_read_line(fd, line, sizeof(line)) < 0)
		zd_fail("ssh's %s ended before '%s'", fd == from ? "stdout" : "stderr", want);
	else if (strcmp(line, want))
		zd_fail("ssh's %s said '%s', expected '%s'", fd == from ? "stdout" : "stderr", line,
			want);
}

static void tick(void)
{
	char line[64], want[96];
	if (zd_failed)
		return;
	k++;
	int n = snprintf(line, sizeof(line), "line %d\n", k);
	if (write(to, line, n) != n) {
		zd_fail("writing to ssh: %s", strerror(errno));
		return;
	}
	line[n - 1] = 0;
	snprintf(want, sizeof(want), "got %d: %s", k, line);
	expect_line(from, want);
	if (k % 25 == 0 && !zd_failed) {
		snprintf(want, sizeof(want), "answered %d", k);
		zd_say(want);
	}
}

static void start(char **argv)
{
	int in[2], out[2], err[2];
	if (pipe(in) < 0 || pipe(out) < 0 || pipe(err) < 0)
		exit(2);
	ssh = fork();
	if (ssh == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		execlp("ssh", "ssh", "-F", argv[2], argv[3], argv[4], (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	to = in[1];
	from = out[0];
	errfd = err[0];
}

int main(int argc, char **argv)
{
	char want[64];
	zd_init(argc, argv);
	if (argc != 5) {
		fprintf(stderr, "usage: ssh_talk VERIFY SSH_CONFIG HOST COMMAND\n");
		return 2;
	}
	start(argv);
	expect_line(from, "ready");
	tick();
	zd_ready();
	zd_wait_tick(tick);
	close(to);
	snprintf(want, sizeof(want), "eof after %d", k);
	expect_line(from, want);
	expect_line(errfd, "bye");
	int st;
	while (waitpid(ssh, &st, 0) < 0 && errno == EINTR)
		;
	zd_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ssh ended with status %#x", st);
	printf("%d lines over ssh\n", k);
	return zd_finish();
}
