/* share_rights: a regular file passed with SCM_RIGHTS from one child to its
 * sibling (the parent never holds it) stays one open file description, one
 * offset, across checkpoint/restart.
 *
 *   share_rights VERIFY_FILE DIR
 *
 * Child A opens DIR/data ("0123456789") at offset 3 and sends it to child B.
 * After VERIFY_FILE, A writes "A" (the shared offset becomes 4), B sees 4 and
 * reads "45" (6), A sees 6. Each child exits 0 only if all of it held.
 */
#include "zdtm.h"
#include "fdpass.h"

#include <fcntl.h>
#include <sys/wait.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static long pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

static void child_a(int s, int ready, const char *dir)
{
	char path[4096], c;
	snprintf(path, sizeof(path), "%s/data", dir);
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	must(f >= 0 && write(f, "0123456789", 10) == 10 && lseek(f, 3, SEEK_SET) == 3, "file");
	must(zd_send_fds(s, &f, 1) == 0, "sendmsg");
	must(read(s, &c, 1) == 1 && write(ready, "a", 1) == 1, "ready");
	zd_wait();
	zd_check(pos(f) == 3, "A: offset %ld before writing, not 3", pos(f));
	zd_check(write(f, "A", 1) == 1, "A: write: %s", strerror(errno));
	must(write(s, "1", 1) == 1 && read(s, &c, 1) == 1, "A: turn");
	zd_check(pos(f) == 6,
		 "A: offset %ld after B read 2 bytes, not 6 (B's reads moved "
		 "another offset)",
		 pos(f));
	_exit(zd_failed);
}

static void child_b(int s, int ready)
{
	char buf[8] = "", c;
	int f;
	must(zd_recv_fds(s, &f, 1) == 1, "recvmsg (SCM_RIGHTS)");
	must(write(s, "r", 1) == 1 && write(ready, "b", 1) == 1, "ready");
	zd_wait();
	must(read(s, &c, 1) == 1, "B: turn");
	zd_check(pos(f) == 4,
		 "B: offset %ld after A wrote 1 byte, not 4 (A wrote through "
		 "another description)",
		 pos(f));
	zd_check(read(f, buf, 2) == 2 && !strcmp(buf, "45"), "B: read '%s', not '45'", buf);
	must(write(s, "2", 1) == 1, "B: turn back");
	_exit(zd_failed);
}

int main(int argc, char **argv)
{
	int sp[2], rp[2], st;
	char c;
	zd_init(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0 && pipe(rp) == 0, "setup");
	pid_t a = fork();
	if (a == 0)
		child_a(sp[0], rp[1], argc > 2 ? argv[2] : ".");
	pid_t b = fork();
	if (b == 0)
		child_b(sp[1], rp[1]);
	close(sp[0]);
	close(sp[1]);
	close(rp[1]);
	must(read(rp[0], &c, 1) == 1 && read(rp[0], &c, 1) == 1, "children ready");
	zd_ready();
	zd_wait();
	zd_check(waitpid(a, &st, 0) == a && WIFEXITED(st) && !WEXITSTATUS(st), "A ended with %#x",
		 st);
	zd_check(waitpid(b, &st, 0) == b && WIFEXITED(st) && !WEXITSTATUS(st), "B ended with %#x",
		 st);
	return zd_finish();
}
