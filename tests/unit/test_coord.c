/* Unit tests of the coordinator (src/coordinator/): a real coordinator runs in a
 * child on a free loopback port; fake processes and control clients talk to it
 * with the client side of src/common/proto.c. Also tests the event loop. */
#include "coord_helpers.h"
#include "common/clock.h"
#include "coordinator/loop.h"
#include "unit.h"

#include <dirent.h>

START_TEST(test_bad_token)
{
	char path[PATH_MAX], saved[80], err[512];
	start_coord(0);
	proto_token_path(cport, path, sizeof(path));
	int fd = open(path, O_RDWR);
	ck_assert_int_eq(read(fd, saved, 65), 65);
	ck_assert_int_eq(
	    pwrite(fd, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64, 0),
	    64);
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = 1};
	ck_assert_int_eq(proto_client_connect(cport, &h, NULL, NULL, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "refused us: bad token"));
	ck_assert_ptr_nonnull(strstr(err, "belongs to another coordinator"));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_int_eq(pwrite(fd, saved, 65, 0), 65);
	close(fd);
	/* the coordinator survived and serves a client with the right token */
	ck_assert_ptr_nonnull(strstr(status(0), "processes:      0"));
}
END_TEST

START_TEST(test_garbage_then_good_client)
{
	start_coord(0);
	int fd = raw_connect();
	ck_assert_int_eq(write(fd, "GET / HTTP/1.0\r\n\r\nxxxxxxxxxxxxxxxx", 34), 34);
	expect_closed(fd);
	close(fd);

	struct proto_hdr h = {PROTO_MAGIC, PROTO_VERSION, MSG_CMD_STATUS, 4, 0};
	fd = raw_connect(); /* a command before the hello */
	ck_assert_int_eq(write(fd, &h, sizeof(h)), sizeof(h));
	ck_assert_int_eq(write(fd, "\0\0\0\0", 4), 4);
	expect_closed(fd);
	close(fd);

	h = (struct proto_hdr){PROTO_MAGIC, PROTO_VERSION, MSG_HELLO, 100000, 0};
	fd = raw_connect(); /* an oversized hello */
	ck_assert_int_eq(write(fd, &h, sizeof(h)), sizeof(h));
	expect_closed(fd);
	close(fd);

	h = (struct proto_hdr){PROTO_MAGIC, PROTO_VERSION, MSG_HELLO, 0, 7};
	fd = raw_connect(); /* reserved bits set */
	ck_assert_int_eq(write(fd, &h, sizeof(h)), sizeof(h));
	expect_closed(fd);
	close(fd);

	fd = raw_connect(); /* a hello with a wrong mac */
	struct proto_hello hello = {.role = ROLE_PROCESS, .pid = 77};
	ck_assert_int_eq(proto_send(fd, MSG_HELLO, &hello, sizeof(hello), NULL, 0), 0);
	struct proto_msg m = expect(fd, MSG_REFUSE);
	ck_assert_str_eq((char *)m.payload, "bad token");
	expect_closed(fd);
	close(fd);

	int p = join_process(4242, NULL);
	ck_assert_ptr_nonnull(strstr(status(0), "processes:      1"));
	/* a malformed message from an authenticated peer closes only that peer */
	ck_assert_int_eq(proto_send(p, 999, NULL, 0, NULL, 0), 0);
	expect_closed(p);
	close(p);
	ck_assert_ptr_nonnull(strstr(status(0), "processes:      0"));
}
END_TEST

START_TEST(test_status)
{
	struct proto_welcome w;
	char want[64];
	start_coord(0);
	const char *j = status(1);
	ck_assert_ptr_nonnull(strstr(j, "\"comp_id\": \"0000000000000000\""));
	int p = join(ROLE_PROCESS, 4242, "fake\"proc", 0, 0, 0, &w);
	ck_assert_uint_ne(w.comp_id, 0);
	ck_assert_uint_eq(w.gen, 0);
	j = status(1);
	snprintf(want, sizeof(want), "{\"port\": %u, ", cport);
	ck_assert_ptr_eq(strstr(j, want), j);
	snprintf(want, sizeof(want), "\"comp_id\": \"%016llx\"", (unsigned long long)w.comp_id);
	ck_assert_ptr_nonnull(strstr(j, want));
	ck_assert_ptr_nonnull(strstr(j, "\"gen\": 0"));
	ck_assert_ptr_nonnull(strstr(j, "\"state\": \"idle\""));
	ck_assert_ptr_nonnull(strstr(j, "\"interval\": 0"));
	ck_assert_ptr_nonnull(strstr(j, ckdir));
	ck_assert_ptr_nonnull(strstr(j, "\"nprocs\": 1"));
	ck_assert_ptr_nonnull(strstr(
	    j, "\"procs\": [{\"pid\": 4242, \"name\": \"fake\\\"proc\", \"restored\": false}]"));
	uint32_t secs = 30;
	command(MSG_CMD_SET_INTERVAL, &secs, sizeof(secs), MSG_OK);
	ck_assert_ptr_nonnull(strstr(status(1), "\"interval\": 30"));
	const char *t = status(0);
	ck_assert_ptr_nonnull(strstr(t, "state:          idle"));
	ck_assert_ptr_nonnull(strstr(t, "    4242  fake\"proc"));
	close(p);
}
END_TEST

