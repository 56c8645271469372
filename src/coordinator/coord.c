/* The coordinator's life: checkpoint directory, listening socket, token file,
 * signals, --exit-on-last, and running it in the foreground, as a child or as a
 * daemon. */
#include "common/complock.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"
#include "coordinator/coord_int.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_GRACE_MS                                                                             \
	5000 /* --exit-on-last: a new coordinator waits this long for a first                      \
		 client (a launch or restart is on its way) */
#define DEFAULT_TIMEOUT_S 20
#define LISTEN_BACKLOG 4096 /* many processes join at once (the kernel caps it: somaxconn) */

static int resolve_self(struct coord *c, const char *exe, char *err, size_t errlen)
{
	if (exe) {
		snprintf(c->self_exe, sizeof(c->self_exe), "%s", exe);
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", c->self_exe, sizeof(c->self_exe) - 1);
	if (n < 0)
		return errf(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
	c->self_exe[n] = 0;
	return 0;
}

static int bind_error(struct coord *c, char *err, size_t errlen)
{
	unsigned p = c->opts.port;
	if (errno == EADDRINUSE)
		return errf(err, errlen,
			    "port %u is in use (by another coordinator? 'stasis status -p %u' "
			    "tells): choose another with -p",
			    p, p);
	return errf(err, errlen, "cannot listen on %s:%u: %s", c->bind_addr, p, strerror(errno));
}

/* The numeric text of address a into buf. */
static const char *numeric(const struct addrinfo *a, char *buf, size_t size)
{
	if (getnameinfo(a->ai_addr, a->ai_addrlen, buf, size, NULL, 0, NI_NUMERICHOST))
		snprintf(buf, size, "?");
	return buf;
}

/* a's address was listed before it in res. */
static int seen_before(const struct addrinfo *res, const struct addrinfo *a)
{
	char x[NI_MAXHOST], y[NI_MAXHOST];
	for (const struct addrinfo *b = res; b != a; b = b->ai_next)
		if (!strcmp(numeric(a, x, sizeof(x)), numeric(b, y, sizeof(y))))
			return 1;
	return 0;
}

/* A name with several addresses: say which one the coordinator takes (the
 * first, which a client given the same name connects to: proto.c). */
static void say_which(const char *name, const struct addrinfo *res)
{
	char list[512] = "", one[NI_MAXHOST];
	int n = 0;
	for (const struct addrinfo *a = res; a; a = a->ai_next) {
		if (seen_before(res, a))
			continue;
		size_t len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", n++ ? ", " : "",
			 numeric(a, one, sizeof(one)));
	}
	if (n > 1)
		log_msg(NULL,
			"--bind %s: %s has %d addresses (%s); the coordinator listens on %s, the "
			"first, which a client given --coord-host %s connects to (give --bind an "
			"address to choose another)",
			name, name, n, list, numeric(res, one, sizeof(one)), name);
}

/* --bind (an IP address or a host name; 127.0.0.1 if not given) resolved
 * as a client resolves --coord-host. */
static int resolve_bind(struct coord *c, struct addrinfo **res, char *err, size_t errlen)
{
	const char *name = c->opts.bind_addr ? c->opts.bind_addr : "127.0.0.1";
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	char serv[8];
	snprintf(serv, sizeof(serv), "%u", (unsigned)c->opts.port);
	int rc = getaddrinfo(name, serv, &hints, res);
	if (rc)
		return errf(err, errlen,
			    "cannot listen on '%s' (--bind): %s; give an IP address or a name of "
			    "this host",
			    name, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	say_which(name, *res);
	return 0;
}

/* Bind (the caller listens); bind_addr becomes the address bound. */
static int bind_socket(struct coord *c, char *err, size_t errlen)
{
	struct addrinfo *res;
	int one = 1;
	if (resolve_bind(c, &res, err, errlen) < 0)
		return -1;
	numeric(res, c->bind_addr, sizeof(c->bind_addr));
	c->listen_fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0 ||
	    setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(c->listen_fd, res->ai_addr, res->ai_addrlen) < 0) {
		freeaddrinfo(res);
		return bind_error(c, err, errlen);
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(c->listen_fd, (struct sockaddr *)&ss, &sl) < 0)
		return errf(err, errlen, "cannot read the bound address: %s", strerror(errno));
	char port[NI_MAXSERV];
	getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, port, sizeof(port), NI_NUMERICSERV);
	c->port = (uint16_t)atoi(port);
	return 0;
}

/* The port is ours in the run directory (common/complock.h): a coordinator
 * listening on it at another address would replace our token file, or we
 * its. */
