/* Terminals: ptys of the computation (master and slave), and the terminal
 * `stasis launch` gave it (IMG_FD_TTY, a pty whose master launch holds).
 * A pts slave that is neither is recorded as a slave too: the restorer tells
 * a pty whose master is in the computation from a terminal outside it (which
 * becomes restart's own, as before) by looking for the master among the
 * images. Each record keeps termios, window size, session and foreground
 * process group, and whether it is the process's controlling terminal; a
 * master's record also the bytes in flight in its pty (common/ttyqueue.c). */
#include "common/ttymodes.h"
#include "common/ttyqueue.h"
#include "runtime/fd_tty.h"
#include "runtime/arena.h"
#include "runtime/shares.h"
#include "runtime/fd_sock.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "runtime/state.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define PTS_MAJOR_FIRST 136 /* UNIX98_PTY_SLAVE_MAJOR .. + 7 */
#define PTS_MAJOR_LAST 143
#define TTYAUX_MAJOR 5 /* minor 0: /dev/tty, minor 2: /dev/ptmx */

static int launch_tty = -1; /* index of launch's pty ($STASIS_TTY), -1 if none */

static int is_pts(dev_t rdev)
{
	return major(rdev) >= PTS_MAJOR_FIRST && major(rdev) <= PTS_MAJOR_LAST;
}

/* devpts numbers its slaves with major 136 and the index as minor (20 bits) */
static unsigned pts_index(dev_t rdev)
{
	return minor(rdev);
}

/* The controlling terminal's device number (field 7 of /proc/self/stat). */
static dev_t ctty_rdev(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long f[5] = {0};
	char state;
	if (!p || sscanf(p + 2, "%c %llu %llu %llu %llu", &state, &f[0], &f[1], &f[2], &f[3]) != 5)
		return 0;
	return (dev_t)f[3];
}

static int tty_match(int fd, const char *link, const struct stat *st)
{
	(void)fd;
	(void)link;
	if (!S_ISCHR(st->st_mode))
		return 0;
	if (major(st->st_rdev) == TTYAUX_MAJOR && minor(st->st_rdev) == 2)
		return 1; /* a pty master */
	if (major(st->st_rdev) == TTYAUX_MAJOR && minor(st->st_rdev) == 0)
		return is_pts(ctty_rdev()); /* /dev/tty of a pty */
	return is_pts(st->st_rdev);
}

/* The devpts instance a master belongs to: the kernel takes the "pts"
 * directory next to the ptmx node it was opened through. */
static uint64_t master_devpts(const char *link)
{
	char dir[PATH_MAX];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s", link);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	size_t n = strlen(dir);
	if (!(n >= 4 && !strcmp(dir + n - 4, "/pts")))
		snprintf(dir + n, sizeof(dir) - n, "/pts");
	return stat(dir, &st) < 0 ? 0 : st.st_dev;
}

static void save_termios(struct img_tty *t, int fd)
{
	struct termios tio;
	struct winsize ws;
	if (tcgetattr(fd, &tio) == 0) {
		t->iflag = tio.c_iflag;
		t->oflag = tio.c_oflag;
		t->cflag = tio.c_cflag;
		t->lflag = tio.c_lflag;
		t->line = tio.c_line;
		t->ispeed = cfgetispeed(&tio);
		t->ospeed = cfgetospeed(&tio);
		memcpy(t->cc, tio.c_cc, sizeof(t->cc) < NCCS ? sizeof(t->cc) : NCCS);
	}
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
		t->xpixel = ws.ws_xpixel;
		t->ypixel = ws.ws_ypixel;
	}
}

/* Session and foreground group: a master always tells them; a slave only to
 * a process of the session it controls. */
static void save_session(struct img_tty *t, int fd)
{
	pid_t sid = 0, pgrp = 0;
	if (ioctl(fd, TIOCGSID, &sid) == 0)
		t->sid = sid;
	if (ioctl(fd, TIOCGPGRP, &pgrp) == 0)
		t->fg_pgrp = pgrp;
}

