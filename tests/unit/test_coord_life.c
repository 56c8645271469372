/* Unit tests of the coordinator's lifecycle: exiting without losing a client,
 * restarts refused while the computation runs (on this coordinator or
 * another), processes given up on by a checkpoint and coming back, kill
 * waiting for its processes, the interval a restarted computation brings,
 * stasis programs inside a computation. */
#include "coord_helpers.h"
#include "common/clock.h"
#include "coordinator/loop.h"
#include "unit.h"

/* DRAINED passes after the answer to the process's TCP report, and for a
 * member the list of members; one given up on gets no list. */
static struct proto_barrier expect_pass_flags(int fd, uint32_t id, uint32_t flags)
{
	struct proto_msg m;
	if (id == BARRIER_DRAINED) {
		ck_assert_uint_eq(expect_match(fd, 0).flags, flags ? PROTO_TCP_ABORT : 0);
		do
			ck_assert_int_eq(proto_recv(fd, &m, rbuf, PROTO_MAX_PAYLOAD), 0);
		while (m.hdr.type == MSG_PING || m.hdr.type == MSG_MEMBERS);
		ck_assert_uint_eq(m.hdr.type, MSG_BARRIER);
	} else {
		m = expect(fd, MSG_BARRIER);
	}
	struct proto_barrier b;
	memcpy(&b, m.payload, sizeof(b));
	ck_assert_uint_eq(b.id, id);
	ck_assert_uint_eq(b.flags, flags);
	return b;
}

/* The checkpoint failed past SUSPENDED: the survivor p gets DRAINED with
 * ABORT, the result goes to ctl (its text returned), WRITTEN with ABORT. */
static const char *fail_alone(int p, int ctl)
{
	const char *text;
	send_barrier(p, BARRIER_DRAINED);
	expect_pass_flags(p, BARRIER_DRAINED, BARRIER_F_ABORT);
	send_barrier(p, BARRIER_WRITTEN);
	ck_assert_uint_eq(expect_result(ctl, &text).status, 1);
	static char copy[1024];
	snprintf(copy, sizeof(copy), "%s", text);
	expect_pass_flags(p, BARRIER_WRITTEN, BARRIER_F_ABORT);
	return copy;
}

static int join_restart(uint16_t port, uint32_t pid, uint64_t comp, uint32_t restart_id, char *err,
			size_t errlen)
{
	struct proto_hello h = {.role = ROLE_PROCESS,
				.pid = pid,
				.comp_id = comp,
				.gen = 3,
				.flags = HELLO_RESTART,
				.nprocs = 2,
				.restart_id = restart_id};
	snprintf(h.name, sizeof(h.name), "r%u", pid);
	return proto_client_connect(port, &h, NULL, NULL, 0, err, errlen);
}

/* A client racing the exit of an --exit-on-last coordinator is served to the
 * end, or reset before any challenge (ECONNABORTED: start another), or finds
 * the port closed; never a challenge without a token file, never cut off. */
