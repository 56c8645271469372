/* The coordinator at scale: a checkpoint of more members than the old cut of
 * the member list (4096), each getting exactly its passes and the pids of
 * every member, one of which has all the others for children (each found
 * among the members by pid, coord_conn.c's index, not by a walk of every
 * connection: n^2 across a tree); and a coordinator at its descriptor limit, which lets the
 * connections beyond it wait (one warning) and serves them once descriptors
 * free, instead of failing accept in a loop. */
#include "coord_helpers.h"
#include "unit.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MANY 4200 /* beyond 4096, the old PROTO_MAX_MEMBERS */
#define PID0 100000

static int ps[MANY];

/* Room for n more descriptors in this process (and in the coordinator,
 * which raises its soft limit to the same hard limit). */
static void room_for(int n)
{
	struct rlimit r;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
	ck_assert_msg(r.rlim_max >= (rlim_t)n + 64,
		      "this test needs a hard RLIMIT_NOFILE of %d (it is %llu): raise it "
		      "(ulimit -Hn, as root)",
		      n + 64, (unsigned long long)r.rlim_max);
	r.rlim_cur = r.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
}

/* The pids after a pass's struct are exactly PID0 .. PID0 + MANY - 1. */
static void check_all_pids(const uint8_t *p, size_t n)
{
	static uint8_t seen[MANY];
	memset(seen, 0, sizeof(seen));
	ck_assert_uint_eq(n, MANY);
	for (size_t i = 0; i < n; i++) { /* no ck_assert per pid: each one is a write */
		uint32_t pid;
		memcpy(&pid, p + 4 * i, 4);
		if (pid < PID0 || pid >= PID0 + MANY || seen[pid - PID0]++)
			ck_abort_msg("pid %u listed twice or not a member", pid);
	}
}

/* Every member reaches barrier id; each gets the pass for MANY processes. */
static void all_pass(uint32_t id)
{
	for (int i = 0; i < MANY; i++)
		send_barrier(ps[i], id);
	for (int i = 0; i < MANY; i++) {
		if (id == BARRIER_DRAINED) {
			expect_match(ps[i], 0);
			ck_assert_uint_eq(expect_members(ps[i], MANY), i ? 1 : MANY);
		}
		struct proto_msg m = expect(ps[i], MSG_BARRIER);
		struct proto_barrier b;
		memcpy(&b, m.payload, sizeof(b));
		ck_assert_uint_eq(b.id, id);
		ck_assert_uint_eq(b.nprocs, MANY);
		ck_assert_uint_eq(b.flags, 0);
		if (id == BARRIER_SUSPENDED)
			check_all_pids(m.payload + sizeof(b), (m.hdr.len - sizeof(b)) / 4);
		else
			ck_assert_uint_eq(m.hdr.len, sizeof(b));
	}
}

