/* coordload: the coordinator at scale, by simulation (bench/run.py, workload
 * "coord"). It starts a real coordinator (`STASIS coordinator`), opens N
 * simulated processes against it with the real protocol and authentication
 * (src/common/proto.h: challenge, HELLO with the token's HMAC), then asks for
 * one checkpoint as a control client and plays every process's part of its
 * barrier sequence, as the runtime does it (runtime/ckpt.c): CKPT_BEGIN ->
 * PREPARED -> CHILDREN, SUSPENDED -> DRAINED -> IMAGE_DONE, WRITTEN ->
 * released. It prints the coordinator's times, CPU and
 * memory as one "result key=value ..." line.
 *
 *   coordload -s STASIS -n N -p PORT -d DIR [-w PER_WORKER]
 *
 * STASIS_RUN_DIR must name a private directory (the token goes there). The
 * simulated processes are spread over worker processes of at most PER_WORKER
 * (8000) connections each, each worker from its own loopback source address
 * (127.0.0.2, .3, ...: one address has only ~28k ephemeral ports towards one
 * port). Every wait is bounded: a connection that gets no challenge within
 * 5 s ends the joining (the coordinator stopped accepting), and the count
 * that joined is checkpointed. The descriptor limit goes up to fs.nr_open
 * where that is allowed (the result line says what it ran with).
 */
#include "common/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_S 5	/* handshake and connect bound */
#define CKPT_WAIT_S 300 /* the checkpoint and its release */
#define SIM_PID0 100000 /* simulated pids: SIM_PID0 + index */

struct cfg {
	const char *stasis, *dir;
	unsigned n, per_worker;
	uint16_t port;
};

