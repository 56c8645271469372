/* tcp_ports: a listener whose port must come back at restart, beside TCP
 * connections inside the computation, which a restart makes again on ports
 * the kernel picks (tests/e2e/test_tcp.py, test_distributed.py).
 *
 *   tcp_ports VERIFY_FILE local P L N      listens on 0.0.0.0:P (nothing connects
 *                                          to it before VERIFY_FILE) and on
 *                                          127.0.0.1:L, where a child connects N times
 *   tcp_ports VERIFY_FILE server P L N     the same on 0.0.0.0:L, without the child:
 *                                          N clients come from elsewhere
 *   tcp_ports VERIFY_FILE client HOST L N  connects to HOST:L N times
 *
 * L's listener is closed once the connections are made. Each end of every
 * connection sends one word (connection, side) and reads nothing until
 * VERIFY_FILE; then it reads its peer's. The process that listens on P then
 * connects to 127.0.0.1:P and accepts that connection: its listener is back.
 * "listening" once P and L listen, "ready" once every word is sent; PASS.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#define MAXN 64

static int fds[MAXN], n, side;

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		fflush(stdout);
		exit(2);
	}
}

static struct sockaddr_in addr(const char *host, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	must(inet_pton(AF_INET, host, &a.sin_addr) == 1, "address");
	return a;
}

static int listen_on(const char *host, int port)
{
	struct sockaddr_in a = addr(host, port);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	must(s >= 0 && bind(s, (void *)&a, sizeof(a)) == 0 && listen(s, MAXN) == 0, "listen");
	return s;
}

static uint64_t word(int conn, int s)
{
	return (uint64_t)0x5a17 << 48 | (uint64_t)conn << 8 | (uint64_t)s;
}

static void connect_all(const char *host, int port)
{
	struct sockaddr_in a = addr(host, port);
	for (int c = 0; c < n; c++) {
		fds[c] = socket(AF_INET, SOCK_STREAM, 0);
		must(fds[c] >= 0 && connect(fds[c], (void *)&a, sizeof(a)) == 0, "connect");
	}
}

static void accept_all(int ls)
{
	for (int c = 0; c < n; c++)
		must((fds[c] = accept(ls, NULL, NULL)) >= 0, "accept");
	close(ls);
}

static void send_words(void)
{
	for (int c = 0; c < n; c++) {
		uint64_t w = word(c, side);
		must(send(fds[c], &w, sizeof(w), MSG_NOSIGNAL) == (ssize_t)sizeof(w), "send");
	}
}

static void check_words(void)
{
	for (int c = 0; c < n; c++) {
		uint64_t w = 0;
		ssize_t r = recv(fds[c], &w, sizeof(w), MSG_WAITALL);
		zd_check(r == (ssize_t)sizeof(w) && w == word(c, !side),
			 "side %d connection %d: got %zd bytes, word %#llx", side, c, r,
			 (unsigned long long)w);
	}
}

/* The listener on P takes a connection to itself. */
static void check_listener(int ls, int port)
{
	struct sockaddr_in a = addr("127.0.0.1", port);
	int s = socket(AF_INET, SOCK_STREAM, 0), t = -1;
	zd_check(s >= 0 && connect(s, (void *)&a, sizeof(a)) == 0 &&
		     (t = accept(ls, NULL, NULL)) >= 0,
		 "the listener on port %d: %s", port, strerror(errno));
	if (t >= 0)
		close(t);
	if (s >= 0)
		close(s);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	must(argc == 6, "usage: tcp_ports VERIFY local|server P L N, or client HOST L N");
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *role = argv[2];
	n = atoi(argv[5]);
	must(n > 0 && n <= MAXN, "N");
	if (!strcmp(role, "client")) {
		side = 1;
		connect_all(argv[3], atoi(argv[4]));
		send_words();
		zd_ready();
		zd_wait();
		check_words();
		return zd_finish();
	}
	int local = !strcmp(role, "local"), port = atoi(argv[3]), p[2];
	must(local || !strcmp(role, "server"), "role");
	int kept = listen_on("0.0.0.0", port);
	int ls = listen_on(local ? "127.0.0.1" : "0.0.0.0", atoi(argv[4]));
	must(pipe(p) == 0, "pipe");
	zd_say("listening");
	pid_t child = local ? fork() : 0;
	must(child >= 0, "fork");
	if (local && child == 0) {
		side = 1;
		close(kept);
		close(ls);
		connect_all("127.0.0.1", atoi(argv[4]));
		send_words();
		must(write(p[1], "r", 1) == 1, "ready pipe");
		zd_wait();
		check_words();
		return zd_failed;
	}
	accept_all(ls);
	send_words();
	char c;
	if (local)
		must(read(p[0], &c, 1) == 1, "the child's ready");
	zd_ready();
	zd_wait();
	check_words();
	check_listener(kept, port);
	if (local)
		zd_reap(child, 0);
	return zd_finish();
}
