/* stasis launch with a terminal on stdin: the program gets a pty of its own.
 * It runs as the leader of a new session whose controlling terminal is the
 * pty's slave (its process group in the foreground), and launch relays between
 * the user's terminal and the master. Signals sent to launch are passed on to
 * the program, and when the program stops (^Z), launch stops too. The pty is then part of the
 * computation's state (termios, window size, foreground group, job control) and a restart in any
 * terminal makes a new one just like it (restore/fd_tty.c). */
#include "cli/cli.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/sigfwd.h"
#include "common/ttyrelay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* The new pty starts with the user's terminal settings and size. */
static void copy_terminal(int from, int to)
{
	struct termios tio;
	struct winsize ws;
	if (tcgetattr(from, &tio) == 0)
		tcsetattr(to, TCSANOW, &tio);
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* In the child: lead a session with the slave as controlling terminal, on
 * every one of fds 0-2 that was a terminal, then become the program. */
static void run_program(int slave, char **argv)
{
	int tty[3];
	for (int fd = 0; fd < 3; fd++)
		tty[fd] = isatty(fd);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		die("cannot give %s its own terminal: %s", argv[0], strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (tty[fd] && dup2(slave, fd) < 0)
			die("cannot put the terminal on fd %d: %s", fd, strerror(errno));
	close(slave);
	execvp(argv[0], argv);
	error("cannot run %s: %s", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static pid_t program;

/* A signal sent to launch is the program's (common/sigfwd.h): it runs in a
 * session of its own, which no signal to our process group reaches. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int e = errno;
	if (program > 0 && sigfwd_wanted(sig, si, 0))
		kill(program, sig);
	errno = e;
}

static int exit_like(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

int cli_launch_tty(char **argv, int hold)
{
	int master, slave, index;
	char num[16];
	if (tty_open_pty(-1, &master, &slave, &index) < 0)
		return error("cannot open a pty for %s: %s (use --no-tty to run it on your "
			     "terminal directly)",
			     argv[0], strerror(errno));
	copy_terminal(0, slave);
	snprintf(num, sizeof(num), "%d", index);
	setenv("STASIS_TTY", num, 1);
	cli_launching(hold, 1);
	pid_t pid = fork();
	if (pid < 0) {
		cli_launching(hold, 0);
		return error("cannot fork: %s", strerror(errno));
	}
	if (pid == 0)
		run_program(slave, argv); /* the held connection closes at exec */
	close(hold);
	program = pid;
	sigfwd_install(pass_on);
	close(slave);
	struct tty_relay r = {.master = master,
			      .in = 0,
			      .out = 1,
			      .done_fd = -1,
			      .child = pid,
			      .port = proto_default_port()};
	tty_raw_begin(0);
	int rc = tty_relay_run(&r);
	tty_raw_end();
	return rc < 0 ? 1 : exit_like(r.status);
}