static int dump_master(struct rt_fd_ctx *c, struct img_tty *t)
{
	unsigned idx;
	int locked = 0, pkt = 0;
	if (ioctl(c->fd, TIOCGPTN, &idx) < 0)
		return errf(c->err, c->errlen, "pid %d fd %d (%s): cannot read the pty number: %s",
			    getpid(), c->fd, c->link, strerror(errno));
	t->index = idx;
	t->dev = master_devpts(c->link);
	if (ioctl(c->fd, TIOCGPTLCK, &locked) == 0 && locked)
		t->flags |= IMG_TTY_LOCKED;
	if (ioctl(c->fd, TIOCGPKT, &pkt) == 0 && pkt)
		t->flags |= IMG_TTY_PKTMODE;
	c->e->type = IMG_FD_PTY_MASTER;
	return 0;
}

/* Another record of this image holds the pty's queues already (a dup). */
static int queues_taken(const struct rt_fds *fds, const struct img_tty *t, uint32_t type)
{
	for (uint64_t at = 0; at + sizeof(struct img_fdx) <= fds->fdx_len;) {
		struct img_fdx x;
		struct img_tty o;
		memcpy(&x, fds->fdx + at, sizeof(x));
		if (x.type == type && x.len >= sizeof(o)) {
			memcpy(&o, fds->fdx + at + sizeof(x), sizeof(o));
			if (o.index == t->index && o.dev == t->dev && (o.flags & IMG_TTY_QUEUES))
				return 1;
		}
		at += sizeof(x) + ((x.len + 7ull) & ~7ull);
	}
	return 0;
}

static int queues_failed(struct rt_fd_ctx *c, const struct img_tty *t, const char *why)
{
	return errf(c->err, c->errlen, "pid %d fd %d (%s of /dev/pts/%u): %s", getpid(), c->fd,
		    c->e->type == IMG_FD_PTY_MASTER ? "master" : "terminal", t->index, why);
}

/* Bytes typed ahead in the computation's own terminal that nobody takes: its
 * session leader is not in the checkpoint, or the kernel refuses TIOCSTI. */
static int typed_ahead_refused(struct rt_fd_ctx *c, const struct img_tty *t, const char *why)
{
	int queued = 0;
	if (ioctl(c->fd, FIONREAD, &queued) < 0 || queued <= 0)
		return 0;
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "%d bytes typed ahead wait to be read, and %s; checkpoint again once the "
		 "program has read them",
		 queued, why);
	return queues_failed(c, t, msg);
}

/* Take the queues out and put them back at once, so that the pty goes on as
 * it was: master >= 0, through the master (both queues); else input only,
 * typed back into slave, the caller's controlling terminal. */
static int take_and_put(int master, int slave, struct tty_queues *q, char *why, size_t len)
{
	struct termios tio;
	char why2[256] = "";
	if (tcgetattr(slave, &tio) < 0)
		return errf(why, len, "cannot read its settings: %s", strerror(errno));
	int rc = tty_queues_take(master, slave, q, why, len);
	int rc2 = master >= 0 ? tty_queues_put(master, slave, &tio, q, why2, sizeof(why2))
			      : tty_queues_type(slave, &tio, q, why2, sizeof(why2));
	if (rc == 0 && rc2 < 0)
		snprintf(why, len, "%s", why2);
	return rc < 0 || rc2 < 0 ? -1 : 0;
}

/* The bytes in flight of a pty of the computation, taken by the one process
 * that owns its master's description (lowest pid, then fd). */
