/* tcp_pair: TCP connections between processes of the computation, with
 * bytes in flight both ways, across checkpoints and restarts.
 *
 *   tcp_pair VERIFY_FILE pair   ADDR PORT BYTES MODE   (a server and its forked client)
 *   tcp_pair VERIFY_FILE server ADDR PORT BYTES MODE   (one end: listens, accepts one)
 *   tcp_pair VERIFY_FILE client ADDR PORT BYTES MODE   (the other end: connects)
 *   tcp_pair VERIFY_FILE fan ADDR PORT BYTES MODE N    (N forked clients; a forked worker
 *            serves each accepted connection, sharing it and the listener with the
 *            parent, which checks with kcmp that they are still one socket each)
 *   tcp_pair VERIFY_FILE serve ADDR PORT BYTES MODE N  (the same with N clients
 *            started elsewhere: `client` on other hosts)
 *
 * Each end sends BYTES bytes to the other: 64-bit words counting up from a
 * value of its own side, so that a byte lost, repeated or out of order is
 * seen where it happens. MODE:
 *   held   nothing is read before VERIFY_FILE: the writers block with the
 *          socket buffers full both ways (more than they hold: the drain's
 *          marker path runs at every checkpoint);
 *   acked  the bytes fit the buffers; "ready" once each end's send queue is
 *          acknowledged (SIOCOUTQ 0: the queues are copied, nothing is read);
 *   live   readers and writers run all the time, the writers past BYTES until
 *          VERIFY_FILE, then they end their stream (shutdown); "ready" after
 *          the first bytes (checkpoints land in the middle of the transfer).
 * With $TCP_PAIR_RCVBUF (bytes), each end sets SO_RCVBUF to it; with
 * $TCP_PAIR_RCVBUF_FORCE (bytes; root), it forces its receive buffer to it
 * (SO_RCVBUFFORCE, past twice net.core.rmem_max, as autotuning grows one)
 * and, held, says ready once its writer has sent everything.
 * At VERIFY_FILE each end reads what is left, checks every word, checks
 * that getsockname/getpeername and SO_BUF_LOCK (which buffer sizes the
 * program set, which autotuning may grow) give what they gave at the start,
 * then says
 * "end <side> ok". The pair says PASS once both ends did.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int fd, side, live;
static uint64_t nbytes;
static struct sockaddr_storage name0, peer0;
static int locks0 = -1; /* SO_BUF_LOCK once set up: -1, not known (Linux < 5.14) */
static volatile uint64_t got_total, sent_total;

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		fflush(stdout);
		exit(2);
	}
}

static uint64_t word(int s, uint64_t i)
{
	return ((uint64_t)(s + 1) << 56) ^ i;
}

static volatile int stop; /* live: the writer ends the stream at the next chance */

/* held, acked: nbytes. live: until stop (and at least nbytes), then SHUT_WR. */
static void *writer(void *arg)
{
	(void)arg;
	static uint64_t buf[4096];
	uint64_t sent = 0;
	while (live ? !stop || sent < nbytes || sent % 8 : sent < nbytes) {
		uint64_t base = sent & ~7ull, off = sent - base;
		uint64_t n = sizeof(buf);
		if (!live && nbytes - base < n)
			n = nbytes - base;
		for (uint64_t k = 0; k < n / 8; k++)
			buf[k] = word(side, base / 8 + k);
		ssize_t w = send(fd, (char *)buf + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			zd_fail("end %d: send after %llu bytes: %s", side, (unsigned long long)sent,
				strerror(errno));
			return NULL;
		}
		sent += w;
		sent_total = sent;
	}
	if (live && shutdown(fd, SHUT_WR) < 0)
		zd_fail("end %d: shutdown: %s", side, strerror(errno));
	return NULL;
}

/* Read and check every word of the other side: nbytes, or (live) up to the
 * end of the stream. */
static void *reader(void *arg)
{
	(void)arg;
	static uint8_t buf[1 << 16];
	uint64_t have = 0, carry = 0;
	while (live || got_total < nbytes) {
		ssize_t r = recv(fd, buf + carry, sizeof(buf) - carry, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && live) {
			zd_check(!carry && got_total >= nbytes,
				 "end %d: the stream ended after %llu bytes", side,
				 (unsigned long long)got_total);
			return NULL;
		}
		if (r <= 0) {
			zd_fail("end %d: recv after %llu bytes: %s", side,
				(unsigned long long)got_total,
				r ? strerror(errno) : "end of stream");
			return NULL;
		}
		uint64_t len = carry + r, k;
		for (k = 0; k + 8 <= len; k += 8, have++) {
			uint64_t v;
			memcpy(&v, buf + k, 8);
			if (v != word(!side, have)) {
				zd_fail("end %d: word %llu is %016llx, not %016llx", side,
					(unsigned long long)have, (unsigned long long)v,
					(unsigned long long)word(!side, have));
				return NULL;
			}
		}
		carry = len - k;
		memmove(buf, buf + k, carry);
		got_total += r;
	}
	return NULL;
}