START_TEST(test_exit_serves_every_client)
{
	char err[512];
	int st, served = 0;
	start_coord(1);
	close(join_process(701, NULL)); /* it had a process: exits 1.5 s after it left */
	for (;;) {
		struct proto_hello h = {.role = ROLE_CONTROL, .pid = (uint32_t)getpid()};
		int fd = proto_client_connect(cport, &h, NULL, NULL, 0, err, sizeof(err));
		if (fd < 0 && errno == ECONNREFUSED)
			break;
		if (fd < 0) {
			ck_assert_msg(errno == ECONNABORTED, "connect: %s", err);
			continue;
		}
		uint32_t json = 0;
		ck_assert_int_eq(proto_send(fd, MSG_CMD_STATUS, &json, 4, NULL, 0), 0);
		expect(fd, MSG_STATUS_REPLY);
		close(fd);
		served++;
	}
	ck_assert_int_gt(served, 10);
	ck_assert_int_eq(waitpid(cpid, &st, 0), cpid);
	cpid = 0;
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* A held connection keeps an --exit-on-last coordinator; after a launch's
 * MSG_EXEC 0 (its program did not start) it goes at once. */
START_TEST(test_hold_and_failed_launch)
{
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = 9, .flags = HELLO_HOLD};
	char err[512];
	uint32_t state = 0;
	int st;
	start_coord(1);
	int fd = proto_client_connect(cport, &h, NULL, NULL, 0, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(waitpid(cpid, &st, WNOHANG), 0);
	ck_assert_int_eq(proto_send(fd, MSG_EXEC, &state, 4, NULL, 0), 0);
	long long t0 = now_ms();
	close(fd);
	ck_assert_int_eq(waitpid(cpid, &st, 0), cpid);
	cpid = 0;
	ck_assert_int_lt(now_ms() - t0, 1000);
}
END_TEST

START_TEST(test_restart_refused_while_running)
{
	const uint64_t comp = 0x0123456789abcdefull;
	char err[512];
	uint16_t port2;
	struct coord_opts o = {0};
	start_coord(0);
	pid_t other = spawn_coord(&o, &port2); /* first: a child inherits our sockets */
	int a = join_restart(cport, 11, comp, 500, err, sizeof(err));
	ck_assert_msg(a >= 0, "%s", err);
	int b = join_restart(cport, 12, comp, 500, err, sizeof(err)); /* the same restart */
	ck_assert_msg(b >= 0, "%s", err);
	ck_assert_int_eq(join_restart(cport, 11, comp, 501, err, sizeof(err)), -1);
	char want[512];
	snprintf(want, sizeof(want),
		 "coordinator on 127.0.0.1:%u refused us: computation 0123456789abcdef is already "
		 "running under the coordinator on port %u (processes 11 (r11), 12 (r12)): end "
		 "it first with 'stasis kill -p %u'",
		 cport, cport, cport);
	ck_assert_str_eq(err, want);
	/* another coordinator: the computation's lock names this one */
	ck_assert_int_eq(join_restart(port2, 11, comp, 502, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "coordinator on 127.0.0.1:%u refused us: computation 0123456789abcdef is already "
		 "running under the coordinator on port %u (pid %d): end it first with 'stasis "
		 "kill -p %u'",
		 port2, cport, (int)cpid, cport);
	ck_assert_str_eq(err, want);
	/* once it has ended, the computation is free to come back anywhere */
	close(a);
	close(b);
	while (!strstr(status(0), "processes:      0"))
		usleep(10000);
	int c = join_restart(port2, 11, comp, 502, err, sizeof(err));
	ck_assert_msg(c >= 0, "%s", err);
	close(c);
	kill(other, SIGTERM);
	waitpid(other, NULL, 0);
}
END_TEST

static int join_part(uint32_t pid, const char *host, uint32_t restart_id, char *err, size_t errlen)
{
	struct proto_hello h = {.role = ROLE_PROCESS,
				.pid = pid,
				.comp_id = 0x0123456789abcdefull,
				.gen = 3,
				.flags = HELLO_RESTART | (host ? HELLO_PART : 0),
				.nprocs = 3,
				.restart_id = restart_id};
	snprintf(h.name, sizeof(h.name), "r%u", pid);
	if (host)
		proto_origin(h.origin, host);
	return proto_client_connect(cport, &h, NULL, NULL, 0, err, errlen);
}

/* A restart in parts: one 'stasis restart' per host joins while the others'
 * processes wait (a pid may be on two hosts); the same part twice, or a
 * restart of the whole generation meanwhile, is refused. */
START_TEST(test_restart_parts_from_several_restarts)
{
	char err[512];
	start_coord(0);
	int a = join_part(11, "alpha", 500, err, sizeof(err));
	ck_assert_msg(a >= 0, "%s", err);
	int b = join_part(11, "beta", 600, err, sizeof(err));
	ck_assert_msg(b >= 0, "%s", err);
	ck_assert_int_eq(join_part(11, "alpha", 700, err, sizeof(err)), -1);
	char want[512];
	snprintf(want, sizeof(want),
		 "coordinator on 127.0.0.1:%u refused us: computation 0123456789abcdef is already "
		 "running under the coordinator on port %u (processes 11 (r11)): end it first "
		 "with 'stasis kill -p %u'",
		 cport, cport, cport);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(join_part(12, NULL, 800, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "(processes 11 (r11)): end it first"));
	int c = join_part(12, "gamma", 900, err, sizeof(err));
	ck_assert_msg(c >= 0, "%s", err);
	close(a);
	close(b);
	close(c);
}
END_TEST

/* A process that says nothing is given up on after --timeout; the others
 * resume (WRITTEN with ABORT); when it goes on it walks through the abandoned
 * checkpoint alone, and until then no checkpoint starts. */
START_TEST(test_silent_process_given_up)
{
	const char *text;
	struct proto_welcome w;
	start_coord_with((struct coord_opts){.timeout = 1});
	int p1 = join_process(801, NULL), p2 = join_process(802, &w);
	int ctl = request_checkpoint(0);
	expect_begin(p1);
	expect_begin(p2);
	send_barrier(p1, BARRIER_PREPARED); /* p2 is stopped: it never prepares */
	long long t0 = now_ms();
	struct proto_barrier b = expect_pass_flags(p1, BARRIER_PREPARED, BARRIER_F_ABORT);
	ck_assert_uint_eq(b.nprocs, 1);
	ck_assert_int_ge(now_ms() - t0, 800);
	uint32_t kids[] = {802}; /* its child, given up on: not "a child that did not join" */
	ck_assert_int_eq(proto_send(p1, MSG_CHILDREN, kids, sizeof(kids), NULL, 0), 0);
	send_barrier(p1, BARRIER_SUSPENDED);
	expect_pass_flags(p1, BARRIER_SUSPENDED, BARRIER_F_ABORT);
	ck_assert_str_eq(fail_alone(p1, ctl), "process 802 (fakeproc) did not answer within 1 s: "
					      "it does not answer (it cannot be seen from this "
					      "host)\n");
	ck_assert_ptr_nonnull(strstr(status(1), "\"state\": \"idle\""));
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){0}, 4, NULL, 0), 0);
	struct proto_ckpt_result r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.gen, 0);
	ck_assert_ptr_nonnull(strstr(text, "process 802 (fakeproc) has not answered since "
					   "checkpoint generation 1 was given up"));
	/* it goes on: each barrier passes at once, aborted; its image is removed */
	char img[PATH_MAX + 64];
	snprintf(img, sizeof(img), "%s/ckpt_fakeproc_%016llx_802_g1.stasis", ckdir,
		 (unsigned long long)w.comp_id);
	close(open(img, O_CREAT | O_WRONLY, 0600));
	const uint32_t order[] = {BARRIER_PREPARED, BARRIER_SUSPENDED, BARRIER_DRAINED,
				  BARRIER_WRITTEN};
	for (int i = 0; i < 4; i++) {
		if (order[i] == BARRIER_WRITTEN)
			send_image(p2, img);
		send_barrier(p2, order[i]);
		expect_pass_flags(p2, order[i], BARRIER_F_ABORT);
	}
	ck_assert_int_eq(access(img, F_OK), -1);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){0}, 4, NULL, 0), 0);
	ck_assert_uint_eq(expect_begin(p1).gen, 2);
	expect_begin(p2);
	close(p1);
	close(p2);
	close(ctl);
}
END_TEST