/* What a worker reports to the parent on its pipe. */
struct wreport {
	unsigned joined, released, aborted, max_pass_pids;
	int err; /* errno of the first failure to join, 0 if all joined */
	char why[160];
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("coordload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- one simulated process ---- */

static int connect_bounded(int fd, const struct sockaddr_in *to)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS)
		return -1;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	int rc = poll(&p, 1, WAIT_S * 1000);
	if (rc == 0)
		errno = ETIMEDOUT;
	if (rc <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	fcntl(fd, F_SETFL, fl);
	errno = soerr;
	return soerr ? -1 : 0;
}

static int sim_socket(unsigned worker, uint16_t port)
{
	struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = WAIT_S};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	from.sin_addr.s_addr = htonl(0x7f000002u + worker);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons(port);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 || connect_bounded(fd, &to) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Challenge, HELLO with the HMAC of the nonce, WELCOME: as the runtime does. */
static int sim_join(int fd, uint32_t pid, uint16_t port, const uint8_t *token, uint8_t *buf,
		    char *why, size_t whylen)
{
	struct proto_msg m;
	struct proto_hello h = {.role = ROLE_PROCESS, .pid = pid};
	snprintf(h.name, sizeof(h.name), "coordload");
	if (proto_recv(fd, &m, buf, PROTO_MAX_PAYLOAD) < 0 || m.hdr.type != MSG_CHALLENGE ||
	    m.hdr.len != PROTO_NONCE_LEN) {
		snprintf(why, whylen,
			 "no challenge from the coordinator on port %u within %d s: %s", port,
			 WAIT_S, strerror(errno));
		return -1;
	}
	proto_hello_mac(token, m.payload, h.role, h.pid, h.mac);
	if (proto_send(fd, MSG_HELLO, &h, sizeof(h), NULL, 0) < 0 ||
	    proto_recv(fd, &m, buf, PROTO_MAX_PAYLOAD) < 0 || m.hdr.type != MSG_WELCOME) {
		snprintf(why, whylen, "no welcome for simulated pid %u: %s", pid,
			 m.hdr.type == MSG_REFUSE ? "refused" : strerror(errno));
		return -1;
	}
	return 0;
}

/* Answer one message of the checkpoint; returns 1 once this process is released. */
static int sim_step(int fd, uint32_t pid, const char *dir, uint8_t *buf, struct wreport *r)
{
	struct proto_msg m;
	struct proto_barrier b = {0}, in;
	if (proto_recv(fd, &m, buf, PROTO_MAX_PAYLOAD) < 0)
		return -1;
	if (m.hdr.type == MSG_CKPT_BEGIN) {
		b.id = BARRIER_PREPARED;
		return proto_send(fd, MSG_BARRIER, &b, sizeof(b), NULL, 0);
	}
	if (m.hdr.type != MSG_BARRIER || m.hdr.len < sizeof(in))
		return 0; /* PROGRESS, TCP_MATCH, MEMBERS, KILL: nothing to answer */
	memcpy(&in, m.payload, sizeof(in));
	unsigned npids = (m.hdr.len - sizeof(in)) / 4;
	r->max_pass_pids = npids > r->max_pass_pids ? npids : r->max_pass_pids;
	r->aborted += (in.flags & BARRIER_F_ABORT) != 0;
	if (in.id == BARRIER_PREPARED) { /* the runtime stops its threads here */
		b.id = BARRIER_SUSPENDED;
		return proto_send(fd, MSG_CHILDREN, NULL, 0, NULL, 0) |
		       proto_send(fd, MSG_BARRIER, &b, sizeof(b), NULL, 0);
	}
	if (in.id == BARRIER_SUSPENDED) { /* no TCP connection to drain */
		struct proto_tcp_report t = {0};
		b.id = BARRIER_DRAINED;
		return proto_send(fd, MSG_TCP_REPORT, &t, sizeof(t), NULL, 0) |
		       proto_send(fd, MSG_BARRIER, &b, sizeof(b), NULL, 0);
	}
	if (in.id == BARRIER_DRAINED) {
		char path[256];
		struct proto_image_done d = {.size = 4096};
		uint32_t keep = 0; /* no older generation to keep */
		int len = snprintf(path, sizeof(path), "%s/sim_%u.stasis", dir, pid);
		b.id = BARRIER_WRITTEN;
		return proto_send(fd, MSG_RETAIN, &keep, sizeof(keep), NULL, 0) |
		       proto_send(fd, MSG_IMAGE_DONE, &d, sizeof(d), path, len) |
		       proto_send(fd, MSG_BARRIER, &b, sizeof(b), NULL, 0);
	}
	return in.id == BARRIER_WRITTEN;
}

/* ---- a worker: a slice of the simulated processes ---- */

struct worker {
	unsigned id, first, count;
	int *fds;
	int report_fd; /* to the parent */
	int go_fd;     /* from the parent: closed when the worker may exit */
};

static void worker_join(struct worker *w, const struct cfg *c, const uint8_t *token, uint8_t *buf,
			struct wreport *r)
{
	for (unsigned i = 0; i < w->count; i++) {
		uint32_t pid = SIM_PID0 + w->first + i;
		int fd = sim_socket(w->id, c->port);
		if (fd < 0) {
			r->err = errno;
			snprintf(r->why, sizeof(r->why), "connect of simulated pid %u: %s", pid,
				 strerror(errno));
			return;
		}
		if (sim_join(fd, pid, c->port, token, buf, r->why, sizeof(r->why)) < 0) {
			r->err = errno ? errno : EPROTO;
			close(fd);
			return;
		}
		w->fds[r->joined++] = fd;
	}
}

static int worker_epoll(const struct worker *w, unsigned joined)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (unsigned i = 0; ep >= 0 && i < joined; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, w->fds[i], &ev) < 0)
			return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, w->go_fd, &ev) < 0)
		return -1;
	return ep;
}

/* Play the checkpoint until every joined process is released or the parent says stop. */
static void worker_run(struct worker *w, const struct cfg *c, uint8_t *buf, struct wreport *r)
{
	int ep = worker_epoll(w, r->joined);
	double end = now_s() + CKPT_WAIT_S;
	unsigned char *done = calloc(r->joined + 1, 1);
	struct epoll_event evs[256];
	while (ep >= 0 && done && r->released < r->joined && now_s() < end) {
		int n = epoll_wait(ep, evs, 256, 1000);
		for (int k = 0; k < n; k++) {
			uint32_t i = evs[k].data.u32;
			if (i == UINT32_MAX)
				return; /* the parent gave up */
			int rc = sim_step(w->fds[i], SIM_PID0 + w->first + i, c->dir, buf, r);
			if (rc < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, w->fds[i], NULL);
				snprintf(r->why, sizeof(r->why), "simulated pid %u lost: %s",
					 SIM_PID0 + w->first + i, strerror(errno));
			} else if (rc == 1 && !done[i]) {
				done[i] = 1;
				r->released++;
			}
		}
	}
}

static void send_report(int fd, const struct wreport *r)
{
	if (write(fd, r, sizeof(*r)) != sizeof(*r))
		_exit(1);
}

