/* Signal-driven I/O and receive low-water marks across restarts:
 *   sock_async VERIFY_FILE
 * - a TCP connection of the process (loopback): its accepted end has O_ASYNC,
 *   a worker thread for owner (F_SETOWN_EX, F_OWNER_TID), SIGUSR1 for signal
 *   (F_SETSIG) and SO_RCVLOWAT 64;
 * - a pipe's read end: O_ASYNC, the process for owner (F_SETOWN), SIGIO;
 * - an end of a Unix socket pair: a child's process group for owner
 *   (F_SETOWN -PGID), without O_ASYNC, and SO_RCVLOWAT 5 (the child leads its
 *   group: two processes at "ready").
 * A byte waits unread on the connection. Once VERIFY_FILE exists each still
 * has them (F_GETFL, F_GETOWN_EX, F_GETSIG, SO_RCVLOWAT), and they work: the
 * byte is there, not readable yet (poll), 63 more make it readable and
 * bring SIGUSR1 to the worker thread with si_fd; a byte in the pipe brings
 * SIGIO. */
#include "zdtm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define TCP_LOWAT 64 /* more than the restorer reads at once (a frame of 8 + 1 bytes) */
#define UNIX_LOWAT 5

static volatile int usr1_count, usr1_fd, usr1_tid, sigio_count, stop;
static volatile pid_t worker_tid;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	usr1_fd = si->si_fd;
	usr1_tid = (int)syscall(SYS_gettid);
	__atomic_add_fetch(&usr1_count, 1, __ATOMIC_SEQ_CST);
}

static void on_sigio(int sig)
{
	(void)sig;
	__atomic_add_fetch(&sigio_count, 1, __ATOMIC_SEQ_CST);
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = (pid_t)syscall(SYS_gettid);
	while (!stop)
		zd_sleep_ms(5);
	return NULL;
}

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

/* A connected pair of TCP sockets on loopback: [0] accepted, [1] connecting. */
static void tcp_pair(int s[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	must(ls >= 0 && bind(ls, (void *)&a, l) == 0 && listen(ls, 1) == 0 &&
		 getsockname(ls, (void *)&a, &l) == 0,
	     "listen");
	s[1] = socket(AF_INET, SOCK_STREAM, 0);
	must(connect(s[1], (void *)&a, l) == 0, "connect");
	s[0] = accept(ls, NULL, NULL);
	must(s[0] >= 0, "accept");
	close(ls);
}

static int lowat(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &l);
	return v;
}

static void set_owner(int fd, int type, pid_t pid, int sig, int async)
{
	struct f_owner_ex o = {.type = (enum __pid_type)type, .pid = pid};
	must(fcntl(fd, F_SETOWN_EX, &o) == 0, "F_SETOWN_EX");
	must(fcntl(fd, F_SETSIG, sig) == 0, "F_SETSIG");
	if (async)
		must(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) == 0, "O_ASYNC");
}

static void check_owner(int fd, const char *what, int type, pid_t pid, int sig, int async)
{
	struct f_owner_ex o = {0};
	zd_check(fcntl(fd, F_GETOWN_EX, &o) == 0 && (int)o.type == type && o.pid == pid,
		 "%s: owner %d/%d, want %d/%d", what, o.type, (int)o.pid, type, (int)pid);
	zd_check(fcntl(fd, F_GETSIG) == sig, "%s: signal %d, want %d", what, fcntl(fd, F_GETSIG),
		 sig);
	zd_check(!!(fcntl(fd, F_GETFL) & O_ASYNC) == async, "%s: O_ASYNC %s", what,
		 async ? "lost" : "set");
}

/* Wait (10 s at most) until *v differs from was. */
static int changes(volatile int *v, int was)
{
	for (int i = 0; i < 1000 && __atomic_load_n(v, __ATOMIC_SEQ_CST) == was; i++)
		zd_sleep_ms(10);
	return __atomic_load_n(v, __ATOMIC_SEQ_CST) != was;
}

