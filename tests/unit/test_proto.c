/* Unit tests of src/common/proto.c: framing, header checks, HMAC, token files,
 * port defaults, client errors. */
#include "common/proto.h"

#include <arpa/inet.h>
#include "unit.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/stasis-test-proto-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	char run[128];
	snprintf(run, sizeof(run), "%s/run", tmpdir);
	setenv("STASIS_RUN_DIR", run, 1);
}

static void teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("STASIS_RUN_DIR");
}

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

START_TEST(test_roundtrip)
{
	int sv[2];
	uint8_t buf[65536];
	struct proto_msg m;
	struct proto_barrier b = {.id = BARRIER_DRAINED, .nprocs = 3};
	pair(sv);
	ck_assert_int_eq(proto_send(sv[0], MSG_BARRIER, &b, sizeof(b), "tail", 4), 0);
	ck_assert_int_eq(proto_send(sv[0], MSG_OK, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(m.hdr.type, MSG_BARRIER);
	ck_assert_uint_eq(m.hdr.len, sizeof(b) + 4);
	ck_assert_mem_eq(m.payload, &b, sizeof(b));
	ck_assert_mem_eq(m.payload + sizeof(b), "tail", 4);
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(m.hdr.type, MSG_OK);
	ck_assert_uint_eq(m.hdr.len, 0);
	close(sv[0]);
	errno = 0;
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ECONNRESET);
	close(sv[1]);
}
END_TEST

START_TEST(test_large_and_too_large)
{
	int sv[2];
	static uint8_t big[60000], buf[60000];
	struct proto_msg m;
	pair(sv);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(proto_send(sv[0], MSG_STATUS_REPLY, big, sizeof(big), NULL, 0), 0);
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, big, sizeof(big));
	/* larger than the receiver's buffer: EPROTO */
	ck_assert_int_eq(proto_send(sv[0], MSG_STATUS_REPLY, big, 100, NULL, 0), 0);
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, 50), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* larger than the protocol allows: refused before sending */
	ck_assert_int_eq(proto_send(sv[0], MSG_OK, big, PROTO_MAX_PAYLOAD, big, 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static const struct proto_hdr good = {PROTO_MAGIC, PROTO_VERSION, MSG_OK, 0, 0};

START_TEST(test_check_hdr)
{
	struct proto_hdr h = good;
	ck_assert_int_eq(proto_check_hdr(&h), 0);
	h.len = PROTO_MAX_PAYLOAD;
	ck_assert_int_eq(proto_check_hdr(&h), 0);
	h = good;
	h.magic ^= 1;
	ck_assert_int_eq(proto_check_hdr(&h), -1);
	h = good;
	h.version = PROTO_VERSION + 1;
	ck_assert_int_eq(proto_check_hdr(&h), -1);
	h = good;
	h.len = PROTO_MAX_PAYLOAD + 1;
	ck_assert_int_eq(proto_check_hdr(&h), -1);
	h = good;
	h.reserved = 1;
	ck_assert_int_eq(proto_check_hdr(&h), -1);
	ck_assert_int_eq(errno, EPROTO);
}
END_TEST

START_TEST(test_recv_rejects_bad_header)
{
	int sv[2];
	uint8_t buf[64];
	struct proto_msg m;
	struct proto_hdr h = good;
	h.magic = 0x12345678;
	pair(sv);
	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), sizeof(h));
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* a truncated payload is a reset, not a message */
	h = good;
	h.len = 10;
	ck_assert_int_eq(write(sv[0], &h, sizeof(h)), sizeof(h));
	ck_assert_int_eq(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	ck_assert_int_eq(proto_recv(sv[1], &m, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ECONNRESET);
	close(sv[1]);
}
END_TEST

START_TEST(test_mac)
{
	uint8_t token[PROTO_TOKEN_LEN], nonce[PROTO_NONCE_LEN], mac[PROTO_MAC_LEN],
	    mac2[PROTO_MAC_LEN], ref[PROTO_MAC_LEN], msg[PROTO_NONCE_LEN + 8];
	uint32_t role = ROLE_PROCESS, pid = 4242;
	randombytes_buf(token, sizeof(token));
	randombytes_buf(nonce, sizeof(nonce));
	proto_hello_mac(token, nonce, role, pid, mac);
	memcpy(msg, nonce, sizeof(nonce));
	memcpy(msg + sizeof(nonce), &role, 4);
	memcpy(msg + sizeof(nonce) + 4, &pid, 4);
	crypto_auth_hmacsha256(ref, msg, sizeof(msg), token);
	ck_assert_mem_eq(mac, ref, sizeof(mac));
	proto_hello_mac(token, nonce, role, pid + 1, mac2);
	ck_assert_int_ne(memcmp(mac, mac2, sizeof(mac)), 0);
	proto_hello_mac(token, nonce, ROLE_CONTROL, pid, mac2);
	ck_assert_int_ne(memcmp(mac, mac2, sizeof(mac)), 0);
	nonce[0] ^= 1;
	proto_hello_mac(token, nonce, role, pid, mac2);
	ck_assert_int_ne(memcmp(mac, mac2, sizeof(mac)), 0);
	nonce[0] ^= 1;
	token[31] ^= 1;
	proto_hello_mac(token, nonce, role, pid, mac2);
	ck_assert_int_ne(memcmp(mac, mac2, sizeof(mac)), 0);
}
END_TEST

START_TEST(test_token_files)
{
	uint8_t t1[PROTO_TOKEN_LEN], t2[PROTO_TOKEN_LEN];
	char path[4096], err[512];
	struct stat st;
	ck_assert_int_eq(proto_token_path(7801, path, sizeof(path)), 0);
	ck_assert_str_eq(strrchr(path, '/'), "/coord-7801.token");
	ck_assert_int_eq(proto_token_create(7801, t1, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(getenv("STASIS_RUN_DIR"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 2 * PROTO_TOKEN_LEN + 1);
	ck_assert_int_eq(proto_token_load(7801, t2, err, sizeof(err)), 0);
	ck_assert_mem_eq(t1, t2, sizeof(t1));
	/* a second create replaces it atomically with a new token */
	ck_assert_int_eq(proto_token_create(7801, t2, err, sizeof(err)), 0);
	ck_assert_int_ne(memcmp(t1, t2, sizeof(t1)), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(proto_token_load(7801, t2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "readable by group or others"));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_int_eq(proto_token_load(7802, t2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "coord-7802.token"));
}
END_TEST

START_TEST(test_token_corrupt_and_unsafe_dir)
{
	uint8_t t[PROTO_TOKEN_LEN];
	char path[4096], err[512];
	ck_assert_int_eq(proto_token_create(7803, t, err, sizeof(err)), 0);
	proto_token_path(7803, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "zz\n", 3), 3);
	close(fd);
	ck_assert_int_eq(proto_token_load(7803, t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "corrupt"));
	ck_assert_int_eq(chmod(getenv("STASIS_RUN_DIR"), 0777), 0);
	ck_assert_int_eq(proto_token_create(7803, t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "writable by group or others"));
}
END_TEST

START_TEST(test_default_port)
{
	unsetenv("STASIS_PORT");
	ck_assert_uint_eq(proto_default_port(), STASIS_DEFAULT_PORT);
	setenv("STASIS_PORT", "8123", 1);
	ck_assert_uint_eq(proto_default_port(), 8123);
	const char *bad[] = {"0", "65536", "abc", "12x", "-5", " 80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("STASIS_PORT", bad[i], 1);
		ck_assert_uint_eq(proto_default_port(), 0);
	}
	unsetenv("STASIS_PORT");
}
END_TEST

/* A port nothing listens on: bind one, then close it. */
static uint16_t closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_connect_refused)
{
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = (uint32_t)getpid()};
	char err[512];
	uint16_t port = closed_port();
	unsetenv("STASIS_COORD_HOST");
	ck_assert_int_eq(proto_client_connect(port, &h, NULL, NULL, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_ptr_nonnull(strstr(err, "no coordinator on 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(err, "connection refused"));
	ck_assert_ptr_nonnull(strstr(err, "stasis coordinator"));
	ck_assert_int_eq(proto_client_connect(0, &h, NULL, NULL, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "STASIS_PORT"));
}
END_TEST

/* The coordinator is this host's when one of its addresses is: loopback (all of
 * 127/8), the wildcard, or an address of an interface of this host. */
START_TEST(test_coord_remote)
{
	static const struct {
		const char *host;
		int remote;
	} cases[] = {{NULL, 0},		{"127.0.0.1", 0},    {"localhost", 0},
		     {"127.0.0.2", 0},	{"::1", 0},	     {"0.0.0.0", 0},
		     {"192.0.2.77", 1}, {"2001:db8::77", 1}, {"no-such-host.invalid", 1}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].host)
			setenv("STASIS_COORD_HOST", cases[i].host, 1);
		else
			unsetenv("STASIS_COORD_HOST");
		ck_assert_msg(proto_coord_remote() == cases[i].remote, "%s", cases[i].host);
	}
	struct ifaddrs *ifs;
	ck_assert_int_eq(getifaddrs(&ifs), 0);
	for (struct ifaddrs *a = ifs; a; a = a->ifa_next) { /* each of this host's own */
		char addr[INET6_ADDRSTRLEN];
		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, addr,
			  sizeof(addr));
		setenv("STASIS_COORD_HOST", addr, 1);
		ck_assert_msg(proto_coord_remote() == 0, "%s of %s", addr, a->ifa_name);
	}
	freeifaddrs(ifs);
	unsetenv("STASIS_COORD_HOST");
}
END_TEST

/* A TCP end's address: IPv4 mapped, IPv6, port. */
START_TEST(test_tcp_addr)
{
	char buf[64];
	uint8_t v4[16] = {[10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = 1};
	uint8_t v6[16] = {[15] = 1};
	ck_assert_str_eq(proto_tcp_addr(v4, 80, buf, sizeof(buf)), "192.0.2.1:80");
	ck_assert_str_eq(proto_tcp_addr(v6, 65535, buf, sizeof(buf)), "[::1]:65535");
	v6[0] = 0xfe, v6[1] = 0x80;
	ck_assert_str_eq(proto_tcp_addr(v6, 7, buf, sizeof(buf)), "[fe80::1]:7");
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_large_and_too_large);
	tcase_add_test(tc, test_check_hdr);
	tcase_add_test(tc, test_recv_rejects_bad_header);
	tcase_add_test(tc, test_mac);
	tcase_add_test(tc, test_token_files);
	tcase_add_test(tc, test_token_corrupt_and_unsafe_dir);
	tcase_add_test(tc, test_default_port);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_coord_remote);
	tcase_add_test(tc, test_tcp_addr);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(proto_suite());
}
