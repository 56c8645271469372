/* Unit tests of stasis-ssh (src/ssh/): ssh's command line, the setup
 * messages (malformed or cut short: refused, naming why), and the relay's
 * frames on a socket pair. */
#include "ssh/ssh.h"

#include "unit.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse(struct ssh_args *a, int argc, ...)
{
	char *argv[16];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return ssh_parse_args(argc, argv, a);
}

START_TEST(test_ssh_args)
{
	struct ssh_args a;
	ck_assert_int_eq(parse(&a, 3, "ssh", "host", "cmd"), 0);
	ck_assert_int_eq(a.dest, 1);
	ck_assert_int_eq(a.cmd, 2);
	ck_assert_int_eq(parse(&a, 9, "ssh", "-F", "cfg", "-p22", "-oX=Y", "-4v", "host", "a", "b"),
			 0);
	ck_assert_int_eq(a.dest, 6);
	ck_assert_int_eq(a.cmd, 7);
	ck_assert_int_eq(a.no_stdin, 0);
	ck_assert_int_eq(parse(&a, 5, "ssh", "-n", "--", "host", "c"), 0);
	ck_assert_int_eq(a.dest, 3);
	ck_assert_int_eq(a.no_stdin, 1);
	ck_assert_int_eq(parse(&a, 2, "ssh", "host"), -1);
	ck_assert_str_eq(a.why, "no command (an interactive session)");
	ck_assert_int_eq(parse(&a, 4, "ssh", "-N", "host", "c"), -1);
	ck_assert_str_eq(a.why, "-N runs no command");
	ck_assert_int_eq(parse(&a, 5, "ssh", "-L", "1:h:2", "host", "c"), -1);
	ck_assert_int_eq(parse(&a, 4, "ssh", "-tt", "host", "c"), -1);
	ck_assert_str_eq(a.why, "-t asks for a terminal");
	ck_assert_int_eq(parse(&a, 2, "ssh", "-F"), -1);
	ck_assert_str_eq(a.why, "an option lacks its value");
	char *argv[] = {"ssh", "h", "echo", "a b", "c", NULL};
	char *cmd = ssh_join_command(5, argv, 2);
	ck_assert_str_eq(cmd, "echo a b c"); /* as ssh sends it: the remote shell splits it */
	free(cmd);
}
END_TEST

/* A setup written into a pipe (closed after it) read back. */
static int setup_via_pipe(const char *bytes, size_t len, struct ssh_setup *s, char *err)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], bytes, len), (ssize_t)len);
	close(p[1]);
	int rc = ssh_setup_read(p[0], s, 1000, err, 256);
	close(p[0]);
	return rc;
}

START_TEST(test_setup_round_trip)
{
	struct ssh_setup s = {.port = 7779, .cmd = "echo 'x\ny'"}, r;
	char err[256], *buf;
	size_t len;
	snprintf(s.coord_host, sizeof(s.coord_host), "192.0.2.1");
	memset(s.token_hex, 'a', 64);
	memset(s.cookie_hex, '0', 32);
	snprintf(s.comp, sizeof(s.comp), "0123456789abcdef");
	snprintf(s.ckpt_dir, sizeof(s.ckpt_dir), "/data/ckpt dir");
	ck_assert_int_eq(ssh_setup_format(&s, &buf, &len), 0);
	ck_assert_msg(setup_via_pipe(buf, len, &r, err) == 0, "%s", err);
	ck_assert_str_eq(r.coord_host, "192.0.2.1");
	ck_assert_uint_eq(r.port, 7779);
	ck_assert_str_eq(r.token_hex, s.token_hex);
	ck_assert_str_eq(r.cookie_hex, s.cookie_hex);
	ck_assert_str_eq(r.comp, s.comp);
	ck_assert_str_eq(r.ckpt_dir, "/data/ckpt dir");
	ck_assert_str_eq(r.run_dir, "");
	ck_assert_str_eq(r.cmd, "echo 'x\ny'"); /* the command may hold newlines */
	free(r.cmd);
	/* cut short anywhere: refused */
	for (size_t cut = 0; cut < len; cut += 7)
		ck_assert_int_eq(setup_via_pipe(buf, cut, &r, err), -1);
	free(buf);
}
END_TEST

