/* The setup messages between the relays and the bootstrap: lines of
 * "KEY VALUE", then "cmd LEN" and LEN bytes of the command. Every read has a
 * deadline; a malformed message is refused, naming what is wrong. */
#include "ssh/ssh.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SETUP_MAGIC "stasis-ssh 1"
#define CMD_MAX (1 << 20)

long long ssh_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Wait until fd is readable before the deadline: 0, or -1 (ETIMEDOUT). */
static int wait_readable(int fd, long long deadline)
{
	for (;;) {
		long long left = deadline - ssh_now_ms();
		if (left <= 0)
			return errno = ETIMEDOUT, -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Byte by byte: what follows the line stays in fd for the next reader. */
static int read_line_until(int fd, char *buf, size_t size, long long deadline)
{
	size_t n = 0;
	for (;;) {
		char c;
		if (wait_readable(fd, deadline) < 0)
			return -1;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return errno = r ? errno : EPIPE, -1;
		if (c == '\n')
			break;
		if (n + 1 >= size)
			return errno = EMSGSIZE, -1;
		buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

int ssh_read_line(int fd, char *buf, size_t size, int deadline_ms)
{
	return read_line_until(fd, buf, size, ssh_now_ms() + deadline_ms);
}

static int read_exact(int fd, char *buf, size_t len, long long deadline)
{
	for (size_t off = 0; off < len;) {
		if (wait_readable(fd, deadline) < 0)
			return -1;
		ssize_t r = read(fd, buf + off, len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return errno = r ? errno : EPIPE, -1;
		off += r;
	}
	return 0;
}

int ssh_read_exact(int fd, void *dst, size_t len, int deadline_ms)
{
	return read_exact(fd, dst, len, ssh_now_ms() + deadline_ms);
}

static int add(char **buf, size_t *len, const char *key, const char *val)
{
	if (!val || !*val)
		return 0;
	size_t k = strlen(key) + strlen(val) + 2;
	char *p = realloc(*buf, *len + k + 1);
	if (!p)
		return -1;
	snprintf(p + *len, k + 1, "%s %s\n", key, val);
	*buf = p;
	*len += k;
	return 0;
}

int ssh_setup_format(const struct ssh_setup *s, char **buf, size_t *len)
{
	char port[16] = "", cmdlen[32];
	size_t n = s->cmd ? strlen(s->cmd) : 0;
	if (s->port)
		snprintf(port, sizeof(port), "%u", s->port);
	snprintf(cmdlen, sizeof(cmdlen), "%zu", n);
	*buf = NULL;
	*len = 0;
	int rc = add(buf, len, SETUP_MAGIC, "setup") | add(buf, len, "coord", s->coord_host) |
		 add(buf, len, "port", port) | add(buf, len, "token", s->token_hex) |
		 add(buf, len, "cookie", s->cookie_hex) | add(buf, len, "comp", s->comp) |
		 add(buf, len, "dir", s->ckpt_dir) | add(buf, len, "rundir", s->run_dir) |
		 add(buf, len, "addr", s->addr) | add(buf, len, "cmd", cmdlen);
	char *p = rc ? NULL : realloc(*buf, *len + n + 1);
	if (!p) {
		free(*buf);
		return -1;
	}
	memcpy(p + *len, s->cmd ? s->cmd : "", n);
	*buf = p;
	*len += n;
	return 0;
}

static int hex_ok(const char *v, size_t want)
{
	return strlen(v) == want && strspn(v, "0123456789abcdef") == want;
}

/* One "KEY VALUE" line into s: 1 for "cmd", 0 for another, -1 if bad. */
static int field(struct ssh_setup *s, const char *key, const char *v, size_t *cmdlen, char *err,
		 size_t errlen)
{
	struct {
		const char *key;
		char *dst;
		size_t size;
	} f[] = {{"coord", s->coord_host, sizeof(s->coord_host)},
		 {"token", s->token_hex, sizeof(s->token_hex)},
		 {"cookie", s->cookie_hex, sizeof(s->cookie_hex)},
		 {"comp", s->comp, sizeof(s->comp)},
		 {"dir", s->ckpt_dir, sizeof(s->ckpt_dir)},
		 {"rundir", s->run_dir, sizeof(s->run_dir)},
		 {"addr", s->addr, sizeof(s->addr)}};
	char *end;
	if (!strcmp(key, "cmd") || !strcmp(key, "port")) {
		unsigned long n = strtoul(v, &end, 10);
		if (!*v || *end || n > (!strcmp(key, "cmd") ? CMD_MAX : 65535))
			return errf(err, errlen, "bad %s '%s' in the setup", key, v);
		if (!strcmp(key, "port"))
			return s->port = (unsigned)n, 0;
		*cmdlen = n;
		return 1;
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(key, f[i].key))
			continue;
		if (strlen(v) >= f[i].size)
			return errf(err, errlen, "setup field %s too long", key);
		snprintf(f[i].dst, f[i].size, "%s", v);
		return 0;
	}
	return 0; /* a field of a later version: ignored */
}

static int check(const struct ssh_setup *s, char *err, size_t errlen)
{
	if (s->token_hex[0] && !hex_ok(s->token_hex, 64))
		return errf(err, errlen, "bad token in the setup");
	if (s->cookie_hex[0] && !hex_ok(s->cookie_hex, 2 * SSH_COOKIE_LEN))
		return errf(err, errlen, "bad cookie in the setup");
	if (s->comp[0] && !hex_ok(s->comp, 16))
		return errf(err, errlen, "bad computation id in the setup");
	return 0;
}

int ssh_setup_read(int fd, struct ssh_setup *s, int deadline_ms, char *err, size_t errlen)
{
	long long deadline = ssh_now_ms() + deadline_ms;
	char line[8192];
	size_t cmdlen = 0;
	memset(s, 0, sizeof(*s));
	if (read_line_until(fd, line, sizeof(line), deadline) < 0)
		return errf(err, errlen, "no setup within %d s: %s", deadline_ms / 1000,
			    strerror(errno));
	if (strcmp(line, SETUP_MAGIC " setup"))
		return errf(err, errlen, "not a stasis-ssh setup: '%.60s'", line);
	for (int rc = 0; rc == 0;) {
		if (read_line_until(fd, line, sizeof(line), deadline) < 0)
			return errf(err, errlen, "setup cut short: %s", strerror(errno));
		char *sp = strchr(line, ' ');
		if (!sp)
			return errf(err, errlen, "malformed setup line '%.60s'", line);
		*sp = 0;
		if ((rc = field(s, line, sp + 1, &cmdlen, err, errlen)) < 0)
			return -1;
	}
	if (!(s->cmd = malloc(cmdlen + 1)))
		return errf(err, errlen, "out of memory");
	if (read_exact(fd, s->cmd, cmdlen, deadline) < 0) {
		free(s->cmd);
		s->cmd = NULL;
		return errf(err, errlen, "setup command cut short: %s", strerror(errno));
	}
	s->cmd[cmdlen] = 0;
	if (check(s, err, errlen) == 0)
		return 0;
	free(s->cmd); /* refused: the caller gets nothing to free */
	s->cmd = NULL;
	return -1;
}
