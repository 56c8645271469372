/* sock_unix: Unix sockets of one process and of a parent and child, with data
 * in flight everywhere, across checkpoint/restart cycles.
 *
 *   sock_unix VERIFY_FILE DIR
 *
 * Builds, in this process: socketpairs (stream, datagram, seqpacket) with data
 * queued both ways and one side shut down; a stream listener at DIR/listen.sock
 * with an accepted connection and a connection not yet accepted; a seqpacket
 * listener with an abstract name; a datagram socket bound at DIR/dgram.sock
 * with messages queued from an unnamed client connected to it; a pair whose
 * peer was closed (bytes to read, then EOF); a non-blocking SO_PASSCRED socket
 * with its own SO_RCVBUF. And with a forked child (which stays in the
 * computation): a stream pair shared by both, the child echoing what it reads
 * (prefix "echo:"), with messages in flight both ways at each checkpoint.
 * After VERIFY_FILE: every queue holds exactly what was sent, in order, with
 * message boundaries; every connection still works both ways.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t path_addr(struct sockaddr_un *a, const char *dir, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, name);
	return sizeof(*a);
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	size_t n = strlen(name);
	memcpy(a->sun_path + 1, name, n);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static void send_all(int fd, const char *s)
{
	must(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s), "send");
}

/* the next message (datagram/seqpacket) or all bytes there are (stream) */
static void expect(int fd, const char *want, const char *what)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = 0;
	zd_check(n == (ssize_t)strlen(want) && !strcmp(buf, want), "%s: got %zd '%s', want '%s'",
		 what, n, n > 0 ? buf : strerror(errno), want);
}

static void expect_empty(int fd, const char *what)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	zd_check(n < 0 && errno == EAGAIN, "%s: queue not empty (%zd, %s)", what, n,
		 strerror(errno));
}

static void expect_eof(int fd, const char *what)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	zd_check(n == 0, "%s: want EOF, got %zd (%s)", what, n, strerror(errno));
}

struct state {
	int st[2], dg[2], sp[2];
	int lst, acc, cli, pend_cli;
	int seq_l, seq_pend;
	int dsrv, dcli;
	int closed;
	int opt[2];
	int shared; /* parent's end of the pair shared with the child */
	pid_t child;
};

static void pairs(struct state *s)
{
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s->st) == 0, "socketpair stream");
	must(socketpair(AF_UNIX, SOCK_DGRAM, 0, s->dg) == 0, "socketpair dgram");
	must(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s->sp) == 0, "socketpair seqpacket");
	send_all(s->st[0], "stream a->b 1;");
	send_all(s->st[0], "stream a->b 2;");
	send_all(s->st[1], "stream b->a");
	send_all(s->dg[0], "dg one");
	send_all(s->dg[0], "dg two");
	send_all(s->dg[1], "dg back");
	send_all(s->sp[0], "seq one");
	send_all(s->sp[0], "seq two");
	send_all(s->sp[1], "seq back");
	must(shutdown(s->sp[1], SHUT_WR) == 0, "shutdown");
	int c[2];
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, c) == 0, "socketpair closed");
	send_all(c[1], "last words");
	close(c[1]);
	s->closed = c[0];
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, s->opt) == 0, "socketpair opt");
	int one = 1, rcv = 65536;
	must(setsockopt(s->opt[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0, "passcred");
	must(setsockopt(s->opt[0], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) == 0, "rcvbuf");
	must(fcntl(s->opt[0], F_SETFL, O_NONBLOCK) == 0, "nonblock");
}

static void listeners(struct state *s, const char *dir)
{
	struct sockaddr_un a;
	socklen_t l = path_addr(&a, dir, "listen.sock");
	s->lst = socket(AF_UNIX, SOCK_STREAM, 0);
	must(bind(s->lst, (void *)&a, l) == 0 && listen(s->lst, 8) == 0, "listen path");
	s->cli = socket(AF_UNIX, SOCK_STREAM, 0);
	must(connect(s->cli, (void *)&a, l) == 0, "connect");
	s->acc = accept(s->lst, NULL, NULL);
	must(s->acc >= 0, "accept");
	send_all(s->cli, "to server");
	send_all(s->acc, "to client");
	s->pend_cli = socket(AF_UNIX, SOCK_STREAM, 0);
	must(connect(s->pend_cli, (void *)&a, l) == 0, "connect pending");
	char abs[64]; /* unique: tests run in parallel */
	snprintf(abs, sizeof(abs), "stasis-test-seq-%d", getpid());
	l = abstract_addr(&a, abs);
	s->seq_l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	must(bind(s->seq_l, (void *)&a, l) == 0 && listen(s->seq_l, 4) == 0, "listen abstract");
	s->seq_pend = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	must(connect(s->seq_pend, (void *)&a, l) == 0, "connect abstract");
	l = path_addr(&a, dir, "dgram.sock");
	s->dsrv = socket(AF_UNIX, SOCK_DGRAM, 0);
	must(bind(s->dsrv, (void *)&a, l) == 0, "bind dgram");
	s->dcli = socket(AF_UNIX, SOCK_DGRAM, 0);
	must(connect(s->dcli, (void *)&a, l) == 0, "connect dgram");
	send_all(s->dcli, "dgram 1");
	send_all(s->dcli, "dgram 22");
}

/* The child echoes each line back with a prefix, until EOF. */
static void child_echo(int fd)
{
	char buf[256];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			_exit(0);
		char out[300];
		int m = snprintf(out, sizeof(out), "echo:%.*s", (int)n, buf);
		if (send(fd, out, m, MSG_NOSIGNAL) != m)
			_exit(1);
	}
}