static void worker_main(struct worker *w, const struct cfg *c)
{
	uint8_t token[PROTO_TOKEN_LEN];
	char err[512];
	struct wreport r = {0};
	uint8_t *buf = malloc(PROTO_MAX_PAYLOAD);
	w->fds = calloc(w->count, sizeof(int));
	if (!buf || !w->fds || proto_token_load(c->port, token, err, sizeof(err)) < 0) {
		snprintf(r.why, sizeof(r.why), "%.150s", buf ? err : "out of memory");
		r.err = ENOMEM;
		send_report(w->report_fd, &r);
		_exit(1);
	}
	worker_join(w, c, token, buf, &r);
	send_report(w->report_fd, &r); /* joined */
	worker_run(w, c, buf, &r);
	send_report(w->report_fd, &r); /* released */
	char x;
	while (read(w->go_fd, &x, 1) > 0) /* hold the connections until the parent is done */
		;
	_exit(0);
}

/* ---- the coordinator under test ---- */

struct coord {
	pid_t pid;
	int err_fd; /* its stderr, read by us */
	char first_err[512];
	unsigned err_lines;
};

static pid_t start_coordinator(const struct cfg *c, struct coord *co)
{
	int p[2];
	char port[8];
	snprintf(port, sizeof(port), "%u", c->port);
	if (pipe2(p, O_CLOEXEC) < 0)
		fail("pipe: %s", strerror(errno));
	co->pid = fork();
	if (co->pid == 0) {
		dup2(p[1], 2);
		execl(c->stasis, c->stasis, "coordinator", "-p", port, "--ckpt-dir", c->dir,
		      (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", c->stasis, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	co->err_fd = p[0];
	fcntl(co->err_fd, F_SETFL, O_NONBLOCK);
	return co->pid;
}

/* Keep the coordinator's first complaint (not its "listening" line), count
 * its lines (it may repeat one). */
static void drain_coord_err(struct coord *co)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(co->err_fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		for (char *line = buf, *nl; *line; line = nl + 1) {
			if (!(nl = strchr(line, '\n')))
				nl = line + strlen(line) - 1;
			co->err_lines++;
			if (!co->first_err[0] && !strstr(line, "coordinator listening on"))
				snprintf(co->first_err, sizeof(co->first_err), "%.*s",
					 (int)(nl - line), line);
		}
	}
}

static int control_connect(const struct cfg *c, char *err, size_t errlen)
{
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = (uint32_t)getpid()};
	snprintf(h.name, sizeof(h.name), "coordload");
	return proto_client_connect(c->port, &h, NULL, NULL, 0, err, errlen);
}

static int wait_listening(const struct cfg *c, struct coord *co)
{
	char err[512] = "";
	for (int i = 0; i < 200; i++) {
		int fd = control_connect(c, err, sizeof(err));
		if (fd >= 0)
			return fd;
		drain_coord_err(co);
		if (waitpid(co->pid, NULL, WNOHANG) == co->pid)
			break;
		usleep(50000);
	}
	fail("the coordinator on port %u did not start within 10 s: %s %s", c->port, err,
	     co->first_err);
}

struct pstat {
	double cpu_s;
	long rss_kib, hwm_kib;
	long nofile_soft, nofile_hard;
};

static long status_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void proc_stat(pid_t pid, struct pstat *s)
{
	char path[64], buf[8192];
	FILE *f;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r"))) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
		s->rss_kib = status_kib(buf, "VmRSS:");
		s->hwm_kib = status_kib(buf, "VmHWM:");
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r"))) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
		char *q = strrchr(buf, ')');
		unsigned long ut = 0, st = 0;
		if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st) == 2)
			s->cpu_s = (double)(ut + st) / sysconf(_SC_CLK_TCK);
	}
	struct rlimit rl;
	if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) == 0) {
		s->nofile_soft = (long)rl.rlim_cur;
		s->nofile_hard = (long)rl.rlim_max;
	}
}

/* ---- the parent ---- */

struct run {
	unsigned nworkers;
	pid_t *pids;
	int *report_fds, *go_fds;
	struct wreport *last;
};