START_TEST(test_checkpoint_round)
{
	struct proto_welcome w;
	const char *text;
	char path[PATH_MAX + 64], script[8192];
	struct stat st;
	start_coord(0);
	int p1 = join_process(101, &w), p2 = join_process(102, NULL);
	int ctl = request_checkpoint(0);
	struct proto_ckpt_begin b = expect_begin(p1);
	ck_assert_uint_eq(b.comp_id, w.comp_id);
	ck_assert_uint_eq(b.gen, 1);
	ck_assert_uint_eq(b.flags, 0);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	ck_assert_ptr_nonnull(strstr(status(1), "\"state\": \"checkpointing\""));
	for (uint32_t id = BARRIER_SUSPENDED; id <= BARRIER_DRAINED; id++) {
		send_barrier(p1, id);
		expect_nothing(p1); /* p2 has not reached it */
		send_barrier(p2, id);
		expect_pass(p1, id, 2);
		expect_pass(p2, id, 2);
	}
	send_image(p1, "/ck/img 'one'.stasis");
	send_barrier(p1, BARRIER_WRITTEN);
	expect_nothing(p1); /* and the coordinator has taken p1's image first */
	send_image(p2, "/ck/two.stasis");
	expect_nothing(ctl);
	send_barrier(p2, BARRIER_WRITTEN);
	struct proto_ckpt_result r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.gen, 1);
	ck_assert_str_eq(text, "/ck/img 'one'.stasis\n/ck/two.stasis\n");
	expect_pass(p1, BARRIER_WRITTEN, 2);
	expect_pass(p2, BARRIER_WRITTEN, 2);

	snprintf(path, sizeof(path), "%s/stasis_restart_%016llx.sh", ckdir,
		 (unsigned long long)w.comp_id);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, script, sizeof(script) - 1);
	close(fd);
	script[n > 0 ? n : 0] = 0;
	ck_assert_ptr_nonnull(strstr(script, "#!/bin/sh\n"));
	ck_assert_ptr_nonnull(strstr(script, "exec '" FAKE_EXE "' restart \"$@\""));
	ck_assert_ptr_nonnull(strstr(script, "'/ck/img '\\''one'\\''.stasis'"));
	ck_assert_ptr_nonnull(strstr(script, "'/ck/two.stasis'"));

	/* second round with --kill: every process gets KILL */
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){CKPT_KILL}, 4, NULL, 0),
			 0);
	b = expect_begin(p1);
	ck_assert_uint_eq(b.gen, 2);
	ck_assert_uint_eq(b.flags, CKPT_KILL);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	for (uint32_t id = BARRIER_SUSPENDED; id <= BARRIER_WRITTEN; id++) {
		if (id == BARRIER_WRITTEN) {
			send_image(p1, "/ck/a2");
			send_image(p2, "/ck/b2");
		}
		send_barrier(p1, id);
		send_barrier(p2, id);
		if (id != BARRIER_WRITTEN) {
			expect_pass(p1, id, 2);
			expect_pass(p2, id, 2);
		}
	}
	r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.gen, 2);
	expect(p1, MSG_KILL);
	expect(p2, MSG_KILL);
	close(p1);
	close(p2);
	close(ctl);
}
END_TEST

START_TEST(test_disconnect_mid_checkpoint)
{
	const char *text;
	start_coord(0);
	int p1 = join_process(201, NULL), p2 = join_process(202, NULL);
	int ctl = request_checkpoint(CKPT_KILL);
	expect_begin(p1);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	send_barrier(p1, BARRIER_SUSPENDED);
	expect_nothing(p1);
	close(p2);
	expect_pass(p1, BARRIER_SUSPENDED, 1);
	send_barrier(p1, BARRIER_DRAINED);
	expect_pass(p1, BARRIER_DRAINED, 1);
	send_image(p1, "/ck/p1");
	send_barrier(p1, BARRIER_WRITTEN);
	/* the attempt failed, the survivors resume (no kill) and, since a process
	 * left, the checkpoint starts again without it */
	expect_pass(p1, BARRIER_WRITTEN, 1);
	struct proto_ckpt_begin b = expect_begin(p1);
	prepared((int[]){p1}, 1);
	ck_assert_uint_eq(b.gen, 2);
	send_barrier(p1, BARRIER_SUSPENDED);
	expect_pass(p1, BARRIER_SUSPENDED, 1);
	send_barrier(p1, BARRIER_DRAINED);
	expect_pass(p1, BARRIER_DRAINED, 1);
	send_image(p1, "/ck/p1");
	send_barrier(p1, BARRIER_WRITTEN);
	struct proto_ckpt_result r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.gen, 2);
	expect(p1, MSG_KILL);
	close(p1);
	close(ctl);
}
END_TEST

START_TEST(test_checkpoint_refusals_and_errors)
{
	const char *text;
	start_coord(0);
	int ctl = request_checkpoint(0);
	struct proto_ckpt_result r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 1);
	ck_assert_uint_eq(r.gen, 0);
	ck_assert_ptr_nonnull(strstr(text, "no process to checkpoint"));

	int p = join_process(301, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){0}, 4, NULL, 0), 0);
	expect_begin(p);
	int ctl2 = request_checkpoint(0); /* waits for the running one */
	int ctl3 = request_checkpoint(0); /* one waits at a time */
	r = expect_result(ctl3, &text);
	ck_assert_uint_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(text, "another checkpoint waits to begin after it"));
	close(ctl3);
	/* a barrier out of sequence closes that process */
	send_barrier(p, BARRIER_DRAINED);
	expect_closed(p);
	close(p);
	r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 1);
	/* then the one that waited begins, and finds no process */
	r = expect_result(ctl2, &text);
	ck_assert_uint_eq(r.status, 1);
	ck_assert_uint_eq(r.gen, 0);
	ck_assert_ptr_nonnull(strstr(text, "no process to checkpoint"));
	close(ctl2);

	p = join_process(302, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){0}, 4, NULL, 0), 0);
	expect_begin(p);
	prepared((int[]){p}, 1);
	send_barrier(p, BARRIER_SUSPENDED);
	expect_pass(p, BARRIER_SUSPENDED, 1);
	send_barrier(p, BARRIER_DRAINED);
	expect_pass(p, BARRIER_DRAINED, 1);
	ck_assert_int_eq(proto_send(p, MSG_CKPT_ERROR, "disk full", 9, NULL, 0), 0);
	send_barrier(p, BARRIER_WRITTEN);
	r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 1);
	ck_assert_str_eq(text, "process 302 (fakeproc): disk full\n");
	expect_pass(p, BARRIER_WRITTEN, 1);
	close(p);
	close(ctl);
}
END_TEST

