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

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static void send_fds(int s, int a, int b)
{
	char c = 'F', ctl[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(h), (int[]){a, b}, 2 * sizeof(int));
	must(sendmsg(s, &m, 0) == 1, "sendmsg");
}

static void recv_fds(int s, int *a, int *b)
{
	char c, ctl[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	must(recvmsg(s, &m, 0) == 1, "recvmsg");
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	must(h && h->cmsg_type == SCM_RIGHTS, "no SCM_RIGHTS");
	memcpy(a, CMSG_DATA(h), sizeof(int));
	memcpy(b, (int *)CMSG_DATA(h) + 1, sizeof(int));
}

static void child(int s, int inflight)
{
	int file, rd;
	char buf[64], c;
	if (inflight)
		while (access(zd_verify_path, F_OK) < 0)
			zd_sleep_ms(20);
	recv_fds(s, &file, &rd);
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
	send_fds(sp[0], file, pp[0]);
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