START_TEST(test_setup_refusals)
{
	struct ssh_setup r;
	char err[256];
	const char *bad[][2] = {
	    {"hello\n", "not a stasis-ssh setup: 'hello'"},
	    {"stasis-ssh 1 setup\ntoken abc\ncmd 0\n", "bad token in the setup"},
	    {"stasis-ssh 1 setup\nport 70000\ncmd 0\n", "bad port '70000' in the setup"},
	    {"stasis-ssh 1 setup\nnospace\n", "malformed setup line 'nospace'"},
	    {"stasis-ssh 1 setup\ncmd 99999999\n", "bad cmd '99999999' in the setup"},
	    {"stasis-ssh 1 setup\ncookie 0011\ncmd 0\n", "bad cookie in the setup"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(setup_via_pipe(bad[i][0], strlen(bad[i][0]), &r, err), -1);
		ck_assert_str_eq(err, bad[i][1]);
	}
	/* an unknown field (a later version) is skipped */
	const char *later = "stasis-ssh 1 setup\nfuture x\ncmd 2\nhi";
	ck_assert_int_eq(setup_via_pipe(later, strlen(later), &r, err), 0);
	ck_assert_str_eq(r.cmd, "hi");
	free(r.cmd);
	/* nothing comes: the deadline */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(ssh_setup_read(p[0], &r, 100, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no setup within 0 s: Connection timed out");
	close(p[0]);
	close(p[1]);
}
END_TEST

static void frame(int fd, uint32_t type, const void *data, uint32_t len)
{
	uint32_t h[2] = {type, len};
	ck_assert_int_eq(write(fd, h, 8), 8);
	if (data) /* else: the header alone */
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
}

static int exited(struct relay *r)
{
	return relay_exit_status(r) >= 0 && relay_sinks_flushed(r);
}

static int all_done(struct relay *r)
{
	return exited(r) && relay_sources_done(r) && relay_sent_all(r);
}

/* The local side: stdin's bytes go out framed with their EOF; the peer's
 * OUT and ERR frames reach their fds, its EXIT gives the status. */
START_TEST(test_relay_frames)
{
	int sp[2], in[2], out[2], errp[2];
	char err[256], buf[64];
	uint32_t h[2], st = 3, type = RELAY_OUT;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(pipe(in) | pipe(out) | pipe(errp), 0);
	struct relay *r = relay_new(sp[0]);
	relay_source(r, in[0], RELAY_IN);
	relay_sink(r, out[1], RELAY_OUT);
	relay_sink(r, errp[1], RELAY_ERR);
	ck_assert_int_eq(write(in[1], "abc", 3), 3);
	close(in[1]);
	frame(sp[1], RELAY_OUT, "hello", 5);
	frame(sp[1], RELAY_ERR, "oops", 4);
	frame(sp[1], RELAY_EOF, &type, 4);
	frame(sp[1], RELAY_EXIT, &st, 4);
	ck_assert_msg(relay_run(r, all_done, 5000, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(relay_exit_status(r), 3);
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 5); /* then its end: the EOF frame */
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 0);
	ck_assert_int_eq(read(errp[0], buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "oops", 4);
	/* what it sent: IN "abc", then the end of IN */
	ck_assert_int_eq(recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT), 8 + 3 + 8 + 4);
	memcpy(h, buf, 8);
	ck_assert_uint_eq(h[0], RELAY_IN);
	ck_assert_uint_eq(h[1], 3);
	ck_assert_mem_eq(buf + 8, "abc", 3);
	memcpy(h, buf + 11, 8);
	ck_assert_uint_eq(h[0], RELAY_EOF);
	ck_assert_uint_eq(h[1], 4);
	memcpy(h, buf + 19, 4);
	ck_assert_uint_eq(h[0], RELAY_IN);
	relay_free(r);
	/* a frame longer than any: the relay stops, saying so */
	r = relay_new(sp[0]);
	frame(sp[1], RELAY_OUT, NULL, RELAY_FRAME_MAX + 1);
	ck_assert_int_eq(relay_run(r, exited, 5000, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "malformed frame from the other relay");
	relay_free(r);
}
END_TEST

static Suite *ssh_suite(void)
{
	Suite *s = suite_create("ssh");
	TCase *tc = tcase_create("ssh");
	tcase_add_test(tc, test_ssh_args);
	tcase_add_test(tc, test_setup_round_trip);
	tcase_add_test(tc, test_setup_refusals);
	tcase_add_test(tc, test_relay_frames);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(ssh_suite());
}