START_TEST(test_checkpoint_of_many_members)
{
	const char *text;
	char path[64];
	room_for(MANY);
	start_coord(0);
	struct timeval tv = {.tv_sec = 60}; /* the coordinator takes a while under ASan */
	for (int i = 0; i < MANY; i++) {
		ps[i] = join_process(PID0 + i, NULL);
		setsockopt(ps[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	int ctl = request_checkpoint(0);
	for (int i = 0; i < MANY; i++)
		expect_begin(ps[i]);
	static uint32_t kids[MANY - 1]; /* the first one's children: every other member */
	for (int i = 1; i < MANY; i++)
		kids[i - 1] = PID0 + i;
	ck_assert_int_eq(proto_send(ps[0], MSG_CHILDREN, kids, sizeof(kids), NULL, 0), 0);
	all_pass(BARRIER_PREPARED);
	all_pass(BARRIER_SUSPENDED);
	all_pass(BARRIER_DRAINED);
	for (int i = 0; i < MANY; i++) {
		snprintf(path, sizeof(path), "/ck/p%d", PID0 + i);
		send_image(ps[i], path);
		send_barrier(ps[i], BARRIER_WRITTEN);
	}
	struct proto_ckpt_result r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 0);
	int lines = 0;
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_int_eq(lines, MANY);
	for (int i = 0; i < MANY; i++)
		expect_pass(ps[i], BARRIER_WRITTEN, MANY);
	for (int i = 0; i < MANY; i++)
		close(ps[i]);
	close(ctl);
}
END_TEST

/* Descriptor fd of the process behind pidfd is a connected socket (a
 * client's connection, which the coordinator may not have closed yet). */
static int is_connection(int pidfd, int fd)
{
	int acc = 0, t = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	socklen_t len = sizeof(acc);
	if (t < 0)
		return 0;
	int sock = getsockopt(t, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0;
	close(t);
	return sock && !acc;
}

/* Mark pid's descriptors in used (size n); how many are client connections. */
static int scan_fds(pid_t pid, int pidfd, uint8_t *used, size_t n)
{
	char dir[64];
	int conns = 0;
	memset(used, 0, n);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd >= (int)n)
			continue;
		used[fd] = 1;
		conns += is_connection(pidfd, fd);
	}
	closedir(d);
	return conns;
}

/* The descriptor limit that leaves pid exactly n free descriptors, once it
 * has closed every client connection (a client that just left may still
 * have one: 5 s at most): a new descriptor takes the lowest free number. */
static rlim_t limit_leaving(pid_t pid, int n)
{
	static uint8_t used[1 << 16];
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), conns;
	ck_assert_int_ge(pidfd, 0);
	for (int i = 0; (conns = scan_fds(pid, pidfd, used, sizeof(used))) && i < 500; i++)
		usleep(10000);
	close(pidfd);
	ck_assert_int_eq(conns, 0);
	rlim_t l = 0;
	for (int free_below = 0; free_below < n; l++)
		free_below += !used[l];
	return l;
}

static int challenged_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) != 1)
		return 0;
	expect(fd, MSG_CHALLENGE);
	return 1;
}

/* Lines of the coordinator's log (its stderr) that contain what. */
static int log_count(const char *log, const char *what)
{
	char buf[65536];
	int fd = open(log, O_RDONLY), n = 0;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = 0;
	for (const char *p = buf; (p = strstr(p, what)); p++)
		n++;
	return n;
}

#define SPARE 5 /* descriptors the coordinator has for connections */
#define WAITING 3

START_TEST(test_accept_waits_at_descriptor_limit)
{
	char log[PATH_MAX];
	int served[SPARE], waiting[WAITING], saved = dup(2);
	snprintf(log, sizeof(log), "%s/coord.err", tmpdir);
	int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(lfd, 2); /* the coordinator's stderr */
	start_coord(0);
	dup2(saved, 2);
	close(saved);
	close(lfd);
	status(0); /* whatever it opens once, it has */
	rlim_t l = limit_leaving(cpid, SPARE);
	struct rlimit r = {l, l};
	ck_assert_int_eq(prlimit(cpid, RLIMIT_NOFILE, &r, NULL), 0);
	for (int i = 0; i < SPARE; i++) {
		served[i] = plain_connect();
		ck_assert(challenged_within(served[i], 5000));
	}
	for (int i = 0; i < WAITING; i++)
		waiting[i] = plain_connect();
	for (int i = 0; i < WAITING; i++) /* 300 ms at the limit: three pauses */
		ck_assert(!challenged_within(waiting[i], 100));
	ck_assert_int_eq(log_count(log, "cannot accept a connection"), 1);
	ck_assert_int_eq(log_count(log, "Too many open files"), 1);
	for (int i = 0; i < SPARE; i++)
		close(served[i]);
	for (int i = 0; i < WAITING; i++)
		ck_assert(challenged_within(waiting[i], 5000));
	/* each time the table filled, one warning, and one line once it served again */
	int full = log_count(log, "cannot accept a connection");
	ck_assert_int_eq(log_count(log, "accepting connections on port"), full);
	for (int i = 0; i < WAITING; i++)
		close(waiting[i]);
	ck_assert_ptr_nonnull(strstr(status(0), "processes:      0"));
}
END_TEST

static Suite *coord_scale_suite(void)
{
	Suite *s = suite_create("coord_scale");
	TCase *tc = tcase_create("scale");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_checkpoint_of_many_members);
	tcase_add_test(tc, test_accept_waits_at_descriptor_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(coord_scale_suite());
}
