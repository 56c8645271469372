/* Unit tests of the refill by bouncing (src/common/tcpflow.c) on real TCP
 * connections over loopback: each end's own bytes end up in its own receive
 * queue, whatever their sizes, with pre-bytes in front of one side's frame. */
#include "common/tcpflow.h"

#include "unit.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72 /* Linux 5.14 */
#endif

static void pair(int fd[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(s, (void *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	ck_assert_int_eq(getsockname(s, (void *)&a, &l), 0);
	fd[0] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd[0], (void *)&a, sizeof(a)), 0);
	fd[1] = accept(s, NULL, NULL);
	ck_assert_int_ge(fd[1], 0);
	close(s);
}

static void *alloc(size_t size, void *arg)
{
	(void)arg;
	return malloc(size);
}

static uint8_t *pattern(size_t n, int seed)
{
	uint8_t *p = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 11));
	return p;
}

/* Run both flows to completion (bounded). */
static void run(struct tcp_flow *f, int with_pre)
{
	uint8_t pre[24];
	uint32_t pre_got = 0;
	for (int rounds = 0; !tcp_flow_done(&f[0]) || !tcp_flow_done(&f[1]); rounds++) {
		ck_assert_int_lt(rounds, 100000);
		struct pollfd p[2];
		for (int i = 0; i < 2; i++) {
			ck_assert_int_ge(tcp_flow_step(&f[i]), 0);
			p[i] = (struct pollfd){.fd = f[i].fd, .events = tcp_flow_events(&f[i])};
		}
		/* side 1 reads side 0's pre-bytes itself before its frame */
		if (with_pre && !f[1].input_ready) {
			ssize_t k =
			    recv(f[1].fd, pre + pre_got, sizeof(pre) - pre_got, MSG_DONTWAIT);
			if (k > 0 && (pre_got += k) == sizeof(pre)) {
				ck_assert_mem_eq(pre, "0123456789abcdefghijklmn", 24);
				f[1].input_ready = 1;
			}
			p[1].events |= POLLIN;
		}
		poll(p, 2, 50);
	}
}

static void check_queue(int fd, const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n + 1);
	size_t have = 0;
	while (have < n) {
		ssize_t k = recv(fd, got + have, n - have, 0);
		ck_assert_int_gt(k, 0);
		have += k;
	}
	ck_assert_mem_eq(got, want, n);
	ck_assert_int_eq(recv(fd, got, 1, MSG_DONTWAIT), -1); /* nothing more */
	ck_assert_int_eq(errno, EAGAIN);
	free(got);
}

static int sndbuf(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	return v;
}

/* The largest send buffer autotuning gives: tcp_wmem's third field. */
static int wmem_autotuned_max(void)
{
	int lo = 0, def = 0, max = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d %d %d", &lo, &def, &max), 3);
	fclose(f);
	return max;
}

static int buf_lock(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &v, &l), 0);
	return v;
}

static void bounce(size_t n0, size_t n1, int with_pre)
{
	int fd[2];
	struct tcp_flow f[2];
	uint8_t *own0 = pattern(n0, 1), *own1 = pattern(n1, 2);
	int was[2], now[2];
	pair(fd);
	for (int i = 0; i < 2; i++)
		was[i] = sndbuf(fd[i]);
	tcp_flow_init(&f[0], fd[0], with_pre ? (const uint8_t *)"0123456789abcdefghijklmn" : NULL,
		      24, alloc, NULL);
	tcp_flow_init(&f[1], fd[1], NULL, 0, alloc, NULL);
	tcp_flow_set_own(&f[0], own0, n0);
	tcp_flow_set_own(&f[1], own1, n1);
	f[0].input_ready = 1;
	f[1].input_ready = !with_pre;
	run(f, with_pre);
	/* given back (raised for more than 256 KiB): to the size autotuning had
	   given it, which may have grown since the start (up to tcp_wmem's
	   maximum; a raised buffer would be twice wmem_max), and unlocked (a
	   buffer set and not given back stays locked against autotuning) */
	for (int i = 0; i < 2; i++) {
		now[i] = sndbuf(fd[i]);
		ck_assert_int_ge(now[i], was[i]);
		ck_assert_int_le(now[i], wmem_autotuned_max());
		ck_assert_int_eq(buf_lock(fd[i]), 0);
	}
	check_queue(fd[0], own0, n0);
	check_queue(fd[1], own1, n1);
	free(f[0].theirs);
	free(f[1].theirs);
	free(own0);
	free(own1);
	close(fd[0]);
	close(fd[1]);
}