static void spawn_workers(const struct cfg *c, struct run *r)
{
	r->nworkers = (c->n + c->per_worker - 1) / c->per_worker;
	r->pids = calloc(r->nworkers, sizeof(pid_t));
	r->report_fds = calloc(r->nworkers, sizeof(int));
	r->go_fds = calloc(r->nworkers, sizeof(int));
	r->last = calloc(r->nworkers, sizeof(struct wreport));
	if (!r->pids || !r->report_fds || !r->go_fds || !r->last)
		fail("out of memory");
	for (unsigned i = 0; i < r->nworkers; i++) {
		int rep[2], go[2];
		if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
			fail("pipe: %s", strerror(errno));
		struct worker w = {
		    .id = i, .first = i * c->per_worker, .report_fd = rep[1], .go_fd = go[0]};
		w.count = c->n - w.first < c->per_worker ? c->n - w.first : c->per_worker;
		r->pids[i] = fork();
		if (r->pids[i] < 0)
			fail("fork: %s", strerror(errno));
		if (r->pids[i] == 0)
			worker_main(&w, c);
		close(rep[1]);
		close(go[0]);
		r->report_fds[i] = rep[0];
		r->go_fds[i] = go[1];
	}
}

/* One report from every worker (bounded); the coordinator's stderr is drained meanwhile. */
static int collect(struct run *r, struct coord *co, double timeout_s)
{
	double end = now_s() + timeout_s;
	unsigned got = 0;
	unsigned char *have = calloc(r->nworkers, 1);
	while (have && got < r->nworkers && now_s() < end) {
		for (unsigned i = 0; i < r->nworkers; i++) {
			struct pollfd p = {.fd = r->report_fds[i], .events = POLLIN};
			if (have[i] || poll(&p, 1, 0) <= 0)
				continue;
			if (read(r->report_fds[i], &r->last[i], sizeof(r->last[i])) !=
			    sizeof(r->last[i]))
				fail("worker %u ended without a report", i);
			have[i] = 1;
			got++;
		}
		drain_coord_err(co);
		usleep(1000);
	}
	free(have);
	return got == r->nworkers ? 0 : -1;
}

static void sum_reports(const struct run *r, struct wreport *s)
{
	*s = (struct wreport){0};
	for (unsigned i = 0; i < r->nworkers; i++) {
		s->joined += r->last[i].joined;
		s->released += r->last[i].released;
		s->aborted += r->last[i].aborted;
		if (r->last[i].max_pass_pids > s->max_pass_pids)
			s->max_pass_pids = r->last[i].max_pass_pids;
		if (!s->why[0] && r->last[i].why[0])
			memcpy(s->why, r->last[i].why, sizeof(s->why));
	}
}

/* CMD_CHECKPOINT, then CKPT_RESULT (PROGRESS skipped); returns its status or -1. */
static int checkpoint(int ctl, char *text, size_t textlen)
{
	static uint8_t buf[PROTO_MAX_PAYLOAD];
	struct proto_cmd_checkpoint cmd = {0};
	struct proto_msg m;
	struct timeval tv = {.tv_sec = CKPT_WAIT_S};
	setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (proto_send(ctl, MSG_CMD_CHECKPOINT, &cmd, sizeof(cmd), NULL, 0) < 0)
		return -1;
	do
		if (proto_recv(ctl, &m, buf, sizeof(buf)) < 0)
			return -1;
	while (m.hdr.type != MSG_CKPT_RESULT);
	struct proto_ckpt_result res;
	memcpy(&res, m.payload, sizeof(res));
	size_t tl = m.hdr.len - sizeof(res);
	snprintf(text, textlen, "%.*s", (int)(tl < 200 ? tl : 200), m.payload + sizeof(res));
	return (int)res.status;
}

static void stop_all(struct run *r, struct coord *co, int ctl)
{
	for (unsigned i = 0; i < r->nworkers; i++)
		close(r->go_fds[i]);
	if (ctl >= 0) {
		proto_send(ctl, MSG_CMD_QUIT, NULL, 0, NULL, 0);
		close(ctl);
	}
	for (int i = 0; i < 100 && waitpid(co->pid, NULL, WNOHANG) == 0; i++) {
		drain_coord_err(co);
		usleep(50000);
	}
	kill(co->pid, SIGKILL); /* ours; already gone unless it hung */
	waitpid(co->pid, NULL, 0);
	for (unsigned i = 0; i < r->nworkers; i++) {
		kill(r->pids[i], SIGKILL);
		waitpid(r->pids[i], NULL, 0);
	}
}

/* The soft limit up to the hard one; both up to fs.nr_open first where that is
 * allowed (CAP_SYS_RESOURCE). The coordinator inherits them. */
