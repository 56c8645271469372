/* sock_port: a TCP listener without SO_REUSEADDR gets its port back at every
 * restart, although the killed original's connections wait in TIME-WAIT on
 * it (DMTCP's frisbee).
 *
 *   sock_port VERIFY_FILE PORT
 *
 * Listens on 127.0.0.1:PORT with SO_REUSEADDR left off, and accepts clients
 * all along: each gets "hello N" (N counts clients across restarts) and is
 * kept open, until it sends a line: then the program closes it. After VERIFY_FILE: SO_REUSEADDR
 * still reads 0 on the listener (the restart's own use of it does not show), and the port is its
 * own.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define MAX_CLIENTS 64

static int lsock, nclients, clients[MAX_CLIENTS];

static int reuseaddr(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &l);
	return v;
}

/* A client that says "bye" is closed by the program: its connection waits in
 * TIME-WAIT on the listener's port, the program having closed it first. */
static void goodbyes(void)
{
	for (int i = 0; i < nclients; i++) {
		struct pollfd p = {clients[i], POLLIN, 0};
		char buf[8];
		if (clients[i] < 0 || poll(&p, 1, 0) != 1)
			continue;
		if (read(clients[i], buf, sizeof(buf)) > 0) {
			close(clients[i]);
			clients[i] = -1;
		}
	}
}

static void tick(void)
{
	struct pollfd p = {lsock, POLLIN, 0};
	char hello[32];
	goodbyes();
	if (poll(&p, 1, 0) != 1 || nclients == MAX_CLIENTS)
		return;
	int c = accept(lsock, NULL, NULL);
	if (c < 0) {
		zd_fail("accept: %s", strerror(errno));
		return;
	}
	clients[nclients++] = c;
	int n = snprintf(hello, sizeof(hello), "hello %d\n", nclients);
	if (write(c, hello, n) != n)
		zd_fail("write to client %d: %s", nclients, strerror(errno));
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsock = socket(AF_INET, SOCK_STREAM, 0);
	if (lsock < 0 || bind(lsock, (void *)&a, sizeof(a)) < 0 || listen(lsock, 8) < 0) {
		zd_fail("listen on port %s: %s", argv[2], strerror(errno));
		return zd_finish();
	}
	zd_check(reuseaddr(lsock) == 0, "SO_REUSEADDR is %d before any checkpoint",
		 reuseaddr(lsock));
	zd_ready();
	zd_wait_tick(tick);
	zd_check(reuseaddr(lsock) == 0,
		 "SO_REUSEADDR reads %d after the restarts, the program left it 0",
		 reuseaddr(lsock));
	socklen_t l = sizeof(a);
	zd_check(getsockname(lsock, (void *)&a, &l) == 0 && ntohs(a.sin_port) == atoi(argv[2]),
		 "the listener is no longer on port %s", argv[2]);
	return zd_finish();
}
