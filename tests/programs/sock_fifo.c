/* sock_fifo: FIFOs (named pipes) with bytes in flight, held by a parent and a
 * forked child, across checkpoint/restart cycles.
 *
 *   sock_fifo VERIFY_FILE DIR
 *
 * DIR/fifo: the parent holds a read end (non-blocking) and a write end, the
 * child a write end of its own (another open); both wrote a line that nobody
 * has read. DIR/rw: opened O_RDWR by the parent, with bytes in it.
 * After VERIFY_FILE: each FIFO holds its bytes exactly once; the child's next
 * line arrives through the FIFO; after the child exits and the parent closes
 * its write end, the reader sees EOF.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static void child(const char *path, const char *verify)
{
	int w = open(path, O_WRONLY);
	must(w >= 0 && write(w, "child line\n", 11) == 11, "child write");
	while (access(verify, F_OK) < 0)
		zd_sleep_ms(20);
	zd_sleep_ms(100);
	_exit(write(w, "child after\n", 12) == 12 ? 0 : 1);
}

static void read_exact(int fd, const char *want, const char *what)
{
	char buf[256];
	size_t n = strlen(want), got = 0;
	for (int tries = 0; got < n && tries < 500; tries++) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r > 0)
			got += r;
		else if (r == 0)
			break;
		else
			zd_sleep_ms(10);
	}
	buf[got] = 0;
	zd_check(got == n && !memcmp(buf, want, n), "%s: read '%s', want '%s'", what, buf, want);
}

int main(int argc, char **argv)
{
	char path[4096], rwpath[4096];
	zd_init(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *dir = argc > 2 ? argv[2] : ".";
	snprintf(path, sizeof(path), "%s/fifo", dir);
	snprintf(rwpath, sizeof(rwpath), "%s/rw", dir);
	must(mkfifo(path, 0600) == 0 && mkfifo(rwpath, 0600) == 0, "mkfifo");
	int r = open(path, O_RDONLY | O_NONBLOCK);
	int w = open(path, O_WRONLY);
	int rw = open(rwpath, O_RDWR);
	must(r >= 0 && w >= 0 && rw >= 0, "open");
	must(write(w, "parent line\n", 12) == 12, "write");
	must(write(rw, "rw bytes", 8) == 8, "write rw");
	pid_t pid = fork();
	if (pid == 0) {
		close(r);
		close(w);
		close(rw);
		child(path, zd_verify_path);
	}
	zd_sleep_ms(200);
	zd_ready();
	zd_wait();
	read_exact(r, "parent line\nchild line\n", "bytes in flight");
	read_exact(rw, "rw bytes", "O_RDWR FIFO");
	char c;
	zd_check(read(r, &c, 1) < 0 && errno == EAGAIN, "bytes in flight restored twice");
	read_exact(r, "child after\n", "the child's line after restart");
	int st;
	zd_check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st),
		 "the child failed to write");
	close(w);
	zd_check(read(r, &c, 1) == 0, "no EOF once every writer is gone");
	return zd_finish();
}