static int same_name(int peer, const struct sockaddr_storage *was)
{
	struct sockaddr_storage now;
	socklen_t l = sizeof(now);
	memset(&now, 0, sizeof(now));
	if ((peer ? getpeername(fd, (void *)&now, &l) : getsockname(fd, (void *)&now, &l)) < 0)
		return 0;
	return !memcmp(&now, was, sizeof(now));
}

static socklen_t sockaddr_for(const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a = (void *)ss;
	struct sockaddr_in6 *b = (void *)ss;
	if (inet_pton(AF_INET, addr, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		return sizeof(*a);
	}
	must(inet_pton(AF_INET6, addr, &b->sin6_addr) == 1, "address");
	b->sin6_family = AF_INET6;
	b->sin6_port = htons(port);
	return sizeof(*b);
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t l = sockaddr_for(addr, port, &ss);
	int s = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
	must(s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "socket");
	must(bind(s, (void *)&ss, l) == 0 && listen(s, 4) == 0, "listen");
	return s;
}

static int connect_to(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t l = sockaddr_for(addr, port, &ss);
	int s = socket(ss.ss_family, SOCK_STREAM, 0);
	for (int i = 0; i < 500; i++) { /* the server may not listen yet */
		if (connect(s, (void *)&ss, l) == 0)
			return s;
		close(s);
		s = socket(ss.ss_family, SOCK_STREAM, 0);
		zd_sleep_ms(20);
	}
	must(0, "connect");
	return -1;
}

static int outq(void)
{
	int q = -1;
	ioctl(fd, SIOCOUTQ, &q);
	return q;
}

/* Set up this end on connected socket s; returns once it may say ready. */
static void start(int s, int which, pthread_t *w, pthread_t *r)
{
	socklen_t l = sizeof(name0);
	fd = s;
	side = which;
	must(getsockname(fd, (void *)&name0, &l) == 0, "getsockname");
	l = sizeof(peer0);
	must(getpeername(fd, (void *)&peer0, &l) == 0, "getpeername");
	const char *set = getenv("TCP_PAIR_RCVBUF"), *force = getenv("TCP_PAIR_RCVBUF_FORCE");
	int rcvbuf = set ? atoi(set) : 0, forced = force ? atoi(force) : 0;
	must(!set || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0,
	     "SO_RCVBUF");
	must(!force || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &forced, sizeof(forced)) == 0,
	     "SO_RCVBUFFORCE");
	l = sizeof(locks0);
	if (getsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &locks0, &l) < 0)
		locks0 = -1;
	must(pthread_create(w, NULL, writer, NULL) == 0, "writer");
	if (live)
		must(pthread_create(r, NULL, reader, NULL) == 0, "reader");
	while (live && got_total < (1u << 20))
		zd_sleep_ms(5);
	while (!live && nbytes < (1u << 20) && (sent_total < nbytes || outq() != 0))
		zd_sleep_ms(5); /* acked: everything sent is in the peer's queue */
	while (!live && force && sent_total < nbytes)
		zd_sleep_ms(5); /* everything is in flight */
}

static void finish(pthread_t w, pthread_t r)
{
	/* first: once both ends have ended their streams the socket is closed,
	 * and the kernel has no peer name to give */
	zd_check(same_name(0, &name0), "end %d: getsockname changed", side);
	zd_check(same_name(1, &peer0), "end %d: getpeername changed", side);
	int locks = -1;
	socklen_t l = sizeof(locks);
	getsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &locks, &l);
	zd_check(locks == locks0,
		 "end %d: SO_BUF_LOCK is %d, was %d (the buffers the program "
		 "set stay set; those autotuning grew stay autotuned)",
		 side, locks, locks0);
	stop = 1;
	if (!live)
		must(pthread_create(&r, NULL, reader, NULL) == 0, "reader");
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	if (!zd_failed)
		printf("end %d ok (%llu bytes read)\n", side, (unsigned long long)got_total);
	fflush(stdout);
}

static int hold_fd = -1; /* a worker waits for EOF here before it exits */

/* One end in its own process: set up, say so on ready_fd, wait, verify. */
static void run_end(int s, int which, int ready_fd)
{
	pthread_t w, r = 0;
	char c;
	start(s, which, &w, &r);
	must(write(ready_fd, "r", 1) == 1, "ready pipe");
	zd_wait();
	finish(w, r);
	if (hold_fd >= 0) /* the parent compares descriptors with ours first */
		must(read(hold_fd, &c, 1) == 0, "waiting for the parent");
	exit(zd_failed);
}

