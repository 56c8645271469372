/* Terminals across a restart (run it under `stasis launch` on a terminal):
 *   tty_modes VERIFY_FILE RESULT_FILE
 * - its own terminal (launch's pty) in raw mode without echo, with a changed
 *   interrupt character: kept;
 * - a pty pair of its own: the master here, the slave the controlling terminal
 *   of a child that leads its own session and answers lines; window size,
 *   termios, the pty's number and the child's session keep working.
 * stdout is RESULT_FILE (stdin and stderr stay on the terminal): "ready", the
 * size of its own terminal ("size ROWSxCOLS", which follows the terminal
 * restart runs in), then the verdict. */
#include "zdtm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

static struct termios own0, inner0;
static char inner_name[64];
static const struct winsize inner_ws = {37, 101, 0, 0};

/* The child: leads a session whose controlling terminal is the slave. */
static void child(const char *slave)
{
	char line[128], out[256];
	setsid();
	int fd = open(slave, O_RDWR); /* becomes the controlling terminal */
	if (fd < 0)
		_exit(3);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	while (zd_read_line(0, line, sizeof(line)) >= 0) {
		int ctty = open("/dev/tty", O_RDWR);
		int n = snprintf(out, sizeof(out), "%s sid=%d fg=%d me=%d tty=%s ctty=%d\n", line,
				 (int)tcgetsid(0), (int)tcgetpgrp(0), (int)getpid(),
				 ttyname(0) ? ttyname(0) : "?", ctty >= 0);
		if (ctty >= 0)
			close(ctty);
		if (write(1, out, n) < 0)
			_exit(4);
	}
	_exit(0);
}

static void set_own_terminal(void)
{
	struct termios t;
	tcgetattr(0, &t);
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	t.c_cc[VINTR] = 2; /* ^B */
	tcsetattr(0, TCSANOW, &t);
	tcgetattr(0, &own0);
}

static int make_pty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		perror("posix_openpt");
		exit(2);
	}
	snprintf(inner_name, sizeof(inner_name), "%s", ptsname(m));
	struct termios t;
	tcgetattr(m, &t);
	t.c_lflag &= ~ECHO; /* so that the master reads only answers */
	t.c_oflag &= ~ONLCR;
	t.c_cc[VKILL] = 11;
	tcsetattr(m, TCSANOW, &t);
	tcgetattr(m, &inner0);
	ioctl(m, TIOCSWINSZ, &inner_ws);
	return m;
}

static void ask(int m, const char *q, pid_t pid)
{
	char want[128], line[256];
	dprintf(m, "%s\n", q);
	if (zd_read_line(m, line, sizeof(line)) < 0) {
		zd_fail("no answer from the child on %s: %s", inner_name, strerror(errno));
		return;
	}
	snprintf(want, sizeof(want), "%s sid=%d fg=%d me=%d tty=%s ctty=1", q, (int)pid, (int)pid,
		 (int)pid, inner_name);
	zd_check(!strcmp(line, want), "child answered '%s', want '%s'", line, want);
}

static int same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && !memcmp(a->c_cc, b->c_cc, NCCS);
}

static void verify(int m, pid_t pid)
{
	struct termios t;
	struct winsize ws;
	tcgetattr(0, &t);
	zd_check(same_termios(&t, &own0), "own terminal settings changed (lflag %#x, was %#x)",
		 t.c_lflag, own0.c_lflag);
	tcgetattr(m, &t);
	zd_check(same_termios(&t, &inner0), "inner pty settings changed (lflag %#x, was %#x)",
		 t.c_lflag, inner0.c_lflag);
	ioctl(m, TIOCGWINSZ, &ws);
	zd_check(ws.ws_row == inner_ws.ws_row && ws.ws_col == inner_ws.ws_col,
		 "inner pty size %dx%d, was %dx%d", ws.ws_row, ws.ws_col, inner_ws.ws_row,
		 inner_ws.ws_col);
	zd_check(!strcmp(ptsname(m), inner_name), "inner pty is %s, was %s", ptsname(m),
		 inner_name);
	ask(m, "after", pid);
	ioctl(0, TIOCGWINSZ, &ws);
	char size[64];
	snprintf(size, sizeof(size), "size %dx%d", ws.ws_row, ws.ws_col);
	zd_say(size);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	int out = argc > 2 ? open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
	if (out < 0 || !isatty(0) || dup2(out, 1) < 0)
		return fprintf(stderr, "usage: tty_modes VERIFY RESULT, on a terminal\n"), 2;
	close(out);
	set_own_terminal();
	int m = make_pty();
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		child(inner_name);
	}
	ask(m, "before", pid);
	zd_ready();
	zd_wait();
	verify(m, pid);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return zd_finish();
}
