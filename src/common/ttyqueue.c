/* Bytes in flight in a pty (see ttyqueue.h). The kernel passes bytes written
 * to one side of a pty on to the other side's line discipline from a work
 * queue, not in write(): every step that puts bytes in waits (bounded) until
 * they show on the reading side, and reading out looks once more after the
 * queue seems empty. */
#include "common/ttyqueue.h"
#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_MS 1  /* a last look for bytes the kernel is still passing on */
#define PASS_MS 2000 /* at most this long for the kernel to pass bytes on */
#define CHUNK 4096

/* Everything fd has to read, into buf (cap bytes; *got: how many, also on
 * failure: they are out of the pty), or dropped if buf is NULL. In packet mode
 * each read starts with a status byte: data follows a 0, any other is a
 * status notice alone (dropped). Returns 0, or -1 with errno set. */
static int drain(int fd, int pkt, uint8_t *buf, size_t cap, uint32_t *got)
{
	uint8_t tmp[CHUNK + 1];
	long long deadline = now_ms() + PASS_MS;
	int seen = 0; /* bytes came: more may still be on their way */
	*got = 0;
	while (now_ms() < deadline) {
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, seen ? SETTLE_MS : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !(p.revents & POLLIN))
			return r < 0 ? -1 : 0;
		size_t room = buf ? cap - *got : CHUNK;
		ssize_t n = read(fd, tmp, room < CHUNK ? room + !!pkt : sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* EIO: the other side is closed; EAGAIN: nothing after all */
			return n < 0 && errno != EIO && errno != EAGAIN ? -1 : 0;
		size_t len = pkt && tmp[0] ? 0 : (size_t)n - !!pkt;
		seen = 1;
		if (buf)
			memcpy(buf + *got, tmp + !!pkt, len);
		*got += buf ? len : 0;
		if (buf && *got == cap) {
			errno = E2BIG;
			return -1;
		}
	}
	errno = ETIMEDOUT;
	return -1;
}

static int write_all(int fd, const uint8_t *p, size_t len, long long deadline)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w > 0) {
			p += w;
			len -= w;
			continue;
		}
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		struct pollfd pf = {fd, POLLOUT, 0};
		if (now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		poll(&pf, 1, 10);
	}
	return 0;
}

/* Until fd has at least want bytes to read (FIONREAD). */
static int wait_readable(int fd, size_t want, long long deadline)
{
	for (;;) {
		int have = 0;
		if (ioctl(fd, FIONREAD, &have) < 0)
			return -1;
		if ((size_t)have >= want)
			return 0;
		if (now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct timespec ts = {0, 500 * 1000};
		nanosleep(&ts, NULL);
	}
}

int tty_queues_take(int master, int slave, struct tty_queues *q, char *err, size_t errlen)
{
	int pkt = 0;
	struct termios t;
	q->in_len = q->out_len = 0;
	if (master >= 0) {
		ioctl(master, TIOCGPKT, &pkt);
		if (drain(master, pkt, q->out, TTYQ_MAX, &q->out_len) < 0)
			return errf(err, errlen, "cannot read the output waiting in the pty: %s",
				    strerror(errno));
	}
	/* non-canonical: a line not finished yet can be read too */
	if (tcgetattr(slave, &t) < 0)
		return errf(err, errlen, "cannot read the pty's settings: %s", strerror(errno));
	t.c_lflag &= ~ICANON;
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(slave, TCSANOW, &t) < 0)
		return errf(err, errlen, "cannot make the pty's input readable: %s",
			    strerror(errno));
	if (drain(slave, 0, q->in, TTYQ_MAX, &q->in_len) < 0)
		return errf(err, errlen, "cannot read the input waiting in the pty: %s",
			    strerror(errno));
	return 0;
}

/* tio with the line discipline's input processing off (no translation, no
 * signals, no editing characters), echo on or off, output processing off: a
 * canonical terminal still makes lines of what it is given, and a line not
 * finished stays unfinished. */