static void with_child(struct state *s)
{
	int p[2];
	must(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p) == 0, "socketpair child");
	s->child = fork();
	must(s->child >= 0, "fork");
	if (s->child == 0) {
		close(p[0]);
		zd_sleep_ms(300); /* a message from the parent waits in flight */
		child_echo(p[1]);
	}
	close(p[1]);
	s->shared = p[0];
	send_all(s->shared, "m1");
}

static void check_pairs(struct state *s)
{
	expect(s->st[1], "stream a->b 1;stream a->b 2;", "stream queue a->b");
	expect(s->st[0], "stream b->a", "stream queue b->a");
	expect(s->dg[1], "dg one", "dgram 1st");
	expect(s->dg[1], "dg two", "dgram 2nd");
	expect(s->dg[0], "dg back", "dgram back");
	expect(s->sp[1], "seq one", "seqpacket 1st");
	expect(s->sp[1], "seq two", "seqpacket 2nd");
	expect(s->sp[0], "seq back", "seqpacket back");
	expect_eof(s->sp[0], "seqpacket after the peer's shutdown");
	zd_check(send(s->sp[1], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
		 "seqpacket: sending after SHUT_WR should fail with EPIPE");
	expect(s->closed, "last words", "closed peer's data");
	expect_eof(s->closed, "closed peer");
	send_all(s->st[0], "again");
	expect(s->st[1], "again", "stream still connected");
	send_all(s->dg[1], "dg again");
	expect(s->dg[0], "dg again", "dgram still connected");
	int v = 0;
	socklen_t l = sizeof(v);
	getsockopt(s->opt[0], SOL_SOCKET, SO_PASSCRED, &v, &l);
	zd_check(v == 1, "SO_PASSCRED lost");
	l = sizeof(v);
	getsockopt(s->opt[0], SOL_SOCKET, SO_RCVBUF, &v, &l);
	zd_check(v == 2 * 65536, "SO_RCVBUF is %d, want %d", v, 2 * 65536);
	zd_check(fcntl(s->opt[0], F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
	expect_empty(s->opt[0], "opt socket");
}

static void check_listeners(struct state *s, const char *dir)
{
	expect(s->acc, "to server", "accepted socket's queue");
	expect(s->cli, "to client", "client socket's queue");
	send_all(s->acc, "more");
	expect(s->cli, "more", "accepted connection still works");
	/* a lost connection must fail the test, not hang it */
	fcntl(s->lst, F_SETFL, O_NONBLOCK);
	fcntl(s->seq_l, F_SETFL, O_NONBLOCK);
	int p = accept(s->lst, NULL, NULL);
	zd_check(p >= 0, "the pending connection is not in the accept queue: %s", strerror(errno));
	if (p >= 0) {
		send_all(s->pend_cli, "late hello");
		expect(p, "late hello", "pending connection, accepted after restart");
	}
	int q = accept(s->seq_l, NULL, NULL);
	zd_check(q >= 0, "abstract listener lost its pending connection: %s", strerror(errno));
	if (q >= 0) {
		send_all(q, "seqp");
		expect(s->seq_pend, "seqp", "abstract seqpacket connection");
	}
	/* a new client can connect by name: the listener is bound again */
	struct sockaddr_un a;
	socklen_t l = path_addr(&a, dir, "listen.sock");
	int n = socket(AF_UNIX, SOCK_STREAM, 0);
	zd_check(connect(n, (void *)&a, l) == 0, "connect to %s after restart: %s", a.sun_path,
		 strerror(errno));
	int r = accept(s->lst, NULL, NULL);
	zd_check(r >= 0, "accept of a new connection: %s", strerror(errno));
	expect(s->dsrv, "dgram 1", "bound datagram socket, 1st");
	expect(s->dsrv, "dgram 22", "bound datagram socket, 2nd");
	send_all(s->dcli, "dgram 3");
	expect(s->dsrv, "dgram 3", "datagram client still connected by name");
}

static void check_child(struct state *s)
{
	char buf[64];
	/* m1 was sent before the child first read (in flight, or answered) */
	for (int i = 2; i <= 4; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		send_all(s->shared, buf);
	}
	for (int i = 1; i <= 4; i++) {
		char want[64], got[64];
		snprintf(want, sizeof(want), "echo:m%d", i);
		ssize_t n = recv(s->shared, got, sizeof(got) - 1, 0);
		got[n > 0 ? n : 0] = 0;
		zd_check(n > 0 && !strcmp(got, want), "child echo %d: got '%s', want '%s'", i, got,
			 want);
	}
	shutdown(s->shared, SHUT_WR);
	int st;
	zd_check(waitpid(s->child, &st, 0) == s->child && WIFEXITED(st) && !WEXITSTATUS(st),
		 "child did not end cleanly");
}

int main(int argc, char **argv)
{
	struct state s;
	zd_init(argc, argv);
	const char *dir = argc > 2 ? argv[2] : ".";
	setvbuf(stdout, NULL, _IONBF, 0);
	pairs(&s);
	listeners(&s, dir);
	with_child(&s);
	zd_ready();
	zd_wait();
	check_pairs(&s);
	check_listeners(&s, dir);
	check_child(&s);
	return zd_finish();
}
