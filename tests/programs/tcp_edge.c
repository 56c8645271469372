/* tcp_edge: the corner cases of TCP connections inside the computation, in one
 * process that holds both ends (a listener on 127.0.0.1:PORT and its clients).
 *
 *   tcp_edge VERIFY_FILE MODE PORT
 *
 * MODE:
 *   half     the client sends 5000 bytes and shuts its sending side; the
 *            server sends 3000 bytes; nothing is read before VERIFY_FILE, and
 *            "ready" once both ends' queues are acknowledged. At verify the
 *            server reads the 5000 bytes and then the end of the stream, the
 *            client the 3000 bytes and more sent after verify; writing on the
 *            client's shut side fails with EPIPE (checkpoints are handled).
 *   urgent   the client sends one urgent byte (MSG_OOB) and 100 bytes the
 *            server does not read (checkpoints are refused).
 *   pending  a client is connected and has sent 100 bytes, but the server has
 *            not accepted it yet (checkpoints are refused).
 *   connecting  a listener with a full accept queue: one client waits there,
 *            another one's non-blocking connect stays in progress (refused).
 * After VERIFY_FILE every mode checks its bytes and that the connections still
 * work, and says PASS.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static struct sockaddr_in addr;

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		fflush(stdout);
		exit(2);
	}
}

static int listener(int backlog)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	must(s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "socket");
	must(bind(s, (void *)&addr, sizeof(addr)) == 0 && listen(s, backlog) == 0, "listen");
	return s;
}

static int client(int nonblock)
{
	int c = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int rc = connect(c, (void *)&addr, sizeof(addr));
	must(rc == 0 || (nonblock && errno == EINPROGRESS), "connect");
	return c;
}

static int queued(int fd, int req)
{
	int q = -1;
	ioctl(fd, req, &q);
	return q;
}

static void fill(char *buf, int n, int seed)
{
	for (int i = 0; i < n; i++)
		buf[i] = (char)(i * 7 + seed);
}

/* Read exactly n bytes and compare them with the pattern of seed. */
static void expect(int fd, int n, int seed, const char *what)
{
	char want[8192], got[8192];
	int have = 0;
	fill(want, n, seed);
	while (have < n) {
		ssize_t r = recv(fd, got + have, n - have, 0);
		if (r <= 0) {
			zd_fail("%s: got %d of %d bytes (%s)", what, have, n,
				r ? strerror(errno) : "end of stream");
			return;
		}
		have += r;
	}
	zd_check(!memcmp(want, got, n), "%s: the bytes differ", what);
}

static void send_pattern(int fd, int n, int seed)
{
	char buf[8192];
	fill(buf, n, seed);
	must(send(fd, buf, n, MSG_NOSIGNAL) == n, "send");
}

static void half(void)
{
	int l = listener(4), c = client(0), s = accept(l, NULL, NULL);
	char x;
	must(s >= 0, "accept");
	send_pattern(c, 5000, 1);
	must(shutdown(c, SHUT_WR) == 0, "shutdown");
	send_pattern(s, 3000, 2);
	while (queued(c, SIOCOUTQ) || queued(s, SIOCOUTQ))
		zd_sleep_ms(5);
	zd_ready();
	zd_wait();
	expect(s, 5000, 1, "server");
	zd_check(recv(s, &x, 1, 0) == 0, "server: no end of stream after the client's bytes");
	expect(c, 3000, 2, "client");
	send_pattern(s, 1000, 3);
	expect(c, 1000, 3, "client, after verify");
	zd_check(send(c, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
		 "client: writing on its shut side did not fail with EPIPE");
}

static void urgent(void)
{
	int l = listener(4), c = client(0), s = accept(l, NULL, NULL);
	char x = 0;
	must(s >= 0, "accept");
	send_pattern(c, 100, 4);
	must(send(c, "U", 1, MSG_OOB) == 1, "send MSG_OOB");
	struct pollfd p = {.fd = s, .events = POLLPRI};
	must(poll(&p, 1, 10000) == 1, "urgent data arriving");
	zd_ready();
	zd_wait();
	zd_check(recv(s, &x, 1, MSG_OOB) == 1 && x == 'U', "the urgent byte is lost");
	expect(s, 100, 4, "server");
}

static void pending(void)
{
	int l = listener(4), c = client(0);
	send_pattern(c, 100, 5);
	zd_ready();
	zd_wait();
	int s = accept(l, NULL, NULL);
	must(s >= 0, "accept");
	expect(s, 100, 5, "server");
}

static void connecting(void)
{
	int l = listener(0), c1 = client(0), c2 = client(1); /* its SYN is dropped */
	struct pollfd p = {.fd = c2, .events = POLLOUT};
	zd_ready();
	zd_wait();
	int s1 = accept(l, NULL, NULL);
	zd_check(s1 >= 0, "accept 1: %s", strerror(errno));
	zd_check(poll(&p, 1, 10000) == 1, "the second connect did not complete");
	int s2 = accept(l, NULL, NULL);
	zd_check(s2 >= 0, "accept 2: %s", strerror(errno));
	send_pattern(c1, 10, 6);
	expect(s1, 10, 6, "connection 1");
	fcntl(c2, F_SETFL, 0);
	send_pattern(c2, 10, 7);
	expect(s2, 10, 7, "connection 2");
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (argc < 4) {
		fprintf(stderr, "usage: tcp_edge VERIFY (half|urgent|pending|connecting) PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(atoi(argv[3]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	const char *mode = argv[2];
	if (!strcmp(mode, "half"))
		half();
	else if (!strcmp(mode, "urgent"))
		urgent();
	else if (!strcmp(mode, "pending"))
		pending();
	else if (!strcmp(mode, "connecting"))
		connecting();
	else
		must(0, "mode");
	return zd_finish();
}
