/* The terminal relay of launch and restart; see ttyrelay.h. */
#include "common/ttyrelay.h"
#include "common/io.h"
#include "common/log.h"
#include "common/ttymodes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_HELD 4096 /* ptys taken to reach a wanted number */

static int raw_fd = -1;
static int term_fd = -1; /* the user's terminal, raw or not */
static struct termios saved;
static int wake[2] = {-1, -1}; /* self-pipe: 'w' window size, 'c' child, 'o' continued */
static struct tty_modes modes; /* what the computation switched on in the user's terminal */

void tty_raw_end(void)
{
	if (raw_fd >= 0)
		tcsetattr(raw_fd, TCSADRAIN, &saved);
	raw_fd = -1;
}

/* A signal that ends us must not leave the user's terminal raw. */
static void on_fatal(int sig)
{
	tty_raw_end();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A signal's handler, unless the caller already catches or ignores it. */
static void catch_unless_handled(int sig, void (*fn)(int))
{
	struct sigaction old;
	if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
	    !(old.sa_flags & SA_SIGINFO))
		signal(sig, fn);
}

/* Whether we are in the terminal's foreground process group: a background job
 * must neither change the terminal's modes nor read it. */
static int foreground(int fd)
{
	pid_t fg = tcgetpgrp(fd);
	return fg < 0 || fg == getpgrp();
}

void tty_raw_begin(int fd)
{
	struct termios raw;
	static int have_saved;
	term_fd = fd;
	if (raw_fd >= 0 || !isatty(fd) || !foreground(fd))
		return;
	/* the user's own modes, as first found: when a stopped job is brought back
	 * with fg, the shell restores the raw modes it had */
	if (!have_saved && tcgetattr(fd, &saved) < 0)
		return;
	raw = saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return;
	raw_fd = fd;
	catch_unless_handled(SIGTERM, on_fatal);
	catch_unless_handled(SIGHUP, on_fatal);
	if (!have_saved++)
		atexit(tty_raw_end);
}

static void on_wake(int sig)
{
	int e = errno;
	char c = sig == SIGWINCH ? 'w' : sig == SIGCONT ? 'o' : 'c';
	if (write(wake[1], &c, 1) < 0) {
		/* full: a wakeup is pending anyway */
	}
	errno = e;
}

static void copy_winsize(const struct tty_relay *r)
{
	struct winsize ws;
	if (ioctl(r->in, TIOCGWINSZ, &ws) == 0)
		ioctl(r->master, TIOCSWINSZ, &ws);
}

/* One read from `from` written whole to `to`; 0 at EOF or EIO (a pty whose
 * slaves are all closed), 1 after data, -1 on an error. */
static int pass(int from, int to, struct tty_modes *follow)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n < 0 && errno == EIO)
		return 0;
	if (n <= 0)
		return n;
	if (follow)
		tty_modes_feed(follow, buf, n);
	return write_full(to, buf, n) < 0 ? -1 : 1;
}

/* Keep the modes where the next checkpoint finds them, when they changed. */
static void publish_modes(const struct tty_relay *r, uint16_t *last)
{
	uint16_t now = tty_modes_bits(&modes);
	if (r->port && now != *last)
		tty_modes_save(r->port, now);
	*last = now;
}

/* At restart: the new terminal is put in the modes the program left on. */
static void begin_modes(const struct tty_relay *r)
{
	char seq[256];
	tty_modes_init(&modes);
	tty_modes_set_bits(&modes, r->modes);
	size_t n = tty_modes_set_seq(&modes, seq, sizeof(seq));
	if (n)
		write_full(r->out, seq, n);
	if (r->port)
		tty_modes_save(r->port, r->modes);
}

/* What the computation wrote just before it ended. */
static void drain(const struct tty_relay *r)
{
	char buf[16384];
	ssize_t n;
	int fl = fcntl(r->master, F_GETFL);
	fcntl(r->master, F_SETFL, fl | O_NONBLOCK);
	while ((n = read(r->master, buf, sizeof(buf))) > 0) {
		tty_modes_feed(&modes, buf, n);
		if (write_full(r->out, buf, n) < 0)
			break;
	}
	fcntl(r->master, F_SETFL, fl);
}

/* The computation is gone (ended, or killed by a checkpoint): switch off the
 * modes it left on in the user's terminal (alternate screen, mouse, ...). */
static void undo_modes(const struct tty_relay *r)
{
	char seq[256];
	size_t n = tty_modes_reset_seq(&modes, seq, sizeof(seq));
	if (n)
		write_full(r->out, seq, n);
	tty_modes_init(&modes);
	if (r->port)
		tty_modes_remove(r->port);
}

/* We were continued (fg, bg): raw mode only in the foreground. */
static void continued(struct tty_relay *r)
{
	if (term_fd < 0)
		return;
	if (foreground(term_fd)) {
		tty_raw_begin(term_fd);
		copy_winsize(r);
	} else {
		tty_raw_end();
	}
}

/* Stop with sig, the user's terminal in its own modes, as the job the user's
 * shell started (it gets its terminal back); then, continued (fg, bg),
 * continue the program's foreground job. */
static void stop_with(struct tty_relay *r, int sig, pid_t pgrp)
{
	tty_raw_end();
	if (sig != SIGSTOP)
		signal(sig, SIG_DFL);
	raise(sig);
	continued(r);
	if (pgrp > 0)
		kill(-pgrp, SIGCONT);
}

/* The program stopped (a stop signal sent to it): so does the relay. */
static void follow_stop(struct tty_relay *r, int sig)
{
	pid_t pgrp = 0;
	if (ioctl(r->master, TIOCGPGRP, &pgrp) < 0)
		pgrp = r->child;
	stop_with(r, sig, pgrp);
	kill(r->child, SIGCONT);
}