static struct proto_tcp_end tcp_end(uint64_t ino, const char *local, uint16_t lport,
				    const char *peer, uint16_t pport, uint32_t outq)
{
	struct proto_tcp_end e = {.ino = ino,
				  .fd = (int32_t)ino,
				  .state = 1 /* ESTABLISHED */,
				  .family = AF_INET,
				  .lport = lport,
				  .pport = pport,
				  .outq = outq};
	e.local[10] = e.local[11] = e.peer[10] = e.peer[11] = 0xff;
	ck_assert_int_eq(inet_pton(AF_INET, local, e.local + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, peer, e.peer + 12), 1);
	return e;
}

static void tcp_round(int *p, int n)
{
	prepared(p, n);
	for (int i = 0; i < n; i++)
		send_barrier(p[i], BARRIER_SUSPENDED);
	for (int i = 0; i < n; i++)
		expect_pass(p[i], BARRIER_SUSPENDED, n);
}

static struct proto_tcp_peer peer_at(int k)
{
	struct proto_tcp_peer r;
	memcpy(&r, rbuf + sizeof(struct proto_tcp_match) + k * sizeof(r), sizeof(r));
	return r;
}

/* The coordinator pairs the two ends of each connection across processes by
 * their addresses (loopback ones only on the same host), answers once every
 * process reported, and refuses a connect in progress as transient. */
START_TEST(test_tcp_pairing)
{
	const char *text;
	uint8_t host_a[16] = {1}, host_b[16] = {2};
	start_coord(0);
	int p[3] = {join_process(401, NULL), join_process(402, NULL), join_process(403, NULL)};
	int ctl = request_checkpoint(0);
	for (int i = 0; i < 3; i++)
		expect_begin(p[i]);
	tcp_round(p, 3);
	struct proto_tcp_end e1[] = {tcp_end(11, "127.0.0.1", 1000, "127.0.0.1", 2000, 5),
				     tcp_end(12, "192.0.2.1", 40000, "192.0.2.2", 80, 0),
				     tcp_end(13, "198.51.100.1", 5, "198.51.100.9", 6, 0)};
	struct proto_tcp_end e2[] = {tcp_end(21, "127.0.0.1", 2000, "127.0.0.1", 1000, 7)};
	/* the same loopback tuple on another host, and the other end of 12 */
	struct proto_tcp_end e3[] = {tcp_end(31, "127.0.0.1", 2000, "127.0.0.1", 1000, 0),
				     tcp_end(32, "192.0.2.2", 80, "192.0.2.1", 40000, 9)};
	send_tcp_report(p[0], host_a, e1, 3);
	send_tcp_report(p[1], host_a, e2, 1);
	expect_nothing(p[0]); /* p[2] has not reported */
	send_tcp_report(p[2], host_b, e3, 2);
	struct proto_tcp_match h = expect_match(p[0], 3);
	ck_assert_uint_eq(h.flags, 0);
	struct proto_tcp_peer a = peer_at(0), b = peer_at(1), c = peer_at(2);
	h = expect_match(p[1], 1);
	struct proto_tcp_peer d = peer_at(0);
	expect_match(p[2], 2);
	struct proto_tcp_peer e = peer_at(0), f = peer_at(1);
	ck_assert_uint_ne(a.conn_id, 0);
	ck_assert_uint_eq(a.conn_id >> 32, 1); /* generation 1 */
	ck_assert_uint_eq(a.conn_id, d.conn_id);
	ck_assert_uint_eq(a.side + d.side, 1);
	ck_assert_uint_eq(a.peer_outq, 7);
	ck_assert_uint_eq(d.peer_outq, 5);
	ck_assert_uint_ne(b.conn_id, 0);
	ck_assert_uint_ne(b.conn_id, a.conn_id);
	ck_assert_uint_eq(b.conn_id, f.conn_id);
	ck_assert_uint_eq(b.side + f.side, 1);
	ck_assert_uint_eq(b.peer_outq, 9);
	ck_assert_uint_eq(c.conn_id, 0); /* to outside */
	ck_assert_uint_eq(e.conn_id, 0); /* loopback of another host */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(proto_send(p[i], MSG_BARRIER, &(struct proto_barrier){.id = 2},
					    sizeof(struct proto_barrier), NULL, 0),
				 0);
	}
	for (int i = 0; i < 3; i++) {
		expect_members(p[i], 3);
		struct proto_msg m = expect(p[i], MSG_BARRIER);
		ck_assert_uint_eq(((struct proto_barrier *)m.payload)->flags, 0);
	}
	for (int i = 0; i < 3; i++) {
		send_image(p[i], i == 0 ? "/ck/1" : i == 1 ? "/ck/2" : "/ck/3");
		send_barrier(p[i], BARRIER_WRITTEN);
	}
	ck_assert_uint_eq(expect_result(ctl, &text).status, 0);
	for (int i = 0; i < 3; i++)
		expect_pass(p[i], BARRIER_WRITTEN, 3);

	/* a connect in progress: every process is told to drain nothing */
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_CHECKPOINT, &(uint32_t){0}, 4, NULL, 0), 0);
	for (int i = 0; i < 3; i++)
		expect_begin(p[i]);
	tcp_round(p, 3);
	e1[1].state = 2; /* SYN_SENT */
	send_tcp_report(p[0], host_a, e1, 3);
	send_tcp_report(p[1], host_a, NULL, 0);
	send_tcp_report(p[2], host_b, NULL, 0);
	ck_assert_uint_eq(expect_match(p[0], 3).flags, PROTO_TCP_ABORT);
	ck_assert_uint_eq(expect_match(p[1], 0).flags, PROTO_TCP_ABORT);
	ck_assert_uint_eq(expect_match(p[2], 0).flags, PROTO_TCP_ABORT);
	for (int i = 0; i < 3; i++)
		close(p[i]);
	close(ctl);
}
END_TEST