static pid_t fork_end(int listener, const char *addr, int port, int s, int ready_fd)
{
	pid_t pid = fork();
	must(pid >= 0, "fork");
	if (pid == 0) {
		if (s < 0) { /* a client */
			close(listener);
			run_end(connect_to(addr, port), 1, ready_fd);
		}
		run_end(s, 0, ready_fd);
	}
	return pid;
}

/* fan: N clients (forked here, or with `serve` elsewhere: other hosts);
 * each accepted connection is served by a worker child that shares it (and
 * the listener) with the parent. */
static void fan(const char *addr, int port, int n, int local)
{
	int l = listen_on(addr, port), p[2], hold[2], conns[64];
	pid_t clients[64], workers[64];
	struct sockaddr_storage lname;
	socklen_t ll = sizeof(lname);
	memset(&lname, 0, sizeof(lname));
	must(n > 0 && n <= 64 && pipe(p) == 0 && pipe(hold) == 0 &&
		 getsockname(l, (void *)&lname, &ll) == 0,
	     "fan setup");
	for (int i = 0; i < n; i++)
		clients[i] = local ? fork_end(l, addr, port, -1, p[1]) : -1;
	hold_fd = hold[0];
	for (int i = 0; i < n; i++) {
		must((conns[i] = accept(l, NULL, NULL)) >= 0, "accept");
		if ((workers[i] = fork()) == 0) {
			close(hold[1]);
			run_end(conns[i], 0, p[1]); /* keeps the listener and the sockets */
		}
		must(workers[i] > 0, "fork");
	}
	for (int i = 0; i < (local ? 2 : 1) * n; i++) {
		char c;
		must(read(p[0], &c, 1) == 1, "the ends' ready");
	}
	zd_ready();
	zd_wait();
	for (int i = 0; i < n; i++) {
		long a =
		    syscall(SYS_kcmp, getpid(), workers[i], 0 /* KCMP_FILE */, conns[i], conns[i]);
		zd_check(a == 0,
			 "connection %d: the parent's and worker %d's descriptors are not "
			 "one socket (kcmp %ld: %s)",
			 i, workers[i], a, strerror(errno));
		long b = syscall(SYS_kcmp, getpid(), workers[i], 0, l, l);
		zd_check(b == 0,
			 "the parent's and worker %d's listeners are not one socket (kcmp %ld)",
			 workers[i], b);
	}
	struct sockaddr_storage now;
	memset(&now, 0, sizeof(now));
	ll = sizeof(now);
	zd_check(getsockname(l, (void *)&now, &ll) == 0 && !memcmp(&now, &lname, sizeof(now)),
		 "the listener's getsockname changed");
	close(hold[1]);
	for (int i = 0; i < n; i++) {
		int st = 0;
		zd_check(waitpid(workers[i], &st, 0) == workers[i] && st == 0,
			 "worker %d ended with status %#x", workers[i], st);
		zd_check(!local || (waitpid(clients[i], &st, 0) == clients[i] && st == 0),
			 "client %d ended with status %#x", clients[i], st);
	}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (argc < 7) {
		fprintf(stderr,
			"usage: tcp_pair VERIFY (pair|server|client|fan|serve) ADDR PORT BYTES "
			"MODE [NCLIENTS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *role = argv[2], *addr = argv[3];
	int port = atoi(argv[4]);
	nbytes = strtoull(argv[5], NULL, 0) & ~7ull;
	live = !strcmp(argv[6], "live");
	pthread_t w, r = 0;
	if (!strcmp(role, "fan") || !strcmp(role, "serve")) {
		fan(addr, port, argc > 7 ? atoi(argv[7]) : 3, !strcmp(role, "fan"));
		return zd_finish();
	}
	if (!strcmp(role, "client")) {
		start(connect_to(addr, port), 1, &w, &r);
		zd_ready();
		zd_wait();
		finish(w, r);
		return zd_finish();
	}
	int l = listen_on(addr, port), p[2] = {-1, -1};
	pid_t child = -1;
	if (!strcmp(role, "pair")) {
		must(pipe(p) == 0, "pipe");
		child = fork_end(l, addr, port, -1, p[1]);
	}
	int s = accept(l, NULL, NULL);
	must(s >= 0, "accept");
	close(l);
	start(s, 0, &w, &r);
	char c;
	must(p[0] < 0 || read(p[0], &c, 1) == 1, "the client's ready");
	zd_ready();
	zd_wait();
	finish(w, r);
	int st = 0;
	if (child > 0)
		zd_check(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
			 "the client end ended with status %#x", st);
	return zd_finish();
}
