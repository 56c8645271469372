/* sock_rights: descriptors passed with SCM_RIGHTS between a parent and its
 * child keep sharing their open file description across checkpoint/restart.
 *
 *   sock_rights VERIFY_FILE DIR [inflight]
 *
 * The parent opens DIR/data at offset 3 and a pipe, and sends the file and the
 * pipe's read end to the child over a socketpair; the child reads one byte of
 * the file (the shared offset becomes 4). After VERIFY_FILE the parent sees
 * offset 4, tells the child "go"; the child reads 2 bytes ("45") and what the
 * parent wrote in the pipe, and answers; the parent then sees offset 6.
 * With "inflight" the child receives nothing until VERIFY_FILE: the
 * descriptors stay in the socket's queue (the checkpoint must refuse that).
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

static void child(int s, int inflight)
{
	int got[2];
	char buf[64], c;
	if (inflight)
		while (access(zd_verify_path, F_OK) < 0)
			zd_sleep_ms(20);
	must(zd_recv_fds(s, got, 2) == 2, "recvmsg (SCM_RIGHTS)");
	int file = got[0], rd = got[1];
	must(read(file, &c, 1) == 1, "child read 1");
	must(send(s, "r", 1, 0) == 1, "child ack");
	must(recv(s, buf, sizeof(buf), 0) == 2, "child go"); /* "go" */
	ssize_t f = read(file, buf, 2), p = read(rd, buf + 2, sizeof(buf) - 3);
	buf[f == 2 && p > 0 ? 2 + p : 0] = 0;
	_exit(send(s, buf, strlen(buf), 0) > 0 ? 0 : 1);
}

int main(int argc, char **argv)
{
	char path[4096], got[64] = "", c;
	int sp[2], pp[2];
	zd_init(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	int inflight = argc > 3 && !strcmp(argv[3], "inflight");
	snprintf(path, sizeof(path), "%s/data", argc > 2 ? argv[2] : ".");
	int file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	must(file >= 0 && write(file, "0123456789", 10) == 10 && lseek(file, 3, SEEK_SET) == 3,
	     "data file");
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0 && pipe(pp) == 0, "socketpair, pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(sp[0]);
		close(file);
		close(pp[0]);
		close(pp[1]);
		child(sp[1], inflight);
	}
	close(sp[1]);
	must(zd_send_fds(sp[0], (int[]){file, pp[0]}, 2) == 0, "sendmsg");
	close(pp[0]); /* the child holds the read end alone now */
	must(write(pp[1], "pipe", 4) == 4, "pipe write");
	if (!inflight)
		must(recv(sp[0], &c, 1, 0) == 1, "ack");
	zd_ready();
	zd_wait();
	if (inflight)
		must(recv(sp[0], &c, 1, 0) == 1, "ack");
	off_t off = lseek(file, 0, SEEK_CUR);
	zd_check(off == 4, "file offset %lld, want 4 (shared with the child)", (long long)off);
	must(send(sp[0], "go", 2, 0) == 2, "go");
	ssize_t n = recv(sp[0], got, sizeof(got) - 1, 0);
	got[n > 0 ? n : 0] = 0;
	zd_check(!strcmp(got, "45pipe"), "child read '%s', want '45pipe'", got);
	off = lseek(file, 0, SEEK_CUR);
	zd_check(off == 6, "file offset %lld after the child read, want 6", (long long)off);
	int st;
	zd_check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st), "child failed");
	return zd_finish();
}
