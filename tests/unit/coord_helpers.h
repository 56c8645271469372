/* The coordinator's unit tests (test_coord.c, test_coord_life.c): a real
 * coordinator runs in a child on a free loopback port; fake processes and
 * control clients talk to it with the client side of src/common/proto.c. */
#ifndef STASIS_TESTS_COORD_HELPERS_H
#define STASIS_TESTS_COORD_HELPERS_H

#include "common/proto.h"
#include "coordinator/coord.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define FAKE_EXE "/opt/stasis/bin/stasis"

static char tmpdir[64], ckdir[PATH_MAX];
static const char *fake_exe = FAKE_EXE; /* the coordinator's self_exe (restart scripts) */
static pid_t cpid;
static uint16_t cport;
static uint8_t rbuf[PROTO_MAX_PAYLOAD + 1];
static uint32_t fd_pid[1 << 16]; /* the pid each fake process joined with, by its fd */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	char run[128];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/stasis-test-coord-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(run, sizeof(run), "%s/run", tmpdir);
	setenv("STASIS_RUN_DIR", run, 1);
	unsetenv("STASIS_COORD_HOST");
	ck_assert_ptr_nonnull(realpath(tmpdir, ckdir));
	strcat(ckdir, "/ck");
	cpid = 0;
}

static void teardown(void)
{
	if (cpid > 0) {
		int st;
		kill(cpid, SIGTERM);
		ck_assert_int_eq(waitpid(cpid, &st, 0), cpid);
		/* 0, or SIGTERM if it was still starting; under ASan, leaks exit 23 */
		ck_assert_msg((WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
				  (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM),
			      "the coordinator ended with status %#x", st);
	}
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A coordinator in a child on a free port: its pid, its port in *port. */
static pid_t spawn_coord(struct coord_opts *o, uint16_t *port)
{
	char err[512];
	o->ckpt_dir = ckdir;
	o->self_exe = fake_exe;
	pid_t pid = coord_spawn(o, 0, port, err, sizeof(err));
	ck_assert_msg(pid > 0, "coordinator did not start: %s", err);
	ck_assert_uint_ne(*port, 0);
	return pid;
}

static void start_coord_with(struct coord_opts o)
{
	cpid = spawn_coord(&o, &cport);
}

static void start_coord(int exit_on_last)
{
	start_coord_with((struct coord_opts){.exit_on_last = exit_on_last});
}

static void set_timeout(int fd)
{
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int join(uint32_t role, uint32_t pid, const char *name, uint64_t comp_id, uint32_t flags,
		uint32_t nprocs, struct proto_welcome *w)
{
	struct proto_hello h = {
	    .role = role, .pid = pid, .comp_id = comp_id, .flags = flags, .nprocs = nprocs};
	char err[512], dir[PATH_MAX];
	struct proto_welcome w2;
	snprintf(h.name, sizeof(h.name), "%s", name);
	int fd = proto_client_connect(cport, &h, w ? w : &w2, dir, sizeof(dir), err, sizeof(err));
	ck_assert_msg(fd >= 0, "connect failed: %s", err);
	ck_assert_str_eq(dir, ckdir);
	if (fd < (int)(sizeof(fd_pid) / sizeof(fd_pid[0])))
		fd_pid[fd] = pid;
	set_timeout(fd);
	return fd;
}

/* The next message that is not a ping (sent every 500 ms of a checkpoint). */
static struct proto_msg expect(int fd, uint16_t type)
{
	struct proto_msg m;
	do
		ck_assert_msg(proto_recv(fd, &m, rbuf, PROTO_MAX_PAYLOAD) == 0, "recv: %s",
			      strerror(errno));
	while (m.hdr.type == MSG_PING && type != MSG_PING);
	ck_assert_uint_eq(m.hdr.type, type);
	rbuf[m.hdr.len] = 0;
	return m;
}

/* A new process learns its computation's interval first. */
static int join_process(uint32_t pid, struct proto_welcome *w)
{
	int fd = join(ROLE_PROCESS, pid, "fakeproc", 0, 0, 0, w);
	struct proto_msg m = expect(fd, MSG_INTERVAL);
	ck_assert_uint_eq(m.hdr.len, 4);
	return fd;
}

/* Nothing but pings for 150 ms. */
static void expect_nothing(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct proto_hdr h;
	while (poll(&p, 1, 150) == 1) {
		ck_assert_int_eq(recv(fd, &h, sizeof(h), MSG_PEEK), sizeof(h));
		ck_assert_uint_eq(h.type, MSG_PING);
		expect(fd, MSG_PING);
	}
}

static void expect_closed(int fd)
{
	char c;
	set_timeout(fd);
	ck_assert_int_le(recv(fd, &c, 1, 0), 0);
}

static void send_tcp_report(int fd, const uint8_t host[16], const struct proto_tcp_end *e,
			    uint32_t n)
{
	struct proto_tcp_report h = {.count = n};
	if (host)
		memcpy(h.host, host, sizeof(h.host));
	ck_assert_int_eq(proto_send(fd, MSG_TCP_REPORT, &h, sizeof(h), e, n * sizeof(*e)), 0);
}

/* DRAINED follows the process's TCP report (here: no connection) */
static void send_barrier(int fd, uint32_t id)
{
	struct proto_barrier b = {.id = id};
	if (id == BARRIER_DRAINED)
		send_tcp_report(fd, NULL, NULL, 0);
	ck_assert_int_eq(proto_send(fd, MSG_BARRIER, &b, sizeof(b), NULL, 0), 0);
}

/* The answer to a TCP report: its header (the peers in rbuf after it). */
static struct proto_tcp_match expect_match(int fd, uint32_t count)
{
	struct proto_msg m = expect(fd, MSG_TCP_MATCH);
	struct proto_tcp_match h;
	ck_assert_uint_ge(m.hdr.len, sizeof(h));
	memcpy(&h, m.payload, sizeof(h));
	ck_assert_uint_eq(h.count, count);
	ck_assert_uint_eq(
	    m.hdr.len,
	    sizeof(h) + (h.flags & PROTO_TCP_ABORT ? 0 : count * sizeof(struct proto_tcp_peer)));
	return h;
}

/* Before the DRAINED pass, for the images: every process of the checkpoint
 * to the lowest pid of a host, its own entry alone to the others. Returns
 * how many it got. */
static uint32_t expect_members(int fd, uint32_t nprocs)
{
	struct proto_msg m = expect(fd, MSG_MEMBERS);
	struct proto_member e;
	uint32_t n = m.hdr.len / sizeof(e), self = fd_pid[fd], lowest = UINT32_MAX, seen = 0;
	ck_assert_uint_eq(m.hdr.len % sizeof(e), 0);
	ck_assert_msg(n == nprocs || n == 1, "%u members listed to pid %u, of %u", n, self, nprocs);
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&e, m.payload + i * sizeof(e), sizeof(e));
		lowest = e.pid < lowest ? e.pid : lowest;
		seen += e.pid == self;
	}
	ck_assert_uint_eq(seen, 1);
	if (n > 1)
		ck_assert_uint_eq(lowest, self); /* the full list to the lowest pid */
	return n;
}

static void expect_pass(int fd, uint32_t id, uint32_t nprocs)
{
	if (id == BARRIER_DRAINED) {
		expect_match(fd, 0);
		expect_members(fd, nprocs);
	}
	struct proto_msg m = expect(fd, MSG_BARRIER);
	struct proto_barrier b;
	memcpy(&b, m.payload, sizeof(b));
	ck_assert_uint_eq(b.id, id);
	ck_assert_uint_eq(b.nprocs, nprocs);
	/* on the checkpoint's SUSPENDED pass the pids of the processes taking part
	 * follow, one per process */
	int pids = id == BARRIER_SUSPENDED;
	ck_assert_uint_eq(m.hdr.len, sizeof(b) + (pids ? nprocs * sizeof(uint32_t) : 0));
}

/* The first barrier of a checkpoint, reached by each of the n processes. */
static void prepared(const int *ps, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			expect_nothing(ps[0]); /* not before the last one reached it */
		send_barrier(ps[i], BARRIER_PREPARED);
	}
	for (int i = 0; i < n; i++)
		expect_pass(ps[i], BARRIER_PREPARED, n);
}