/* Whether pid catches sig, from /proc/PID/status (0 when that cannot be told:
 * restart's /proc is its namespace's, where pid means another process). */
static int catches(pid_t pid, int sig)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	const char *ns = strstr(buf, "\nNSpid:\t"), *cgt = strstr(buf, "\nSigCgt:\t");
	if (!ns || !cgt || atoi(ns + 9) != pid)
		return 0;
	return (strtoull(cgt + 9, NULL, 16) >> (sig - 1)) & 1;
}

/* The group to stop for a ^Z typed now, or 0 when the pty's line discipline
 * does it: the session leader's own group is orphaned (its parent, launch or
 * restart's PID 1, is outside the session), and the kernel does not stop an
 * orphaned group for SIGTSTP. So for a program that leads its session and
 * leaves SIGTSTP alone, ^Z stops it with SIGSTOP instead; a job of a shell
 * inside (another group of the session) gets its SIGTSTP from the pty. */
static pid_t suspend_group(const struct tty_relay *r, struct termios *t)
{
	pid_t pgrp, sid;
	if (tcgetattr(r->master, t) < 0 || !(t->c_lflag & ISIG) ||
	    t->c_cc[VSUSP] == _POSIX_VDISABLE || ioctl(r->master, TIOCGPGRP, &pgrp) < 0 ||
	    ioctl(r->master, TIOCGSID, &sid) < 0 || pgrp != sid || catches(sid, SIGTSTP))
		return 0;
	return pgrp;
}

/* The user's keys to the program; a ^Z for a session leader (above) stops it
 * and us. Returns as pass() does. */
static int pass_input(struct tty_relay *r)
{
	char buf[16384];
	struct termios t;
	ssize_t n = read(r->in, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	pid_t pgrp = suspend_group(r, &t);
	char *z = pgrp ? memchr(buf, t.c_cc[VSUSP], n) : NULL;
	if (!z)
		return write_full(r->master, buf, n) < 0 ? -1 : 1;
	if (write_full(r->master, buf, z - buf) < 0)
		return -1;
	if ((t.c_lflag & ECHO) && (t.c_lflag & ECHOCTL))
		write_full(r->out, "^Z", 2);
	kill(-pgrp, SIGSTOP);
	stop_with(r, SIGTSTP, pgrp);
	return write_full(r->master, z + 1, buf + n - (z + 1)) < 0 ? -1 : 1;
}

static int child_ended(struct tty_relay *r)
{
	if (!r->child)
		return 0;
	pid_t w = waitpid(r->child, &r->status, WNOHANG | WUNTRACED);
	if (w == r->child && WIFSTOPPED(r->status)) {
		follow_stop(r, WSTOPSIG(r->status));
		return 0;
	}
	return w == r->child || (w < 0 && errno == ECHILD);
}

static int handle_wake(struct tty_relay *r)
{
	char c[64];
	ssize_t n = read(wake[0], c, sizeof(c));
	for (ssize_t k = 0; k < n; k++) {
		if (c[k] == 'w')
			copy_winsize(r);
		if (c[k] == 'o')
			continued(r);
	}
	return child_ended(r);
}

static int setup_wake(void)
{
	if (wake[0] < 0 && pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return error("cannot create a pipe for the terminal relay: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGCONT, &sa, NULL);
	return 0;
}

int tty_relay_run(struct tty_relay *r)
{
	int in_open = 1, master_open = 1;
	if (setup_wake() < 0)
		return -1;
	uint16_t published = r->modes;
	copy_winsize(r);
	begin_modes(r);
	while (!child_ended(r)) {
		/* the user's terminal is read in the foreground only (a background
		 * job reading it would be stopped) */
		int reading = in_open && (term_fd < 0 || foreground(term_fd));
		struct pollfd p[4] = {{r->in, reading ? POLLIN : 0, 0},
				      {r->master, master_open ? POLLIN : 0, 0},
				      {wake[0], POLLIN, 0},
				      {r->done_fd, POLLIN, 0}};
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return error("terminal relay: poll: %s", strerror(errno));
		}
		if (p[3].revents)
			break;
		if ((p[2].revents & POLLIN) && handle_wake(r))
			break;
		if (p[0].revents && pass_input(r) <= 0)
			in_open = 0; /* the user's side ended: the program keeps running */
		if (p[1].revents && pass(r->master, r->out, &modes) <= 0)
			master_open = 0;
		publish_modes(r, &published);
	}
	drain(r);
	undo_modes(r);
	return 0;
}

/* Take ptys until the one numbered want comes (the kernel gives the lowest
 * free number), then give back the others. */
static int open_at(int want, int *master, int *index)
{
	int held[MAX_HELD], n = 0, rc = -1;
	for (;;) {
		int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		unsigned idx;
		if (m < 0)
			break;
		if (ioctl(m, TIOCGPTN, &idx) < 0) {
			close(m);
			break;
		}
		if (want < 0 || (int)idx == want) {
			*master = m;
			*index = idx;
			rc = 0;
			break;
		}
		if ((int)idx > want || n == MAX_HELD) {
			close(m);
			errno = EBUSY;
			break;
		}
		held[n++] = m;
	}
	int e = errno;
	while (n > 0)
		close(held[--n]);
	errno = e;
	return rc;
}

int tty_open_pty(int want, int *master, int *slave, int *index)
{
	int unlock = 0;
	if (open_at(want, master, index) < 0)
		return -1;
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0)
		goto fail;
	if (!slave)
		return 0;
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave >= 0)
		return 0;
fail:;
	int e = errno;
	close(*master);
	errno = e;
	return -1;
}