static int take_port(struct coord *c, char *err, size_t errlen)
{
	struct portlock_holder h;
	char token[4200] = "?";
	if (proto_run_dir_ensure(err, errlen) < 0)
		return -1;
	if (portlock_take(c->port, c->bind_addr, &c->port_lock_fd, &h) == 0)
		return 0;
	if (errno != EWOULDBLOCK) {
		int why = errno;
		char path[4200] = "coord-PORT.lock in the run directory";
		portlock_path(c->port, path, sizeof(path));
		return errf(err, errlen,
			    "cannot lock port %u (%s): %s; check that the run directory is "
			    "yours and writable (or set STASIS_RUN_DIR)",
			    c->port, path, strerror(why));
	}
	proto_token_path(c->port, token, sizeof(token));
	if (!h.pid)
		return errf(
		    err, errlen,
		    "port %u is being taken by another coordinator with this run directory "
		    "(its token file is %s): give this one another port (-p) or another run "
		    "directory ($STASIS_RUN_DIR)",
		    c->port, token);
	return errf(err, errlen,
		    "port %u is served already by the coordinator pid %d on %s, whose token file "
		    "%s a second coordinator on the port (on %s) would replace: stop that one "
		    "first ('stasis kill -p %u --coord-host %s --coordinator'), or give this one "
		    "another port (-p) or another run directory ($STASIS_RUN_DIR)",
		    c->port, h.pid, h.addr, token, c->bind_addr, c->port, h.addr);
}

static void coord_destroy(struct coord *c)
{
	life_stop_listening(c);
	files_forget(c);
	conn_free_all(c);
	fds_release(c);
	if (c->sig_fd >= 0)
		close(c->sig_fd);
	life_release(c);
	loop_free(c->loop);
	ckpt_free(&c->ckpt);
	sbuf_free(&c->last_images);
	names_forget(c);
	restart_forget(c);
	sodium_memzero(c->token, sizeof(c->token));
	free(c);
}

static void before_sleep(struct loop *l, void *data)
{
	(void)l;
	conn_reap(data);
	kill_check(data);
	life_check_exit(data);
}

#define TICK_MS 500

/* Twice a second: a checkpoint's pings and bounds, a kill's escalation,
 * clients that connected and never said hello, the computation's lock. */
static long long tick(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	(void)l;
	(void)id;
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_HELLO && now_ms() - k->heard_ms > 2 * PROTO_HANDSHAKE_MS)
			conn_drop(k, "no hello");
	watch_tick(c);
	kill_check(c);
	if (!coord_nprocs(c) && !c->restarting && !ckpt_exec_pending(c, 0))
		life_release(c); /* the computation is over (a process that left to exec
				    and never came back held it) */
	return TICK_MS;
}

static int setup_loop(struct coord *c, char *err, size_t errlen)
{
	c->loop = loop_new();
	if (!c->loop || loop_add_fd(c->loop, c->listen_fd, LOOP_READ, conn_accept, c) < 0 ||
	    loop_add_timer(c->loop, TICK_MS, tick, c) < 0 ||
	    ctl_set_interval(c, c->opts.interval) < 0)
		return errf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
	loop_set_before_sleep(c->loop, before_sleep, c);
	return 0;
}

struct coord *coord_start(const struct coord_opts *o, char *err, size_t errlen)
{
	struct coord *c = calloc(1, sizeof(*c));
	if (!c) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	c->opts = *o;
	c->listen_fd = c->sig_fd = c->lock_fd = c->reserve_fd = c->port_lock_fd = -1;
	c->timeout_ms = (o->timeout ? o->timeout : DEFAULT_TIMEOUT_S) * 1000u;
	c->interval_set = o->interval_given || o->interval != 0;
	life_linger(c, START_GRACE_MS);
	snprintf(c->bind_addr, sizeof(c->bind_addr), "%s",
		 o->bind_addr ? o->bind_addr : "127.0.0.1");
	fds_setup(c);
	if (sodium_init() < 0) {
		errf(err, errlen, "cannot initialize libsodium");
		goto fail;
	}
	if (files_resolve_dir(o->ckpt_dir ? o->ckpt_dir : ".", 1, c->ckpt_dir, err, errlen) < 0 ||
	    resolve_self(c, o->self_exe, err, errlen) < 0 || bind_socket(c, err, errlen) < 0)
		goto fail;
	/* Listening makes the port ours: two coordinators started at once may
	 * both bind it (SO_REUSEADDR), but only one listens, and only that one
	 * writes the token file. No client reads the token before the event
	 * loop sends its challenge, after the file is written. */
	if (listen(c->listen_fd, LISTEN_BACKLOG) < 0) {
		bind_error(c, err, errlen);
		goto fail;
	}
	if (take_port(c, err, errlen) < 0)
		goto fail;
	if (proto_token_create(c->port, c->token, err, errlen) < 0)
		goto fail;
	proto_token_path(c->port, c->token_path, sizeof(c->token_path));
	if (setup_loop(c, err, errlen) < 0 || files_setup(c, err, errlen) < 0)
		goto fail;
	return c;
fail:
	coord_destroy(c);
	return NULL;
}