static void send_host(int fd, uint8_t key0, const char *name)
{
	struct proto_host h = {.key = {key0}, .pids = {key0}};
	snprintf(h.host, sizeof(h.host), "%s", name);
	ck_assert_int_eq(proto_send(fd, MSG_HOST, &h, sizeof(h), NULL, 0), 0);
}

/* The pids a pass lists (after its struct) */
static int pass_pids(int fd, uint32_t id, uint32_t *pids)
{
	struct proto_msg m = expect(fd, MSG_BARRIER);
	struct proto_barrier b;
	memcpy(&b, m.payload, sizeof(b));
	ck_assert_uint_eq(b.id, id);
	int n = (m.hdr.len - sizeof(b)) / 4;
	memcpy(pids, m.payload + sizeof(b), n * 4);
	return n;
}

/* Pids are per host: the SUSPENDED pass lists the members of the process's
 * own host, the other passes none; the image of the lowest pid of each host
 * gets every member with its host (MSG_MEMBERS), the others their own. */
START_TEST(test_hosts_and_members)
{
	uint32_t pids[8];
	start_coord(0);
	int p[3] = {join_process(501, NULL), join_process(502, NULL), join_process(503, NULL)};
	send_host(p[0], 1, "alpha");
	send_host(p[1], 2, "beta");
	send_host(p[2], 1, "alpha");
	int ctl = request_checkpoint(0);
	for (int i = 0; i < 3; i++)
		expect_begin(p[i]);
	for (int i = 0; i < 3; i++)
		send_barrier(p[i], BARRIER_PREPARED);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pass_pids(p[i], BARRIER_PREPARED, pids), 0);
	for (int i = 0; i < 3; i++)
		send_barrier(p[i], BARRIER_SUSPENDED);
	ck_assert_int_eq(pass_pids(p[0], BARRIER_SUSPENDED, pids), 2);
	ck_assert(pids[0] + pids[1] == 501 + 503);
	ck_assert_int_eq(pass_pids(p[1], BARRIER_SUSPENDED, pids), 1);
	ck_assert_uint_eq(pids[0], 502);
	ck_assert_int_eq(pass_pids(p[2], BARRIER_SUSPENDED, pids), 2);
	for (int i = 0; i < 3; i++)
		send_barrier(p[i], BARRIER_DRAINED);
	for (int i = 0; i < 3; i++) {
		expect_match(p[i], 0);
		struct proto_msg m = expect(p[i], MSG_MEMBERS);
		int n = i == 2 ? 1 : 3, seen = 0; /* 503: 501 lists alpha's */
		ck_assert_uint_eq(m.hdr.len, n * sizeof(struct proto_member));
		for (int k = 0; k < n; k++) {
			struct proto_member e;
			memcpy(&e, m.payload + k * sizeof(e), sizeof(e));
			ck_assert_str_eq(e.host, e.pid == 502 ? "beta" : "alpha");
			ck_assert_str_eq(e.name, "fakeproc");
			seen |= 1 << (e.pid - 501);
		}
		ck_assert_int_eq(seen, i == 2 ? 4 : 7);
		ck_assert_int_eq(pass_pids(p[i], BARRIER_DRAINED, pids), 0);
	}
	for (int i = 0; i < 3; i++)
		close(p[i]);
	close(ctl);
}
END_TEST

