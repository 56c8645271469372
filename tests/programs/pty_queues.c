/* pty_queues: bytes waiting in a pty of the program, both ways, across
 * checkpoints and restarts (DMTCP's pty1).
 *
 *   pty_queues VERIFY_FILE [packet]
 *
 * The parent holds the master (in packet mode with "packet"), a child the
 * slave (canonical, echo on, the default settings). Before "ready": the child
 * writes "out1\n" (the master's reader sees "out1\r\n"); then the parent types
 * "line one\n", "line two\r" (ICRNL makes it a newline) and "part", a line not
 * finished: the slave's input queue holds two lines and a partial one, and the
 * master's holds the output and the echo. After VERIFY_FILE: the master reads
 * exactly that output and echo; the child reads "line one\n" and "line two\n",
 * and, once the parent types "ial\n", "partial\n".
 */
#include "zdtm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#define OUTPUT "out1\r\n"
#define ECHOED "line one\r\nline two\r\npart"

static int pkt;

static int queued(int fd)
{
	int n = -1;
	ioctl(fd, FIONREAD, &n);
	return n;
}

/* until fd has want bytes to read (the kernel passes them on asynchronously) */
static void wait_queued(int fd, int want, const char *what)
{
	for (int i = 0; i < 2000 && queued(fd) < want; i++)
		zd_sleep_ms(1);
	if (queued(fd) != want)
		zd_fail("%s: %d bytes queued, want %d", what, queued(fd), want);
}

static void child(int slave)
{
	char line[64];
	if (write(slave, "out1\n", 5) != 5)
		zd_fail("child: write: %s", strerror(errno));
	zd_wait();
	const char *want[] = {"line one\n", "line two\n", "partial\n"};
	for (int i = 0; i < 3; i++) {
		ssize_t n = read(slave, line, sizeof(line) - 1);
		line[n > 0 ? n : 0] = 0;
		zd_check(n > 0 && !strcmp(line, want[i]), "child: read %zd bytes '%s', want '%s'",
			 n, line, want[i]);
	}
	_exit(zd_failed ? 1 : 0);
}

/* what the master's reader gets: the bytes of every read, packet headers off */
static int read_master(int master, char *buf, int want)
{
	int got = 0;
	while (got < want) {
		struct pollfd p = {master, POLLIN, 0};
		char tmp[256];
		if (poll(&p, 1, 5000) != 1)
			break;
		ssize_t n = read(master, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		int skip = pkt ? 1 : 0;
		zd_check(!pkt || tmp[0] == TIOCPKT_DATA, "packet mode: status byte %#x", tmp[0]);
		memcpy(buf + got, tmp + skip, n - skip);
		got += n - skip;
	}
	buf[got] = 0;
	return got;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	pkt = argc > 2 && !strcmp(argv[2], "packet");
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		zd_fail("posix_openpt: %s", strerror(errno));
		return zd_finish();
	}
	int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	pid_t pid = fork();
	if (pid == 0) {
		close(master);
		child(slave);
	}
	close(slave);
	if (pkt && ioctl(master, TIOCPKT, &pkt) < 0)
		zd_fail("TIOCPKT: %s", strerror(errno));
	wait_queued(master, strlen(OUTPUT), "the child's output");
	const char *typed = "line one\nline two\rpart";
	if (write(master, typed, strlen(typed)) != (ssize_t)strlen(typed))
		zd_fail("write to the master: %s", strerror(errno));
	wait_queued(master, strlen(OUTPUT ECHOED), "output and echo");
	zd_ready();
	zd_wait();
	char buf[256];
	read_master(master, buf, strlen(OUTPUT ECHOED));
	zd_check(!strcmp(buf, OUTPUT ECHOED), "the master read '%s', want '%s'", buf,
		 OUTPUT ECHOED);
	if (write(master, "ial\n", 4) != 4)
		zd_fail("write to the master: %s", strerror(errno));
	int status;
	zd_check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
		 "the child ended with status %#x", status);
	return zd_finish();
}