static void send_image(int fd, const char *path)
{
	struct proto_image_done d = {.size = 4096};
	ck_assert_int_eq(proto_send(fd, MSG_IMAGE_DONE, &d, sizeof(d), path, strlen(path)), 0);
}

static int request_checkpoint(uint32_t flags)
{
	struct proto_cmd_checkpoint cmd = {.flags = flags};
	int ctl = join(ROLE_CONTROL, (uint32_t)getpid(), "stasis", 0, 0, 0, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &cmd, sizeof(cmd), NULL, 0), 0);
	return ctl;
}

static struct proto_ckpt_begin expect_begin(int fd)
{
	struct proto_msg m = expect(fd, MSG_CKPT_BEGIN);
	struct proto_ckpt_begin b;
	ck_assert_uint_eq(m.hdr.len, sizeof(b) + strlen(ckdir));
	memcpy(&b, m.payload, sizeof(b));
	ck_assert_mem_eq(m.payload + sizeof(b), ckdir, strlen(ckdir));
	return b;
}

static struct proto_ckpt_result expect_result(int ctl, const char **text)
{
	struct proto_msg m = expect(ctl, MSG_CKPT_RESULT);
	struct proto_ckpt_result r;
	ck_assert_uint_ge(m.hdr.len, sizeof(r));
	memcpy(&r, m.payload, sizeof(r));
	*text = (const char *)m.payload + sizeof(r);
	return r;
}

