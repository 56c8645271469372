/* Terminals at restart.
 *
 * Ptys need their numbers back (a program keeps "/dev/pts/N" in its memory:
 * tmux's pane tty, `tty`), so a restart whose images hold any pty mounts a
 * fresh devpts instance on /dev/pts in its own mount namespace (/dev/ptmx then
 * opens in it) and takes each pty at its number there:
 *  - the computation's own terminal (IMG_FD_TTY, launch's pty): `stasis
 *    restart` makes it before anything else, relays the user's terminal to it
 *    (common/ttyrelay.c), and PID 1 hands the slave to every holder;
 *  - a pty the program made (IMG_FD_PTY_MASTER): PID 1 makes it, in turn with
 *    the others so that the numbers come out right; each holder of the master
 *    takes a copy, each slave is opened afresh from it (TIOCGPTPEER).
 *  - a slave whose master is not in the images is a terminal outside the
 *    computation: restart's own stdin or stdout, as before.
 * termios, window size and packet mode are set on each new pty, and the bytes
 * that were in flight in it are put back (common/ttyqueue.c); a session
 * leader whose controlling terminal it was takes it again (TIOCSCTTY) and puts
 * the foreground process group back, once its children are in their groups. */
#include "restore/fd_tty.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "common/log.h"
#include "common/ttyqueue.h"
#include "common/ttyrelay.h"
#include "image/kinds/fd_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int ctty_master = -1, ctty_slave = -1; /* restart's pty for IMG_FD_TTY */
static const struct img_tty *ctty_rec;	      /* its saved state */
static uint16_t ctty_port;		      /* the coordinator: the relay keeps modes for it */

static int termios_of(int fd, const struct img_tty *t, struct termios *tio)
{
	if (tcgetattr(fd, tio) < 0)
		return -1;
	tio->c_iflag = t->iflag;
	tio->c_oflag = t->oflag;
	tio->c_cflag = t->cflag;
	tio->c_lflag = t->lflag;
	tio->c_line = t->line;
	memcpy(tio->c_cc, t->cc, sizeof(t->cc) < NCCS ? sizeof(t->cc) : NCCS);
	cfsetispeed(tio, t->ispeed);
	cfsetospeed(tio, t->ospeed);
	return 0;
}

static void apply_termios(int fd, const struct img_tty *t, int winsize)
{
	struct termios tio;
	if (termios_of(fd, t, &tio) == 0 && tcsetattr(fd, TCSANOW, &tio) < 0)
		warn("cannot restore the settings of /dev/pts/%u: %s", t->index, strerror(errno));
	struct winsize ws = {t->rows, t->cols, t->xpixel, t->ypixel};
	if (winsize)
		ioctl(fd, TIOCSWINSZ, &ws);
}

/* The bytes that were in flight in the pty, put in before packet mode is on
 * (the record was checked by scan_master). */
static int put_queues(int master, const struct img_tty *t)
{
	const struct img_tty_queues *h = (const void *)(t + 1);
	struct tty_queues q = {(uint8_t *)(h + 1), (uint8_t *)(h + 1) + h->in_len, h->in_len,
			       h->out_len};
	struct termios tio;
	char err[256];
	if (!(t->flags & IMG_TTY_QUEUES) || (!q.in_len && !q.out_len))
		return 0;
	int rc = -1, slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (slave < 0 || termios_of(slave, t, &tio) < 0)
		snprintf(err, sizeof(err), "cannot open its slave: %s", strerror(errno));
	else
		rc = tty_queues_put(master, slave, &tio, &q, err, sizeof(err));
	if (slave >= 0)
		close(slave);
	if (rc < 0)
		return error("/dev/pts/%u: cannot put back the %u bytes of input and %u of output "
			     "that were in flight: %s",
			     t->index, q.in_len, q.out_len, err);
	return 0;
}

/* PID 1: a pty of the program, at its number. */
static int create_pair(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	const struct img_tty *t = o->priv;
	int index, pkt = 1, lock = 1;
	(void)set;
	if (tty_open_pty(t->index, &fd[0], NULL, &index) < 0)
		return -1;
	apply_termios(fd[0], t, 1);
	if (put_queues(fd[0], t) < 0)
		return -1;
	if ((t->flags & IMG_TTY_PKTMODE) && ioctl(fd[0], TIOCPKT, &pkt) < 0)
		return -1;
	if ((t->flags & IMG_TTY_LOCKED) && ioctl(fd[0], TIOCSPTLCK, &lock) < 0)
		return -1;
	return 0;
}