static int take_master(struct rt_fd_ctx *c, const struct img_tty *t, struct tty_queues *q)
{
	char why[256];
	if (rt_share_owner(c->fd) != (uint32_t)getpid() ||
	    queues_taken(c->fds, t, IMG_FD_PTY_MASTER))
		return 0;
	int slave = ioctl(c->fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (slave < 0) {
		snprintf(why, sizeof(why), "cannot open its slave to keep the bytes in flight: %s",
			 strerror(errno));
		return queues_failed(c, t, why);
	}
	int rc = take_and_put(c->fd, slave, q, why, sizeof(why));
	close(slave);
	return rc < 0 ? queues_failed(c, t, why) : 1;
}

/* The computation's own terminal: what the program wrote goes on to the
 * relay of launch or restart (outside), which copies it out even after the
 * end; bytes typed ahead wait in its input queue. The session leader it
 * controls takes them, and types them back (the relay holds the master). */
static int take_typed(struct rt_fd_ctx *c, const struct img_tty *t, struct tty_queues *q)
{
	char why[256];
	if (!(t->flags & IMG_TTY_CTTY)) {
		pid_t sid = 0;
		if (ioctl(c->fd, TIOCGSID, &sid) == 0 && rt_is_member(sid))
			return 0; /* the session leader takes them */
		return typed_ahead_refused(c, t, "the session it controls is not checkpointed");
	}
	if (queues_taken(c->fds, t, IMG_FD_TTY))
		return 0;
	if (!tty_queues_may_type(c->fd))
		return typed_ahead_refused(c, t,
					   "the kernel refuses to give them back (TIOCSTI; "
					   "sysctl dev.tty.legacy_tiocsti)");
	if (take_and_put(-1, c->fd, q, why, sizeof(why)) < 0)
		return queues_failed(c, t, why);
	return 1;
}

/* The record: the img_tty and, when this descriptor took the pty's bytes in
 * flight, img_tty_queues, the input bytes, the output bytes. */
static int record(struct rt_fd_ctx *c, struct img_tty *t)
{
	if (c->e->type != IMG_FD_PTY_MASTER && c->e->type != IMG_FD_TTY)
		return rt_fd_record(c, c->e->type, t->index, t, sizeof(*t));
	uint8_t *rec = rt_alloc(sizeof(*t) + sizeof(struct img_tty_queues) + 2 * TTYQ_MAX);
	if (!rec)
		return errf(c->err, c->errlen, "out of checkpoint memory");
	uint8_t *data = rec + sizeof(*t) + sizeof(struct img_tty_queues);
	struct tty_queues q = {data, data + TTYQ_MAX, 0, 0};
	int took = c->e->type == IMG_FD_PTY_MASTER ? take_master(c, t, &q)
		   : c->e->type == IMG_FD_TTY	   ? take_typed(c, t, &q)
						   : 0;
	if (took < 0)
		return -1;
	uint32_t len = sizeof(*t);
	if (took) {
		struct img_tty_queues h = {q.in_len, q.out_len};
		memmove(data + q.in_len, q.out, q.out_len);
		memcpy(rec + sizeof(*t), &h, sizeof(h));
		t->flags |= IMG_TTY_QUEUES;
		len += sizeof(h) + q.in_len + q.out_len;
	}
	memcpy(rec, t, sizeof(*t));
	return rt_fd_record(c, c->e->type, t->index, rec, len);
}

static int tty_dump(struct rt_fd_ctx *c)
{
	struct img_tty t;
	dev_t rdev = c->st->st_rdev;
	memset(&t, 0, sizeof(t));
	if (major(rdev) == TTYAUX_MAJOR && minor(rdev) == 2) {
		if (dump_master(c, &t) < 0)
			return -1;
	} else {
		if (major(rdev) == TTYAUX_MAJOR) /* /dev/tty: the controlling terminal */
			rdev = ctty_rdev();
		t.index = pts_index(rdev);
		t.dev = c->st->st_dev;
		c->e->type = (int)t.index == launch_tty ? IMG_FD_TTY : IMG_FD_PTY_SLAVE;
		if (c->e->type == IMG_FD_TTY) /* kept by launch's or restart's relay */
			t.term_modes = tty_modes_load(rt.port);
		if (getsid(0) == getpid() && ctty_rdev() == rdev)
			t.flags |= IMG_TTY_CTTY;
	}
	save_termios(&t, c->fd);
	save_session(&t, c->fd);
	return record(c, &t);
}

/* After a restart, in the leader of the session of launch's pty: the pty is
 * new, in a terminal that may have another size and shows nothing of the
 * program yet. The kernel signalled no size change (the processes did not
 * exist when restart gave the pty its size), so send SIGWINCH to the
 * foreground process group as the kernel does: full-screen programs (tmux,
 * screen, vim, less) read the size and draw their whole screen again. */
void rt_tty_restarted(void)
{
	if (launch_tty < 0 || getsid(0) != getpid())
		return;
	dev_t rdev = ctty_rdev();
	if (!is_pts(rdev) || (int)pts_index(rdev) != launch_tty)
		return;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	pid_t fg = tcgetpgrp(fd);
	close(fd);
	if (fg > 0)
		kill(-fg, SIGWINCH);
}

/* launch's pty: remembered at load time (a program may clear its environment) */
__attribute__((constructor)) static void note_launch_tty(void)
{
	const char *v = getenv("STASIS_TTY");
	if (v && *v)
		launch_tty = atoi(v);
}

const struct rt_fd_kind rt_fd_kind_tty = {"tty", tty_match, tty_dump};