START_TEST(test_small)
{
	bounce(1000, 3, 0);
}
END_TEST

START_TEST(test_empty_and_pre)
{
	bounce(0, 0, 1);
	bounce(0, 70000, 1);
}
END_TEST

START_TEST(test_more_than_the_buffers)
{
	bounce(8 << 20, 6 << 20, 1);
}
END_TEST

/* A receive buffer that autotuning grew past what SO_RCVBUF may set (twice
 * rmem_max; SO_RCVBUFFORCE stands in for autotuning here) is left as it is:
 * setting it for a refill shrank it below the bytes it had held, and the
 * checkpoint's refill stalled. A smaller one is still raised. */
START_TEST(test_grown_buffer_not_shrunk)
{
	int fd[2], cap = 0, big, got;
	socklen_t l = sizeof(cap);
	struct tcp_flow f;
	uint64_t n = 64 << 20; /* more than any buffer here */
	int probe = socket(AF_INET, SOCK_STREAM, 0), v = INT_MAX / 2;
	ck_assert_int_eq(setsockopt(probe, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
	ck_assert_int_eq(getsockopt(probe, SOL_SOCKET, SO_RCVBUF, &cap, &l), 0);
	close(probe);
	pair(fd);
	big = cap; /* the kernel doubles it: twice the cap */
	ck_assert_int_eq(setsockopt(fd[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	tcp_flow_init(&f, fd[1], NULL, 0, alloc, NULL);
	tcp_flow_set_own(&f, NULL, n);
	ck_assert_int_eq(getsockopt(fd[1], SOL_SOCKET, SO_RCVBUF, &got, &l), 0);
	ck_assert_int_eq(got, 2 * cap);
	tcp_flow_init(&f, fd[0], NULL, 0, alloc, NULL);
	tcp_flow_set_own(&f, NULL, n);
	ck_assert_int_eq(getsockopt(fd[0], SOL_SOCKET, SO_RCVBUF, &got, &l), 0);
	ck_assert_int_eq(got, cap);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

START_TEST(test_bad_length)
{
	int fd[2];
	struct tcp_flow f;
	uint8_t len[8] = {0, 0, 0, 0, 2, 0, 0, 0}; /* 8 GiB */
	pair(fd);
	tcp_flow_init(&f, fd[1], NULL, 0, alloc, NULL);
	tcp_flow_set_own(&f, NULL, 0);
	f.input_ready = 1;
	ck_assert_int_eq(send(fd[0], len, 8, 0), 8);
	for (int i = 0; i < 100 && !f.failed; i++) {
		struct pollfd p = {.fd = fd[1], .events = POLLIN};
		poll(&p, 1, 50);
		tcp_flow_step(&f);
	}
	ck_assert_int_eq(f.failed, EPROTO);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcpflow");
	TCase *tc = tcase_create("bounce");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_small);
	tcase_add_test(tc, test_empty_and_pre);
	tcase_add_test(tc, test_more_than_the_buffers);
	tcase_add_test(tc, test_bad_length);
	if (geteuid() == 0) /* SO_RCVBUFFORCE needs CAP_NET_ADMIN */
		tcase_add_test(tc, test_grown_buffer_not_shrunk);
	else
		printf("tcpflow: test_grown_buffer_not_shrunk needs root (SO_RCVBUFFORCE): not "
		       "run\n");
	suite_add_tcase(s, tc);
	return run_suite(s);
}
