/* The children of a session leader keep its controlling terminal:
 *   tty_child VERIFY_FILE
 * The program makes a pty pair and keeps the master; its child leads a
 * session whose controlling terminal is the slave, in the foreground, and
 * has two children of its own: one in its process group, one in a process
 * group of its own (a background job). Each of the three reads tty_nr and
 * tpgid from /proc/self/stat at "ready" and again once VERIFY_FILE exists:
 * they must not have changed (a process without a controlling terminal has
 * tty_nr 0 and tpgid -1). Four processes at "ready". */
#include "zdtm.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

struct tty_fields {
	long tty_nr, tpgid;
};

static struct tty_fields read_fields(void)
{
	char buf[1024];
	struct tty_fields f = {-2, -2};
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *p = strrchr(buf, ')'); /* then: state ppid pgrp session tty_nr tpgid */
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %ld %ld", &f.tty_nr, &f.tpgid);
	return f;
}

/* Read the fields, say so on ready_fd, wait for the verify file, then
 * compare. */
static void check_fields(const char *who, int ready_fd)
{
	struct tty_fields before = read_fields();
	zd_check(before.tty_nr > 0 && before.tpgid > 0, "%s: no controlling terminal at the start",
		 who);
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	close(ready_fd);
	zd_wait();
	struct tty_fields after = read_fields();
	zd_check(after.tty_nr == before.tty_nr, "%s: tty_nr %ld, was %ld", who, after.tty_nr,
		 before.tty_nr);
	zd_check(after.tpgid == before.tpgid, "%s: tpgid %ld, was %ld", who, after.tpgid,
		 before.tpgid);
}

/* A child of the leader: in its group, or in one of its own (background). */
static pid_t member(int own_group, const char *who, int ready_fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (own_group)
			setpgid(0, 0);
		check_fields(who, ready_fd);
		_exit(zd_failed);
	}
	if (own_group)
		setpgid(pid, pid);
	return pid;
}

static void leader(const char *slave, int ready_fd)
{
	setsid();
	int fd = open(slave, O_RDWR); /* becomes the controlling terminal */
	if (fd < 0 || tcsetpgrp(fd, getpid()) < 0) {
		zd_fail("leader: cannot take %s: %s", slave, strerror(errno));
		_exit(1);
	}
	pid_t same = member(0, "child in the leader's group", ready_fd);
	pid_t job = member(1, "background job", ready_fd);
	check_fields("session leader", ready_fd);
	zd_reap(same, 1);
	zd_reap(job, 2);
	_exit(zd_failed);
}

int main(int argc, char **argv)
{
	int p[2];
	char c;
	zd_init(argc, argv);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || pipe(p) < 0) {
		printf("setup failed: %s\n", strerror(errno));
		return 2;
	}
	char *slave = ptsname(m);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		leader(slave, p[1]);
	}
	close(p[1]);
	for (int k = 0; k < 3; k++) /* the leader and its two children have read theirs */
		if (read(p[0], &c, 1) != 1) {
			printf("setup failed: the session leader or a child did not start\n");
			return 2;
		}
	close(p[0]);
	zd_ready();
	zd_wait();
	zd_reap(pid, 0);
	close(m);
	return zd_finish();
}
