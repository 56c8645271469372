/* tcp_many: many TCP connections between two processes, each with bytes in
 * flight both ways (for the drain and refill bench and its test).
 *
 *   tcp_many VERIFY_FILE N BYTES
 *
 * The parent listens on 127.0.0.1 (any port), forks a child that connects N
 * times; on every connection each end sends BYTES bytes of a pattern of its
 * own (64-bit words: connection, side, index) from a writer thread and reads
 * nothing: "ready" once every byte is handed to the kernel (BYTES must fit a
 * connection's buffers: up to about 4 MiB). At VERIFY_FILE both read all
 * their connections and check every word; PASS.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MAXN 1024

static int fds[MAXN], n, side;
static uint64_t nbytes;

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		fflush(stdout);
		exit(2);
	}
}

static uint64_t word(int conn, int s, uint64_t i)
{
	return (uint64_t)conn << 48 ^ (uint64_t)(s + 1) << 40 ^ i;
}

/* Write BYTES on every connection, poll-driven (the buffers fill slowly). */
static void *writer(void *arg)
{
	(void)arg;
	static uint64_t sent[MAXN], buf[8192];
	for (int left = n; left;) {
		left = 0;
		for (int c = 0; c < n; c++) {
			while (sent[c] < nbytes) {
				uint64_t base = sent[c] & ~7ull, off = sent[c] - base;
				uint64_t len =
				    nbytes - base < sizeof(buf) ? nbytes - base : sizeof(buf);
				for (uint64_t k = 0; k < len / 8; k++)
					buf[k] = word(c, side, base / 8 + k);
				ssize_t w = send(fds[c], (char *)buf + off, len - off,
						 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w <= 0) {
					must(w < 0 && (errno == EAGAIN || errno == EINTR), "send");
					break;
				}
				sent[c] += w;
			}
			left += sent[c] < nbytes;
		}
		if (left)
			zd_sleep_ms(1);
	}
	return NULL;
}

static void check_all(void)
{
	static uint64_t buf[8192];
	for (int c = 0; c < n; c++) {
		uint64_t got = 0;
		while (got < nbytes) {
			ssize_t r = recv(fds[c], (char *)buf,
					 nbytes - got < sizeof(buf) ? nbytes - got : sizeof(buf),
					 MSG_WAITALL);
			if (r <= 0 || r % 8) {
				zd_fail("side %d connection %d: recv after %llu bytes: %s", side, c,
					(unsigned long long)got,
					r ? strerror(errno) : "end of stream");
				break;
			}
			for (ssize_t k = 0; k < r / 8; k++)
				if (buf[k] != word(c, !side, got / 8 + k)) {
					zd_fail("side %d connection %d: word %llu is wrong", side,
						c, (unsigned long long)(got / 8 + k));
					return;
				}
			got += r;
		}
	}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	must(argc >= 4, "usage: tcp_many VERIFY N BYTES");
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = atoi(argv[2]);
	nbytes = strtoull(argv[3], NULL, 0) & ~7ull;
	must(n > 0 && n <= MAXN, "N");
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ls = socket(AF_INET, SOCK_STREAM, 0), p[2];
	must(ls >= 0 && bind(ls, (void *)&a, sizeof(a)) == 0 && listen(ls, n) == 0 &&
		 getsockname(ls, (void *)&a, &l) == 0 && pipe(p) == 0,
	     "listen");
	pid_t child = fork();
	must(child >= 0, "fork");
	if (child == 0) {
		side = 1;
		for (int c = 0; c < n; c++) {
			fds[c] = socket(AF_INET, SOCK_STREAM, 0);
			must(connect(fds[c], (void *)&a, sizeof(a)) == 0, "connect");
		}
	} else {
		for (int c = 0; c < n; c++)
			must((fds[c] = accept(ls, NULL, NULL)) >= 0, "accept");
	}
	close(ls);
	pthread_t w;
	must(pthread_create(&w, NULL, writer, NULL) == 0, "writer");
	pthread_join(w, NULL);
	char c;
	if (child == 0)
		must(write(p[1], "r", 1) == 1, "ready pipe");
	else
		must(read(p[0], &c, 1) == 1, "the child's ready");
	if (child)
		zd_ready();
	zd_wait();
	check_all();
	if (child == 0)
		return zd_failed;
	int st = 0;
	zd_check(waitpid(child, &st, 0) == child && st == 0, "the child ended with %#x", st);
	return zd_finish();
}