uint16_t coord_port(const struct coord *c)
{
	return c->port;
}

const char *coord_ckpt_dir(const struct coord *c)
{
	return c->ckpt_dir;
}

static void on_signal(struct loop *l, int fd, void *data, int mask)
{
	struct signalfd_siginfo si;
	(void)data;
	(void)mask;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_msg(NULL, "coordinator exiting on SIG%s", sigabbrev_np((int)si.ssi_signo));
	loop_stop(l);
}

int coord_serve(struct coord *c)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &set, &old);
	c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sig_fd < 0 || loop_add_fd(c->loop, c->sig_fd, LOOP_READ, on_signal, c) < 0)
		warn("cannot watch for signals: %s", strerror(errno));
	if (loop_run(c->loop) < 0) {
		error("coordinator event loop failed: %s", strerror(errno));
		c->status = 1;
	}
	conn_reap(c);
	conn_flush_all(c);
	int status = c->status;
	coord_destroy(c);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}

int coord_run(const struct coord_opts *o)
{
	char err[PATH_MAX + 256];
	struct coord *c = coord_start(o, err, sizeof(err));
	if (!c) {
		error("%s", err);
		return 1;
	}
	if (o->log_file && life_open_log(c) < 0)
		warn("cannot log to %s: %s", c->log_path, strerror(errno));
	log_msg(NULL, "coordinator listening on %s:%u (pid %d), checkpoints in %s", c->bind_addr,
		c->port, (int)getpid(), c->ckpt_dir);
	return coord_serve(c);
}

/* ---- running in a child ---- */

/* stdin and stdout on /dev/null, stderr to the log file */
static void detach_stdio(struct coord *c)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (life_open_log(c) < 0)
		dup2(fd, 2);
	close(fd);
	if (chdir("/") < 0)
		warn("cannot change directory to /: %s", strerror(errno));
}

/* In the child: start, report "R <port> <pid>" or "E <message>" on fd, serve. */
static __attribute__((noreturn)) void spawn_child(const struct coord_opts *o, int daemon, int fd)
{
	char msg[PATH_MAX + 256];
	/* its starter may be gone before it reads the report (a restart that
	 * failed meanwhile): the write fails, the coordinator serves its grace */
	signal(SIGPIPE, SIG_IGN);
	if (daemon) {
		/* keep nothing of the caller's but the report pipe */
		if (fd > 3)
			close_range(3, fd - 1, 0);
		close_range(fd + 1, ~0u, 0);
	} else {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
	}
	struct coord *c = coord_start(o, msg + 2, sizeof(msg) - 2);
	if (!c) {
		memcpy(msg, "E ", 2);
		write_full(fd, msg, strlen(msg));
		_exit(1);
	}
	if (daemon) {
		detach_stdio(c);
		log_msg(NULL, "coordinator listening on %s:%u (pid %d), checkpoints in %s",
			c->bind_addr, c->port, (int)getpid(), c->ckpt_dir);
	}
	if (fault_hit(FAULT_COORD_READY)) /* gone before a word (or stopped: never says it) */
		_exit(1);
	snprintf(msg, sizeof(msg), "R %u %d", c->port, (int)getpid());
	write_full(fd, msg, strlen(msg));
	close(fd);
	int status = coord_serve(c);
#ifdef __SANITIZE_ADDRESS__
	__lsan_do_leak_check(); /* _exit skips it: the unit tests see the coordinator's leaks */
#endif
	_exit(status);
}

void coord_run_detached(const struct coord_opts *o, int fd)
{
	spawn_child(o, 1, fd);
}

static pid_t read_ready(int fd, uint16_t *port, char *err, size_t errlen)
{
	char msg[PATH_MAX + 256];
	unsigned p;
	int pid;
	ssize_t n = read_full(fd, msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	if (n > 2 && msg[0] == 'E')
		return errf(err, errlen, "%s", msg + 2);
	if (n < 2 || sscanf(msg, "R %u %d", &p, &pid) != 2)
		return errf(err, errlen, "the coordinator exited while starting");
	if (port)
		*port = (uint16_t)p;
	return pid;
}

pid_t coord_spawn(const struct coord_opts *o, int daemon, uint16_t *port, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return errf(err, errlen, "cannot create a pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return errf(err, errlen, "cannot fork the coordinator: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		if (daemon && (setsid() < 0 || fork() != 0))
			_exit(0);
		spawn_child(o, daemon, p[1]);
	}
	close(p[1]);
	if (daemon)
		waitpid(pid, NULL, 0);
	pid_t cpid = read_ready(p[0], port, err, errlen);
	close(p[0]);
	if (cpid < 0 && !daemon)
		waitpid(pid, NULL, 0);
	return cpid;
}