/* Bytes waiting on fd (10 s at most for want of them). */
static int waiting(int fd, int want)
{
	int inq = -1;
	for (int i = 0; i < 1000 && (ioctl(fd, FIONREAD, &inq) < 0 || inq < want); i++)
		zd_sleep_ms(10);
	return inq;
}

/* The byte sent before "ready" waits, not readable under the low-water
 * mark; the others make it readable and bring SIGUSR1 to the worker. */
static void check_tcp_works(int a, int c)
{
	struct pollfd p = {.fd = a, .events = POLLIN};
	char buf[TCP_LOWAT + 1] = "", more[TCP_LOWAT - 1];
	int was = usr1_count, n = waiting(a, 1);
	zd_check(n == 1, "%d bytes wait on the connection, want 1", n);
	zd_check(poll(&p, 1, 0) == 0, "1 byte is readable under SO_RCVLOWAT %d", TCP_LOWAT);
	memset(more, 'y', sizeof(more));
	zd_check(send(c, more, sizeof(more), 0) == sizeof(more), "send: %s", strerror(errno));
	zd_check(changes(&usr1_count, was), "no SIGUSR1 for %d bytes on the connection", TCP_LOWAT);
	zd_check(usr1_fd == a && usr1_tid == worker_tid,
		 "SIGUSR1 for fd %d on thread %d, want %d on %d", usr1_fd, usr1_tid, a,
		 (int)worker_tid);
	zd_check(poll(&p, 1, 1000) == 1, "%d bytes are not readable", TCP_LOWAT);
	zd_check(recv(a, buf, sizeof(buf), MSG_DONTWAIT) == TCP_LOWAT && buf[0] == 'x' &&
		     !memcmp(buf + 1, more, sizeof(more)),
		 "read '%s', want x and %d y", buf, TCP_LOWAT - 1);
}

int main(int argc, char **argv)
{
	int t[2], pp[2], u[2];
	pthread_t th;
	zd_init(argc, argv);
	struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO | SA_RESTART};
	must(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	signal(SIGIO, on_sigio);
	must(pthread_create(&th, NULL, worker, NULL) == 0, "thread");
	while (!worker_tid)
		zd_sleep_ms(1);
	tcp_pair(t);
	must(pipe(pp) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, u) == 0, "pipe");
	pid_t child = fork();
	if (child == 0) {
		setpgid(0, 0);
		zd_wait();
		_exit(0);
	}
	setpgid(child, child);
	int lw = TCP_LOWAT, uw = UNIX_LOWAT;
	must(setsockopt(t[0], SOL_SOCKET, SO_RCVLOWAT, &lw, sizeof(lw)) == 0, "rcvlowat");
	must(setsockopt(u[0], SOL_SOCKET, SO_RCVLOWAT, &uw, sizeof(uw)) == 0, "rcvlowat");
	set_owner(t[0], F_OWNER_TID, worker_tid, SIGUSR1, 1);
	set_owner(pp[0], F_OWNER_PID, getpid(), 0, 1);
	set_owner(u[0], F_OWNER_PGRP, child, 0, 0);
	must(send(t[1], "x", 1, 0) == 1 && waiting(t[0], 1) == 1, "a byte in flight");
	zd_ready();
	zd_wait();
	check_owner(t[0], "TCP connection", F_OWNER_TID, worker_tid, SIGUSR1, 1);
	check_owner(pp[0], "pipe", F_OWNER_PID, getpid(), 0, 1);
	check_owner(u[0], "unix socket", F_OWNER_PGRP, child, 0, 0);
	zd_check(lowat(t[0]) == TCP_LOWAT, "TCP SO_RCVLOWAT %d", lowat(t[0]));
	zd_check(lowat(u[0]) == UNIX_LOWAT, "unix SO_RCVLOWAT %d", lowat(u[0]));
	check_tcp_works(t[0], t[1]);
	int was = sigio_count;
	zd_check(write(pp[1], "p", 1) == 1, "write to the pipe: %s", strerror(errno));
	zd_check(changes(&sigio_count, was), "no SIGIO for a byte in the pipe");
	stop = 1;
	pthread_join(th, NULL);
	zd_reap(child, 0);
	return zd_finish();
}