/* kill answers once every process is gone; one that never acts on KILL and
 * cannot be signalled from here is named after 4 s. */
START_TEST(test_kill_waits_for_the_processes)
{
	start_coord(0);
	int p1 = join_process(901, NULL), p2 = join_process(902, NULL);
	int ctl = join(ROLE_CONTROL, (uint32_t)getpid(), "stasis", 0, 0, 0, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_KILL, NULL, 0, NULL, 0), 0);
	expect(p1, MSG_KILL);
	expect(p2, MSG_KILL);
	close(p1);
	expect_nothing(ctl); /* p2 is still there */
	close(p2);
	expect(ctl, MSG_OK);
	p1 = join_process(903, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_KILL, NULL, 0, NULL, 0), 0);
	expect(p1, MSG_KILL);
	struct timeval tv = {.tv_sec = 8};
	setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct proto_msg m = expect(ctl, MSG_ERROR);
	ck_assert_str_eq((char *)m.payload,
			 "process 903 (fakeproc) did not end within 4 s: it does not act on KILL "
			 "and cannot be signalled from here (another host?)");
	close(p1);
	close(ctl);
}
END_TEST

static uint32_t expect_interval(int fd)
{
	uint32_t secs;
	struct proto_msg m = expect(fd, MSG_INTERVAL);
	ck_assert_uint_eq(m.hdr.len, 4);
	memcpy(&secs, m.payload, 4);
	return secs;
}

/* The interval a restarted computation had is taken by a coordinator that
 * was given none, and passed to every process; a coordinator given one
 * keeps it and tells the process. */
