/* sock_inet: TCP and UDP sockets across checkpoint/restart cycles.
 *
 *   sock_inet VERIFY_FILE TCP_PORT UDP_PORT OUTSIDE_PORT
 *
 * Listens on 127.0.0.1:TCP_PORT (SO_REUSEADDR) and [::1]:TCP_PORT (IPV6_V6ONLY,
 * SO_REUSEADDR), like redis; binds UDP on 127.0.0.1:UDP_PORT; connects to a
 * server outside at 127.0.0.1:OUTSIDE_PORT, and accepts one client from
 * outside on the IPv4 listener before saying "ready". After VERIFY_FILE: both
 * connections to outside read as reset (ECONNRESET); the listeners keep their
 * address, port and options and accept a new client each (it sends "ping4" or
 * "ping6" and gets "pong"); a datagram sent to the UDP port gets an answer.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(fd, level, name, &v, &l);
	return v;
}

static int listen_on(int family, int port)
{
	int s = socket(family, SOCK_STREAM, 0), one = 1;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		must(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0, "v6only");
	}
	must(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "reuseaddr");
	must(bind(s, (void *)&ss, sizeof(ss)) == 0 && listen(s, 16) == 0, "listen");
	return s;
}

static int wait_in(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

static void serve_one(int l, const char *want, const char *what)
{
	char buf[16] = "";
	zd_check(wait_in(l, 10000), "%s: no client came", what);
	int c = accept(l, NULL, NULL);
	zd_check(c >= 0, "%s: accept: %s", what, strerror(errno));
	if (c < 0)
		return;
	ssize_t n = wait_in(c, 10000) ? recv(c, buf, sizeof(buf) - 1, 0) : -1;
	buf[n > 0 ? n : 0] = 0;
	zd_check(!strcmp(buf, want), "%s: got '%s', want '%s'", what, buf, want);
	zd_check(send(c, "pong", 4, MSG_NOSIGNAL) == 4, "%s: send", what);
	close(c);
}

static void expect_reset(int fd, const char *what)
{
	char c;
	wait_in(fd, 5000);
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	zd_check(n < 0 && errno == ECONNRESET, "%s: recv gave %zd (%s), want ECONNRESET", what, n,
		 n < 0 ? strerror(errno) : "data or EOF");
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 5)
		return 2;
	int port = atoi(argv[2]), uport = atoi(argv[3]), oport = atoi(argv[4]);
	int l4 = listen_on(AF_INET, port), l6 = listen_on(AF_INET6, port);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	a.sin_port = htons(uport);
	must(bind(u, (void *)&a, sizeof(a)) == 0, "bind udp");
	int out = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons(oport);
	must(connect(out, (void *)&a, sizeof(a)) == 0, "connect outside");
	zd_say("listening");
	int in = accept(l4, NULL, NULL);
	must(in >= 0, "accept");
	zd_ready();
	zd_wait();
	expect_reset(out, "connection to outside");
	expect_reset(in, "connection accepted from outside");
	struct sockaddr_in6 b6;
	socklen_t l = sizeof(b6);
	zd_check(getsockname(l6, (void *)&b6, &l) == 0 && ntohs(b6.sin6_port) == port,
		 "IPv6 listener port changed");
	zd_check(opt(l4, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR lost");
	zd_check(opt(l6, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPV6_V6ONLY lost");
	zd_check(opt(l4, SOL_SOCKET, SO_ACCEPTCONN) == 1, "IPv4 socket no longer listens");
	serve_one(l4, "ping4", "IPv4 listener");
	serve_one(l6, "ping6", "IPv6 listener");
	char buf[16] = "";
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n =
	    wait_in(u, 10000) ? recvfrom(u, buf, sizeof(buf) - 1, 0, (void *)&from, &fl) : -1;
	buf[n > 0 ? n : 0] = 0;
	zd_check(!strcmp(buf, "udp?"), "UDP: got '%s'", buf);
	if (n > 0)
		sendto(u, "udp!", 4, 0, (void *)&from, fl);
	return zd_finish();
}