/* PID 1: restart's pty, made before PID 1 was, given to the holders. */
static int create_ctty(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	(void)set;
	(void)o;
	fd[0] = ctty_slave;
	close(ctty_master); /* only restart relays: PID 1 must not hold it */
	return fd[0] < 0 ? -1 : 0;
}

static int scan_master(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		       char *err, size_t errlen)
{
	const struct img_tty *t = rst_fdx_payload(x);
	(void)d;
	struct rst_obj *o = rst_obj_get(set, IMG_FD_PTY_MASTER, t->index, t->dev, i, create_pair);
	if (!o)
		return errf(err, errlen, "out of memory");
	o->creator = -1; /* PID 1 makes every pty, one after the other: the numbers */
	if (!o->priv || (t->flags & IMG_TTY_QUEUES)) /* the owner's record has the bytes */
		o->priv = t;
	return 0;
}

static int scan_ctty(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		     char *err, size_t errlen)
{
	const struct img_tty *t = rst_fdx_payload(x);
	(void)d;
	if (ctty_rec && ctty_rec->index != t->index)
		return errf(err, errlen,
			    "pid %u has terminal /dev/pts/%u, another process /dev/pts/%u: "
			    "the computation has one terminal of its own",
			    set->img[i].proc->pid, t->index, ctty_rec->index);
	struct rst_obj *o = rst_obj_get(set, IMG_FD_TTY, t->index, 0, i, create_ctty);
	if (!o)
		return errf(err, errlen, "out of memory");
	o->creator = -1;
	/* the session leader's record, the one with the bytes typed ahead if any */
	if (!ctty_rec || ((t->flags & IMG_TTY_CTTY) && !(ctty_rec->flags & IMG_TTY_QUEUES)))
		ctty_rec = t;
	return 0;
}

static int keep_flags(int fd, const struct img_fd *d)
{
	if (fd >= 0)
		fcntl(fd, F_SETFL, d->open_flags & O_NONBLOCK);
	return fd;
}

static int open_master(const struct rst_set *set, int i, const struct img_fd *d,
		       const struct img_fdx *x)
{
	const struct img_tty *t = rst_fdx_payload(x);
	(void)i;
	int at = rst_obj_fd(set, IMG_FD_PTY_MASTER, t->index, t->dev, 0);
	return keep_flags(at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0), d);
}

/* A slave: a new open of the pty if its master is in the computation, else a
 * terminal outside it, which becomes restart's own (like IMG_FD_STDIO). */
static int open_slave(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	const struct img_tty *t = rst_fdx_payload(x);
	(void)i;
	int at = rst_obj_fd(set, IMG_FD_PTY_MASTER, t->index, t->dev, 0);
	if (at < 0) {
		int std = d->fd <= 2 ? d->fd : (d->open_flags & O_ACCMODE) == O_RDONLY ? 0 : 1;
		return fcntl(set->base + std, F_DUPFD_CLOEXEC, 0);
	}
	int flags = (d->open_flags & (O_ACCMODE | O_NONBLOCK)) | O_NOCTTY | O_CLOEXEC;
	return ioctl(at, TIOCGPTPEER, flags);
}

static int open_ctty(const struct rst_set *set, int i, const struct img_fd *d,
		     const struct img_fdx *x)
{
	const struct img_tty *t = rst_fdx_payload(x);
	(void)i;
	int at = rst_obj_fd(set, IMG_FD_TTY, t->index, 0, 0);
	return keep_flags(at < 0 ? -1 : fcntl(at, F_DUPFD_CLOEXEC, 0), d);
}

const struct rst_fd_kind rst_fd_kind_pty_master = {IMG_FD_PTY_MASTER, scan_master, open_master,
						   NULL};
const struct rst_fd_kind rst_fd_kind_pty_slave = {IMG_FD_PTY_SLAVE, NULL, open_slave, NULL};
const struct rst_fd_kind rst_fd_kind_tty = {IMG_FD_TTY, scan_ctty, open_ctty, NULL};