START_TEST(test_interval_comes_back)
{
	char err[512];
	uint32_t seven = 7;
	start_coord(0);
	int p = join_process(1001, NULL);
	int r = join_restart(cport, 1002, 0, 0, err, sizeof(err));
	ck_assert_int_eq(r, -1); /* a restart needs its computation id */
	r = join(ROLE_PROCESS, 1002, "r", 0, HELLO_REJOIN, 0, NULL);
	ck_assert_int_eq(proto_send(r, MSG_INTERVAL, &seven, 4, NULL, 0), 0);
	ck_assert_uint_eq(expect_interval(p), 7);
	ck_assert_uint_eq(expect_interval(r), 7);
	ck_assert_ptr_nonnull(strstr(status(1), "\"interval\": 7"));
	close(p);
	close(r);
	kill(cpid, SIGTERM);
	waitpid(cpid, NULL, 0);
	start_coord_with((struct coord_opts){.interval = 3});
	p = join(ROLE_PROCESS, 1003, "r", 0, HELLO_REJOIN, 0, NULL);
	ck_assert_int_eq(proto_send(p, MSG_INTERVAL, &seven, 4, NULL, 0), 0);
	ck_assert_uint_eq(expect_interval(p), 3);
	ck_assert_ptr_nonnull(strstr(status(1), "\"interval\": 3"));
	close(p);
}
END_TEST

/* A process that had stopped for the checkpoint and disconnects was killed:
 * the checkpoint fails naming it. One that said it exits (a forked writer
 * let it go on) makes it start again without it. */
START_TEST(test_killed_or_exiting_member)
{
	uint32_t exiting = EXEC_EXITING;
	start_coord(0);
	int p1 = join_process(1201, NULL), p2 = join_process(1202, NULL);
	int ctl = request_checkpoint(0);
	expect_begin(p1);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	send_barrier(p1, BARRIER_SUSPENDED);
	send_barrier(p2, BARRIER_SUSPENDED);
	expect_pass(p1, BARRIER_SUSPENDED, 2);
	close(p2);	 /* SIGKILL */
	wait_gone(1202); /* before p1 reports: the answer to its report then says ABORT */
	ck_assert_str_eq(fail_alone(p1, ctl), "process 1202 (fakeproc) ended during the "
					      "checkpoint, before its image was written (killed "
					      "by a signal)\n");

	p2 = join_process(1203, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){0}, 4, NULL, 0), 0);
	expect_begin(p1);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	pass_two(p1, p2, BARRIER_DRAINED);
	ck_assert_int_eq(proto_send(p2, MSG_EXEC, &exiting, 4, NULL, 0), 0);
	close(p2); /* it exited while its writer wrote */
	send_image(p1, "/ck/p1");
	send_barrier(p1, BARRIER_WRITTEN);
	expect_pass_flags(p1, BARRIER_WRITTEN, BARRIER_F_ABORT);
	ck_assert_uint_eq(expect_begin(p1).gen, 3); /* again, without it */
	close(p1);
	close(ctl);
}
END_TEST

/* A restored process waiting for the others hears from the coordinator
 * (it gives up on one silent for PROTO_SILENCE_MS). */
START_TEST(test_restored_process_waits_with_pings)
{
	const uint64_t comp = 0x5555666677778888ull;
	char err[512];
	start_coord(0);
	int p1 = join_restart(cport, 21, comp, 600, err, sizeof(err));
	ck_assert_msg(p1 >= 0, "%s", err);
	set_timeout(p1);
	send_barrier(p1, BARRIER_RESTARTED);
	expect(p1, MSG_PING);
	expect(p1, MSG_PING);
	int p2 = join_restart(cport, 22, comp, 600, err, sizeof(err));
	ck_assert_msg(p2 >= 0, "%s", err);
	set_timeout(p2);
	send_barrier(p2, BARRIER_RESTARTED);
	expect_pass(p1, BARRIER_RESTARTED, 2);
	expect_pass(p2, BARRIER_RESTARTED, 2);
	close(p1);
	close(p2);
}
END_TEST

static Suite *life_suite(void)
{
	Suite *s = suite_create("coord_life");
	TCase *tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exit_serves_every_client);
	tcase_add_test(tc, test_hold_and_failed_launch);
	tcase_add_test(tc, test_restart_refused_while_running);
	tcase_add_test(tc, test_restart_parts_from_several_restarts);
	tcase_add_test(tc, test_silent_process_given_up);
	tcase_add_test(tc, test_kill_waits_for_the_processes);
	tcase_add_test(tc, test_interval_comes_back);
	tcase_add_test(tc, test_restored_process_waits_with_pings);
	tcase_add_test(tc, test_killed_or_exiting_member);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(life_suite());
}