static void raise_nofile(struct rlimit *rl)
{
	long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	if (f && fscanf(f, "%ld", &nr_open) != 1)
		nr_open = 0;
	if (f)
		fclose(f);
	getrlimit(RLIMIT_NOFILE, rl);
	struct rlimit want = {(rlim_t)nr_open, (rlim_t)nr_open};
	if (nr_open > 0 && (rlim_t)nr_open > rl->rlim_max && setrlimit(RLIMIT_NOFILE, &want) == 0) {
		*rl = want;
		return;
	}
	rl->rlim_cur = rl->rlim_max;
	if (setrlimit(RLIMIT_NOFILE, rl) < 0)
		fail("cannot raise RLIMIT_NOFILE to its hard limit %lu: %s",
		     (unsigned long)rl->rlim_max, strerror(errno));
}

static void parse_args(int argc, char **argv, struct cfg *c)
{
	int o;
	c->per_worker = 8000;
	while ((o = getopt(argc, argv, "s:n:p:d:w:")) != -1) {
		switch (o) {
		case 's':
			c->stasis = optarg;
			break;
		case 'n':
			c->n = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			c->port = proto_parse_port(optarg);
			break;
		case 'd':
			c->dir = optarg;
			break;
		case 'w':
			c->per_worker = strtoul(optarg, NULL, 10);
			break;
		default:
			c->n = 0;
		}
	}
	if (!c->stasis || !c->n || !c->port || !c->dir || !c->per_worker)
		fail("usage: coordload -s STASIS -n N -p PORT -d DIR [-w PER_WORKER]");
}

int main(int argc, char **argv)
{
	struct cfg c = {0};
	struct coord co = {0};
	struct run r = {0};
	struct pstat base = {0}, joined = {0}, after = {0};
	struct wreport sum;
	struct rlimit rl;
	char text[256] = "";
	parse_args(argc, argv, &c);
	raise_nofile(&rl);
	signal(SIGPIPE, SIG_IGN);
	start_coordinator(&c, &co);
	int ctl = wait_listening(&c, &co);
	proc_stat(co.pid, &base);
	double t0 = now_s();
	spawn_workers(&c, &r);
	if (collect(&r, &co, 600) < 0)
		fail("the workers did not all report within 600 s");
	double t_join = now_s() - t0;
	sum_reports(&r, &sum);
	proc_stat(co.pid, &joined);
	int status = -1;
	double t1 = now_s(), t_ckpt = -1, t_rel = -1;
	if (sum.joined) {
		status = checkpoint(ctl, text, sizeof(text));
		t_ckpt = now_s() - t1;
		if (status < 0)
			snprintf(text, sizeof(text), "no result: %s", strerror(errno));
		if (collect(&r, &co, CKPT_WAIT_S) == 0)
			t_rel = now_s() - t1;
		sum_reports(&r, &sum);
	}
	proc_stat(co.pid, &after);
	drain_coord_err(&co);
	printf("result n=%u joined=%u released=%u aborted=%u status=%d join_s=%.3f ckpt_s=%.3f "
	       "released_s=%.3f coord_cpu_join_s=%.2f coord_cpu_ckpt_s=%.2f rss_base_kib=%ld "
	       "rss_joined_kib=%ld hwm_kib=%ld bytes_per_proc=%.0f pass_pids=%u "
	       "nofile_coord=%ld/%ld nofile_tool=%lu/%lu workers=%u coord_err_lines=%u\n",
	       c.n, sum.joined, sum.released, sum.aborted, status, t_join, t_ckpt, t_rel,
	       joined.cpu_s - base.cpu_s, after.cpu_s - joined.cpu_s, base.rss_kib, joined.rss_kib,
	       after.hwm_kib,
	       sum.joined ? (joined.rss_kib - base.rss_kib) * 1024.0 / sum.joined : 0,
	       sum.max_pass_pids, base.nofile_soft, base.nofile_hard, (unsigned long)rl.rlim_cur,
	       (unsigned long)rl.rlim_max, r.nworkers, co.err_lines);
	if (sum.why[0])
		printf("join_error %s\n", sum.why);
	if (co.first_err[0])
		printf("coord_error %s\n", co.first_err);
	if (status != 0)
		printf("ckpt_error %s\n", text);
	fflush(stdout);
	stop_all(&r, &co, ctl);
	return sum.joined == c.n && status == 0 && sum.released == c.n ? 0 : 1;
}