static int set_passing(int slave, const struct termios *tio, int echo)
{
	struct termios t = *tio;
	t.c_iflag &= ~(ICRNL | INLCR | IGNCR | ISTRIP | IUCLC | PARMRK | INPCK);
	t.c_lflag &= ~(ISIG | IEXTEN | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE);
	t.c_lflag = echo ? t.c_lflag | ECHO : t.c_lflag & ~ECHO;
	t.c_oflag &= ~OPOST;
	t.c_cc[VERASE] = t.c_cc[VKILL] = t.c_cc[VEOF] = _POSIX_VDISABLE;
	return tcsetattr(slave, TCSANOW, &t);
}

/* Input, as the master writes it, each byte echoed: the echoes show when the
 * kernel has passed them all on. */
static int put_input(int master, int slave, const struct termios *tio, const struct tty_queues *q,
		     char *err, size_t errlen)
{
	int pkt = 0;
	long long deadline = now_ms() + PASS_MS;
	ioctl(master, TIOCGPKT, &pkt);
	if (set_passing(slave, tio, 1) < 0)
		return errf(err, errlen, "cannot set the pty up to take its input back: %s",
			    strerror(errno));
	if (write_all(master, q->in, q->in_len, deadline) < 0 ||
	    wait_readable(master, q->in_len, deadline) < 0)
		return errf(err, errlen, "cannot put the pty's input back: %s", strerror(errno));
	uint32_t echoed;
	if (drain(master, pkt, NULL, 0, &echoed) < 0)
		return errf(err, errlen, "cannot take the echo of the pty's input: %s",
			    strerror(errno));
	return 0;
}

/* Output, as the slave writes it, without output processing (it was done). */
static int put_output(int master, int slave, const struct tty_queues *q, char *err, size_t errlen)
{
	struct termios t;
	long long deadline = now_ms() + PASS_MS;
	if (tcgetattr(slave, &t) < 0)
		return errf(err, errlen, "cannot read the pty's settings: %s", strerror(errno));
	t.c_oflag &= ~OPOST;
	if (tcsetattr(slave, TCSANOW, &t) < 0 ||
	    write_all(slave, q->out, q->out_len, deadline) < 0 ||
	    wait_readable(master, q->out_len, deadline) < 0)
		return errf(err, errlen, "cannot put the pty's output back: %s", strerror(errno));
	return 0;
}

int tty_queues_put(int master, int slave, const struct termios *tio, const struct tty_queues *q,
		   char *err, size_t errlen)
{
	int rc = 0;
	if (q->in_len)
		rc = put_input(master, slave, tio, q, err, errlen);
	if (!rc && q->out_len)
		rc = put_output(master, slave, q, err, errlen);
	if (tcsetattr(slave, TCSANOW, tio) < 0 && !rc)
		rc =
		    errf(err, errlen, "cannot give the pty its settings back: %s", strerror(errno));
	return rc;
}

int tty_queues_may_type(int fd)
{
	return ioctl(fd, TIOCSTI, NULL) < 0 && errno == EFAULT;
}

int tty_queues_type(int fd, const struct termios *tio, const struct tty_queues *q, char *err,
		    size_t errlen)
{
	int rc = 0;
	if (q->in_len && set_passing(fd, tio, 0) < 0)
		rc = errf(err, errlen, "cannot set the terminal up to take its input back: %s",
			  strerror(errno));
	for (uint32_t i = 0; !rc && i < q->in_len; i++)
		if (ioctl(fd, TIOCSTI, &q->in[i]) < 0)
			rc = errf(err, errlen, "cannot put the terminal's input back (TIOCSTI): %s",
				  strerror(errno));
	if (tcsetattr(fd, TCSANOW, tio) < 0 && !rc)
		rc = errf(err, errlen, "cannot give the terminal its settings back: %s",
			  strerror(errno));
	return rc;
}