/* p1 and p2 pass each barrier from SUSPENDED to last together. */
static void pass_two(int p1, int p2, uint32_t last)
{
	for (uint32_t id = BARRIER_SUSPENDED; id <= last; id++) {
		send_barrier(p1, id);
		send_barrier(p2, id);
		expect_pass(p1, id, 2);
		expect_pass(p2, id, 2);
	}
}

/* One control command on a fresh connection; the reply's text in rbuf. */
static const char *command(uint16_t type, const void *arg, size_t len, uint16_t reply)
{
	int ctl = join(ROLE_CONTROL, (uint32_t)getpid(), "stasis", 0, 0, 0, NULL);
	ck_assert_int_eq(proto_send(ctl, type, arg, len, NULL, 0), 0);
	expect(ctl, reply);
	close(ctl);
	return (const char *)rbuf;
}

static const char *status(uint32_t json)
{
	return command(MSG_CMD_STATUS, &json, sizeof(json), MSG_STATUS_REPLY);
}

/* Until the coordinator no longer lists process pid (at most 5 s): it has
 * seen that process's connection close. */
static void wait_gone(uint32_t pid)
{
	char needle[32];
	snprintf(needle, sizeof(needle), "{\"pid\": %u,", pid);
	for (int i = 0; i < 500 && strstr(status(1), needle); i++)
		usleep(10000);
	ck_assert_ptr_null(strstr(status(1), needle));
}

/* A connection made (maybe still in the listening socket's backlog). */
static int plain_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(cport)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	set_timeout(fd);
	return fd;
}

static int raw_connect(void)
{
	int fd = plain_connect();
	struct proto_msg m = expect(fd, MSG_CHALLENGE);
	ck_assert_uint_eq(m.hdr.len, PROTO_NONCE_LEN);
	return fd;
}

#pragma GCC diagnostic pop

#endif