/* The record of process i's controlling terminal, if it leads the session it
 * controls and the terminal comes back (its own, or a pty of the program). */
static const struct img_tty *ctty_of(const struct rst_set *set, int i, const struct img_fd **fd)
{
	const struct rst_image *img = &set->img[i];
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		if ((d->type != IMG_FD_TTY && d->type != IMG_FD_PTY_SLAVE) || d->share >= 0)
			continue;
		const struct img_tty *t = rst_fdx_payload(rst_fdx(img, d));
		if (!(t->flags & IMG_TTY_CTTY))
			continue;
		if (d->type == IMG_FD_PTY_SLAVE &&
		    rst_obj_fd(set, IMG_FD_PTY_MASTER, t->index, t->dev, 0) < 0)
			continue;
		*fd = d;
		return t;
	}
	return NULL;
}

int rst_tty_leads_session(const struct rst_set *set, int i)
{
	const struct img_fd *d;
	return ctty_of(set, i, &d) != NULL;
}

/* The group may be a child's that is still joining it: a few tries. */
static void set_foreground(int fd, pid_t pgrp, uint32_t pid)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	for (int tries = 0; tcsetpgrp(fd, pgrp) < 0; tries++) {
		if (tries == 100) {
			warn("pid %u cannot put process group %d in the foreground of its "
			     "terminal again: %s",
			     pid, pgrp, strerror(errno));
			return;
		}
		nanosleep(&ts, NULL);
	}
}

int rst_tty_take(const struct rst_set *set, int i)
{
	const struct img_fd *d;
	const struct img_tty *t = ctty_of(set, i, &d);
	if (t && ioctl(d->fd, TIOCSCTTY, 0) < 0)
		return error("pid %u cannot take its controlling terminal /dev/pts/%u back: %s",
			     set->img[i].proc->pid, t->index, strerror(errno));
	return 0;
}

void rst_tty_foreground(const struct rst_set *set, int i)
{
	const struct img_fd *d;
	const struct img_tty *t = ctty_of(set, i, &d);
	if (t && t->fg_pgrp)
		set_foreground(d->fd, t->fg_pgrp, set->img[i].proc->pid);
}

static int needs_devpts(const struct rst_set *set)
{
	for (int k = 0; k < set->nobjs; k++)
		if (set->objs[k].kind == IMG_FD_PTY_MASTER || set->objs[k].kind == IMG_FD_TTY)
			return 1;
	return 0;
}

/* restart's pty for the computation's terminal: its settings, and the size of
 * the terminal restart runs in (the program gets SIGWINCH if that differs). */
static int make_ctty(const struct rst_set *set)
{
	int index, m, s;
	if (tty_open_pty(ctty_rec->index, &m, &s, &index) < 0)
		return error("cannot make the computation's terminal /dev/pts/%u again: %s",
			     ctty_rec->index, strerror(errno));
	apply_termios(s, ctty_rec, 1);
	if (put_queues(m, ctty_rec) < 0) {
		close(m);
		close(s);
		return -1;
	}
	ctty_port = set->conn ? set->conn->port : 0;
	ctty_master = fcntl(m, F_DUPFD_CLOEXEC, set->top);
	ctty_slave = fcntl(s, F_DUPFD_CLOEXEC, set->top);
	close(m);
	close(s);
	if (ctty_master < 0 || ctty_slave < 0)
		return error("cannot keep the terminal's descriptors: %s", strerror(errno));
	return 0;
}

int rst_tty_prepare(const struct rst_set *set)
{
	if (!needs_devpts(set))
		return 0;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return error("cannot mount a devpts instance of the restart's own on /dev/pts "
			     "(needed to make the computation's ptys again with their numbers): "
			     "%s",
			     strerror(errno));
	return ctty_rec ? make_ctty(set) : 0;
}

int rst_tty_own(void)
{
	return ctty_master >= 0;
}

int rst_tty_relay(int done_fd)
{
	if (ctty_master < 0)
		return 0;
	close(ctty_slave);
	struct tty_relay r = {.master = ctty_master,
			      .in = 0,
			      .out = 1,
			      .done_fd = done_fd,
			      .port = ctty_port,
			      .modes = ctty_rec->term_modes};
	tty_raw_begin(0);
	int rc = tty_relay_run(&r);
	tty_raw_end();
	return rc;
}