/* path: mode 0700, text */
static void write_script(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* What the fake commands wrote in dir: each file's text, sorted, joined. */
static void read_calls(const char *dir, char *out, size_t size)
{
	struct dirent **e;
	int n = scandir(dir, &e, NULL, alphasort);
	char texts[4][1024] = {{0}}, path[PATH_MAX + 300];
	ck_assert_int_ge(n, 2);
	ck_assert_int_le(n, 2 + 4);
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (e[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e[i]->d_name);
			int fd = open(path, O_RDONLY);
			ck_assert_int_ge(read(fd, texts[k++], sizeof(texts[0]) - 1), 1);
			close(fd);
		}
		free(e[i]);
	}
	free(e);
	qsort(texts, k, sizeof(texts[0]), (int (*)(const void *, const void *))strcmp);
	out[0] = 0;
	for (int i = 0; i < k; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s|", texts[i]);
}

/* One checkpoint of processes 701 on host h0 and 702 on h1, whose images
 * are img[0] and img[1]; the computation's id. */
static uint64_t checkpoint_two_hosts(const char *h0, const char *h1, char img[2][PATH_MAX + 64])
{
	struct proto_welcome w;
	uint32_t pids[8];
	const char *text;
	int p[2] = {join_process(701, &w), join_process(702, NULL)};
	send_host(p[0], 1, h0);
	send_host(p[1], 2, h1);
	int ctl = request_checkpoint(0);
	static const uint32_t ids[] = {BARRIER_PREPARED, BARRIER_SUSPENDED, BARRIER_DRAINED,
				       BARRIER_WRITTEN};
	for (size_t b = 0; b < sizeof(ids) / sizeof(ids[0]); b++) {
		uint32_t id = ids[b];
		for (int i = 0; i < 2; i++) {
			if (id == BARRIER_PREPARED)
				expect_begin(p[i]);
			if (id == BARRIER_WRITTEN)
				send_image(p[i], img[i]);
			send_barrier(p[i], id);
		}
		if (id == BARRIER_WRITTEN)
			ck_assert_uint_eq(expect_result(ctl, &text).status, 0);
		for (int i = 0; i < 2; i++) {
			if (id == BARRIER_DRAINED) {
				expect_match(p[i], 0);
				expect(p[i], MSG_MEMBERS);
			}
			pass_pids(p[i], id, pids);
		}
	}
	close(p[0]);
	close(p[1]);
	close(ctl);
	return w.comp_id;
}

/* The restart script of a computation on two hosts whose directories have
 * names a shell would take apart (a space, quotes, $, `): run with a fake
 * stasis and a fake ssh that write down their arguments, each host's part
 * gets exactly its own. */
START_TEST(test_restart_script_of_two_hosts)
{
	static const char odd[] = " it's a \"dir\" $HOME `x`";
	char here[64], run[256], exe[128], ssh[128], calls[128], token[PATH_MAX];
	char img[2][PATH_MAX + 64], script[PATH_MAX + 64], got[4096], want[4096];
	proto_host_name(here);
	snprintf(run, sizeof(run), "%s/run%s", tmpdir, odd);
	setenv("STASIS_RUN_DIR", run, 1);
	strcat(ckdir, odd);
	ck_assert_int_eq(mkdir(ckdir, 0700), 0);
	for (int i = 0; i < 2; i++)
		snprintf(img[i], sizeof(img[i]), "%s/img%s %d.stasis", ckdir, odd, i);
	snprintf(exe, sizeof(exe), "%s/stasis", tmpdir);
	snprintf(ssh, sizeof(ssh), "%s/ssh", tmpdir);
	snprintf(calls, sizeof(calls), "%s/calls", tmpdir);
	ck_assert_int_eq(mkdir(calls, 0700), 0);
	write_script(exe, "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$CALLS/stasis.$$\"\n");
	write_script(ssh,
		     "#!/bin/sh\necho \"$1\" > \"$CALLS/ssh.$$\"\nshift\nexec /bin/sh -c \"$*\"\n");
	fake_exe = exe;
	start_coord(0);
	ck_assert_int_eq(proto_token_path(cport, token, sizeof(token)), 0);
	uint64_t id = checkpoint_two_hosts(here, "beta", img);
	snprintf(script, sizeof(script), "%s/stasis_restart_%016llx.sh", ckdir,
		 (unsigned long long)id);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("STASIS_SSH", ssh, 1);
		setenv("CALLS", calls, 1);
		unsetenv("STASIS_REMOTE_TOKEN_FILE");
		unsetenv("STASIS_PORT");
		unsetenv("STASIS_WAIT");
		execl("/bin/sh", "sh", script, (char *)NULL);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(st, 0);
	read_calls(calls, got, sizeof(got));
	snprintf(
	    want, sizeof(want),
	    "beta\n|restart\n--coord-host\n127.0.0.1\n-p\n%u\n--wait\n60\n--\n%s\n|"
	    "restart\n--token-file\n%s\n--coord-host\n127.0.0.1\n-p\n%u\n--wait\n60\n--\n%s\n|",
	    cport, img[0], token, cport, img[1]);
	ck_assert_str_eq(got, want);
	fake_exe = FAKE_EXE;
}
END_TEST

/* The name service of a restart: a lookup waits for the publication; names
 * are forgotten once the restart is complete. */
START_TEST(test_names)
{
	start_coord(0);
	int a = join(ROLE_CONTROL, 1, "restart", 0, 0, 0, NULL);
	int b = join(ROLE_CONTROL, 1, "restart", 0, 0, 0, NULL);
	struct proto_name n = {.conn_id = 0x100000007ull, .family = AF_INET, .port = 4242};
	memset(n.cookie, 0xab, sizeof(n.cookie));
	uint64_t id = n.conn_id;
	ck_assert_int_eq(proto_send(b, MSG_NAME_LOOKUP, &id, 8, NULL, 0), 0);
	expect_nothing(b);
	ck_assert_int_eq(proto_send(a, MSG_NAME_PUBLISH, &n, sizeof(n), NULL, 0), 0);
	struct proto_msg m = expect(b, MSG_NAME_ANSWER);
	ck_assert_uint_eq(m.hdr.len, sizeof(n));
	ck_assert_mem_eq(m.payload, &n, sizeof(n));
	/* asked after it was published: answered at once */
	ck_assert_int_eq(proto_send(a, MSG_NAME_LOOKUP, &id, 8, NULL, 0), 0);
	m = expect(a, MSG_NAME_ANSWER);
	ck_assert_mem_eq(m.payload, &n, sizeof(n));
	/* published twice: that peer is dropped */
	ck_assert_int_eq(proto_send(a, MSG_NAME_PUBLISH, &n, sizeof(n), NULL, 0), 0);
	expect_closed(a);
	close(a);
	close(b);
}
END_TEST

static void send_kv(int fd, uint16_t type, const char *key, const char *value)
{
	struct proto_kv kv = {.len = value ? strlen(value) : 0};
	snprintf(kv.key, sizeof(kv.key), "%s", key);
	ck_assert_int_eq(proto_send(fd, type, &kv, sizeof(kv), value, kv.len), 0);
}

/* The answer about key: its status and, for a lookup, its value. */
static void expect_kv(int fd, const char *key, uint32_t status, const char *value)
{
	struct proto_msg m = expect(fd, MSG_KV_ANSWER);
	struct proto_kv kv;
	ck_assert_uint_eq(m.hdr.len, sizeof(kv) + strlen(value));
	memcpy(&kv, m.payload, sizeof(kv));
	ck_assert_str_eq(kv.key, key);
	ck_assert_uint_eq(kv.status, status);
	ck_assert_uint_eq(kv.len, strlen(value));
	ck_assert_mem_eq(m.payload + sizeof(kv), value, kv.len);
}

/* The plugins' names: in the same store as a restart's connections, a
 * lookup waits for the publication, a second publication is refused with
 * EEXIST, and a malformed message drops its peer. */
START_TEST(test_plugin_names)
{
	start_coord(0);
	/* as the restart's connections, peers of any role (processes get
	 * INTERVAL when they join, which expect_nothing would see) */
	int a = join(ROLE_CONTROL, 1, "a", 0, 0, 0, NULL);
	int b = join(ROLE_CONTROL, 1, "b", 0, 0, 0, NULL);
	send_kv(b, MSG_KV_LOOKUP, "rank0", NULL);
	expect_nothing(b);
	send_kv(a, MSG_KV_PUBLISH, "rank0", "10.0.0.1:5000");
	expect_kv(b, "rank0", 0, "10.0.0.1:5000");
	expect_kv(a, "rank0", 0, "");
	send_kv(a, MSG_KV_PUBLISH, "rank0", "again");
	expect_kv(a, "rank0", EEXIST, "");
	/* a restart connection's name does not meet a plugin's */
	struct proto_name n = {.conn_id = 7, .family = AF_INET, .port = 1};
	ck_assert_int_eq(proto_send(a, MSG_NAME_PUBLISH, &n, sizeof(n), NULL, 0), 0);
	send_kv(b, MSG_KV_LOOKUP, "rank0", NULL);
	expect_kv(b, "rank0", 0, "10.0.0.1:5000");
	/* an empty key: the peer is dropped */
	send_kv(b, MSG_KV_PUBLISH, "", "x");
	expect_closed(b);
	close(b);
	close(a);
}
END_TEST

static int restart_waiter(uint64_t comp, uint32_t seconds, const struct proto_member *m, uint32_t n)
{
	struct proto_restart_wait w = {
	    .comp_id = comp, .gen = 0, .seconds = seconds, .nmembers = n};
	int ctl = join(ROLE_CONTROL, 1, "restart", 0, 0, 0, NULL);
	ck_assert_int_eq(proto_send(ctl, MSG_CMD_RESTART_WAIT, &w, sizeof(w), m, n * sizeof(*m)),
			 0);
	return ctl;
}

/* A restart in parts: the waiting restart hears when the whole generation is
 * back; if it is not within the wait, every restarted process is ended and
 * the waiting restarts hear which processes are missing, and where. */
START_TEST(test_restart_in_parts)
{
	const uint64_t comp = 0x0102030405060708ull;
	struct proto_member m[2] = {{.pid = 601, .host = "alpha", .name = "srv"},
				    {.pid = 602, .host = "beta", .name = "cli"}};
	start_coord(0);
	int p1 = join(ROLE_PROCESS, 601, "srv", comp, HELLO_RESTART, 2, NULL);
	int ctl = restart_waiter(comp, 1, m, 2);
	send_barrier(p1, BARRIER_RESTARTED);
	expect_nothing(ctl);
	struct proto_msg r = expect(ctl, MSG_RESTART_RESULT); /* after 1 s */
	struct proto_ckpt_result res;
	memcpy(&res, r.payload, sizeof(res));
	ck_assert_uint_eq(res.status, 1);
	ck_assert_str_eq((char *)r.payload + sizeof(res),
			 "restart of computation 0102030405060708 generation 0: 1 of its 2 "
			 "processes came back within 1 s; missing: process 602 (cli) of host beta. "
			 "Every restarted process was ended: restart the part of every host "
			 "(stasis restart --coord-host ... --dir DIR on each), or all its images "
			 "on one host");
	expect(p1, MSG_KILL);
	ck_assert_ptr_nonnull(strstr(status(1), "\"state\": \"idle\""));
	close(p1);
	close(ctl);

	/* whole: the waiter hears it when the RESTARTED barrier passes */
	p1 = join(ROLE_PROCESS, 601, "srv", comp, HELLO_RESTART, 2, NULL);
	int p2 = join(ROLE_PROCESS, 602, "cli", comp, HELLO_RESTART, 2, NULL);
	ctl = restart_waiter(comp, 30, m, 2);
	send_barrier(p1, BARRIER_RESTARTED);
	send_barrier(p2, BARRIER_RESTARTED);
	expect_pass(p1, BARRIER_RESTARTED, 2);
	r = expect(ctl, MSG_RESTART_RESULT);
	memcpy(&res, r.payload, sizeof(res));
	ck_assert_uint_eq(res.status, 0);
	close(ctl);
	/* asked once it is whole already: answered at once */
	ctl = restart_waiter(comp, 30, m, 2);
	r = expect(ctl, MSG_RESTART_RESULT);
	memcpy(&res, r.payload, sizeof(res));
	ck_assert_uint_eq(res.status, 0);
	close(ctl);
	close(p1);
	close(p2);
}
END_TEST

static void joined_wait(int ctl)
{
	ck_assert_int_eq(proto_send(ctl, MSG_JOINED_WAIT, NULL, 0, NULL, 0), 0);
}

/* PID 1 of a restart's part makes its connections once every process of the
 * generation has joined (each part holds its ports by then): JOINED_WAIT is
 * answered when the last one joins, at once when no restart is in progress;
 * the processes of a restart that ended count no more. */
START_TEST(test_joined_wait)
{
	const uint64_t comp = 0x0a0b0c0d0e0f1011ull;
	const uint32_t flags = HELLO_RESTART | HELLO_PART;
	start_coord(0);
	int ctl = join(ROLE_CONTROL, 1, "restart", 0, 0, 0, NULL);
	joined_wait(ctl);
	expect(ctl, MSG_JOINED);
	int p[3];
	for (int round = 0; round < 2; round++) {
		p[0] = join(ROLE_PROCESS, 701, "a", comp, flags, 3, NULL);
		p[1] = join(ROLE_PROCESS, 702, "b", comp, flags, 3, NULL);
		int other = join(ROLE_CONTROL, 1, "restart", 0, 0, 0, NULL);
		joined_wait(ctl);
		joined_wait(other);
		expect_nothing(ctl);
		expect_nothing(other);
		p[2] = join(ROLE_PROCESS, 703, "c", comp, flags, 3, NULL);
		expect(ctl, MSG_JOINED);
		expect(other, MSG_JOINED);
		joined_wait(other); /* asked again: at once */
		expect(other, MSG_JOINED);
		close(other);
		for (int i = 0; i < 3; i++)
			close(p[i]);
		for (int i = 0; i < 3; i++)
			wait_gone(701 + i);
	}
	close(ctl);
}
END_TEST

START_TEST(test_restart_barrier)
{
	struct proto_welcome w;
	const uint64_t comp = 0x1122334455667788ull;
	start_coord(0);
	int p1 = join(ROLE_PROCESS, 401, "r1", comp, HELLO_RESTART, 2, &w);
	ck_assert_uint_eq(w.comp_id, comp);
	ck_assert_ptr_nonnull(strstr(status(1), "\"state\": \"restarting\""));
	send_barrier(p1, BARRIER_RESTARTED);
	expect_nothing(p1);
	/* another computation cannot join meanwhile */
	struct proto_hello h = {.role = ROLE_PROCESS, .pid = 9, .comp_id = 42};
	char err[512];
	ck_assert_int_eq(proto_client_connect(cport, &h, NULL, NULL, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "serves computation 1122334455667788"));
	int p2 = join(ROLE_PROCESS, 402, "r2", comp, HELLO_RESTART, 2, NULL);
	send_barrier(p2, BARRIER_RESTARTED);
	expect_pass(p1, BARRIER_RESTARTED, 2);
	expect_pass(p2, BARRIER_RESTARTED, 2);
	ck_assert_ptr_nonnull(strstr(status(1), "\"state\": \"idle\""));
	close(p1);
	close(p2);
}
END_TEST

START_TEST(test_exit_on_last_and_token_removal)
{
	char path[PATH_MAX];
	int st;
	start_coord(1);
	proto_token_path(cport, path, sizeof(path));
	ck_assert_int_eq(access(path, F_OK), 0);
	int p1 = join_process(501, NULL), p2 = join_process(502, NULL);
	close(p1);
	status(0); /* still there with one process */
	close(p2);
	ck_assert_int_eq(waitpid(cpid, &st, 0), cpid);
	cpid = 0;
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_kill_checkpoint_then_exit_on_last)
{
	const char *text;
	int st;
	start_coord(1);
	int p = join_process(601, NULL);
	int ctl = request_checkpoint(CKPT_KILL | CKPT_NO_COMPRESS);
	struct proto_ckpt_begin b = expect_begin(p);
	ck_assert_uint_eq(b.flags, CKPT_KILL | CKPT_NO_COMPRESS);
	prepared((int[]){p}, 1);
	send_barrier(p, BARRIER_SUSPENDED);
	expect_pass(p, BARRIER_SUSPENDED, 1);
	send_barrier(p, BARRIER_DRAINED);
	expect_pass(p, BARRIER_DRAINED, 1);
	send_image(p, "/ck/only");
	send_barrier(p, BARRIER_WRITTEN);
	expect(p, MSG_KILL);
	close(p);
	struct proto_ckpt_result r = expect_result(ctl, &text);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_str_eq(text, "/ck/only\n");
	expect_nothing(ctl);
	close(ctl); /* a client's connection keeps the coordinator too */
	ck_assert_int_eq(waitpid(cpid, &st, 0), cpid);
	cpid = 0;
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_quit_and_port_in_use)
{
	struct coord_opts o = {.ckpt_dir = ckdir};
	char err[512];
	int st;
	start_coord(0);
	o.port = cport;
	ck_assert_ptr_null(coord_start(&o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "is in use"));
	ck_assert_ptr_nonnull(strstr(err, "choose another with -p"));
	command(MSG_CMD_QUIT, NULL, 0, MSG_OK);
	ck_assert_int_eq(waitpid(cpid, &st, 0), cpid);
	cpid = 0;
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* ---- the event loop ---- */

static int fired, reads;

static long long tick(struct loop *l, long long id, void *data)
{
	(void)id;
	(void)data;
	if (++fired == 3) {
		loop_stop(l);
		return LOOP_NOMORE;
	}
	return 5;
}

static long long never(struct loop *l, long long id, void *data)
{
	(void)l;
	(void)id;
	(void)data;
	ck_abort_msg("a deleted timer ran");
	return LOOP_NOMORE;
}

static void on_read(struct loop *l, int fd, void *data, int mask)
{
	char c;
	(void)data;
	ck_assert_int_eq(mask, LOOP_READ);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	reads++;
	loop_del_fd(l, fd, LOOP_READ);
}

START_TEST(test_loop)
{
	int p[2];
	struct loop *l = loop_new();
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_add_fd(l, p[0], LOOP_READ, on_read, NULL), 0);
	ck_assert_int_eq(loop_fd_mask(l, p[0]), LOOP_READ);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	long long dead = loop_add_timer(l, 1, never, NULL);
	ck_assert_int_eq(loop_del_timer(l, dead), 0);
	ck_assert_int_gt(loop_add_timer(l, 5, tick, NULL), 0);
	long long t0 = now_ms();
	ck_assert_int_eq(loop_run(l), 0);
	ck_assert_int_eq(fired, 3);
	ck_assert_int_eq(reads, 1);
	ck_assert_int_eq(loop_fd_mask(l, p[0]), LOOP_NONE);
	ck_assert_int_ge(now_ms() - t0, 10);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}
END_TEST

static void send_progress(int fd, uint64_t done, uint64_t total)
{
	struct proto_progress p = {.done = done, .total = total};
	ck_assert_int_eq(proto_send(fd, MSG_PROGRESS, &p, sizeof(p), NULL, 0), 0);
}

static struct proto_progress expect_progress(int ctl)
{
	struct proto_progress p;
	struct proto_msg m = expect(ctl, MSG_PROGRESS);
	ck_assert_uint_eq(m.hdr.len, sizeof(p));
	memcpy(&p, m.payload, sizeof(p));
	return p;
}

/* Writers' progress reaches the control client that asked, summed. */
START_TEST(test_progress_forwarded)
{
	const char *text;
	start_coord(0);
	int p1 = join_process(211, NULL), p2 = join_process(212, NULL);
	int ctl = request_checkpoint(0);
	expect_begin(p1);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	pass_two(p1, p2, BARRIER_DRAINED);
	send_progress(p1, 10, 100);
	struct proto_progress s = expect_progress(ctl);
	ck_assert_uint_eq(s.done, 10);
	ck_assert_uint_eq(s.total, 100);
	send_progress(p2, 5, 50);
	s = expect_progress(ctl);
	ck_assert_uint_eq(s.done, 15);
	ck_assert_uint_eq(s.total, 150);
	ck_assert_uint_eq(s.nprocs, 2);
	send_image(p1, "/ck/p1");
	send_image(p2, "/ck/p2");
	send_barrier(p1, BARRIER_WRITTEN);
	send_barrier(p2, BARRIER_WRITTEN);
	ck_assert_uint_eq(expect_result(ctl, &text).status, 0);
	expect_pass(p1, BARRIER_WRITTEN, 2);
	send_progress(p1, 100, 100); /* late: ignored, the connection stays */
	expect_nothing(p1);
	ck_assert_ptr_nonnull(strstr(status(1), "\"nprocs\": 2"));
	close(p1);
	close(p2);
	close(ctl);
}
END_TEST

/* A process that said it is about to exec and left holds a checkpoint back
 * until it joins again with the same pid. */
START_TEST(test_checkpoint_waits_for_exec)
{
	const char *text;
	start_coord(0);
	int p1 = join_process(221, NULL), p2 = join_process(222, NULL);
	uint32_t one = 1;
	ck_assert_int_eq(proto_send(p2, MSG_EXEC, &one, sizeof(one), NULL, 0), 0);
	close(p2);	/* the exec closes its connection */
	wait_gone(222); /* before the request: else it may find 222 still there */
	expect_nothing(p1);
	int ctl = request_checkpoint(0);
	expect_nothing(p1); /* not yet: pid 222 is coming back */
	p2 = join_process(222, NULL);
	expect_begin(p1);
	expect_begin(p2);
	prepared((int[]){p1, p2}, 2);
	for (uint32_t b = BARRIER_SUSPENDED; b <= BARRIER_WRITTEN; b++) {
		if (b == BARRIER_WRITTEN) {
			send_image(p1, "/ck/p1");
			send_image(p2, "/ck/p2");
		}
		send_barrier(p1, b);
		send_barrier(p2, b);
		if (b != BARRIER_WRITTEN) {
			expect_pass(p1, b, 2);
			expect_pass(p2, b, 2);
		}
	}
	ck_assert_uint_eq(expect_result(ctl, &text).status, 0);
	close(p1);
	close(p2);
	close(ctl);
}
END_TEST

static Suite *coord_suite(void)
{
	Suite *s = suite_create("coord");
	TCase *tc = tcase_create("coordinator");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bad_token);
	tcase_add_test(tc, test_garbage_then_good_client);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_checkpoint_round);
	tcase_add_test(tc, test_disconnect_mid_checkpoint);
	tcase_add_test(tc, test_progress_forwarded);
	tcase_add_test(tc, test_checkpoint_waits_for_exec);
	tcase_add_test(tc, test_checkpoint_refusals_and_errors);
	tcase_add_test(tc, test_restart_barrier);
	tcase_add_test(tc, test_tcp_pairing);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_plugin_names);
	tcase_add_test(tc, test_hosts_and_members);
	tcase_add_test(tc, test_restart_script_of_two_hosts);
	tcase_add_test(tc, test_restart_in_parts);
	tcase_add_test(tc, test_joined_wait);
	tcase_add_test(tc, test_exit_on_last_and_token_removal);
	tcase_add_test(tc, test_kill_checkpoint_then_exit_on_last);
	tcase_add_test(tc, test_quit_and_port_in_use);
	suite_add_tcase(s, tc);
	TCase *tl = tcase_create("loop");
	tcase_add_test(tl, test_loop);
	suite_add_tcase(s, tl);
	return s;
}

int main(void)
{
	return run_suite(coord_suite());
}
