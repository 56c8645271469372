#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prefix = "stasis";
static int log_fd = 2;
static int log_debug = -1;
static int log_stamps;
static int log_json;

void log_set_json(int on)
{
	log_json = on;
}

/* {"error": "MESSAGE"} and a newline on stdout (a command given --json) */
static void json_error(const char *msg)
{
	char out[6 * 1024 + 32];
	size_t k = (size_t)snprintf(out, sizeof(out), "{\"error\": \"");
	for (; *msg && k < sizeof(out) - 16; msg++) {
		unsigned char ch = (unsigned char)*msg;
		if (ch == '"' || ch == '\\')
			k += (size_t)snprintf(out + k, sizeof(out) - k, "\\%c", ch);
		else if (ch < 0x20)
			k += (size_t)snprintf(out + k, sizeof(out) - k, "\\u%04x", ch);
		else
			out[k++] = (char)ch;
	}
	k += (size_t)snprintf(out + k, sizeof(out) - k, "\"}\n");
	ssize_t w = write(1, out, k);
	(void)w;
}

void log_set_timestamps(int on)
{
	log_stamps = on;
}

/* "2025-01-31 12:00:00 " when timestamps are on (a daemon's log file) */
static int stamp(char *buf, size_t size)
{
	struct tm tm;
	time_t t = time(NULL);
	if (!log_stamps || !localtime_r(&t, &tm))
		return 0;
	return (int)strftime(buf, size, "%Y-%m-%d %H:%M:%S ", &tm);
}

void log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

int log_get_fd(void)
{
	return log_fd;
}

int log_debug_enabled(void)
{
	if (log_debug < 0) {
		const char *v = secure_getenv("STASIS_LOG");
		log_debug = v && (!strcmp(v, "debug") || !strcmp(v, "1"));
	}
	return log_debug;
}

static void log_vmsg(const char *level, const char *fmt, va_list ap)
{
	char buf[1024];
	if (log_json && level && !strcmp(level, "error")) {
		vsnprintf(buf, sizeof(buf), fmt, ap);
		json_error(buf);
		return;
	}
	int t = stamp(buf, sizeof(buf)), n;
	if (level && !strcmp(level, "debug")) { /* CLOCK_MONOTONIC: one timeline for all */
		struct timespec m;
		clock_gettime(CLOCK_MONOTONIC, &m);
		n = snprintf(buf + t, sizeof(buf) - t, "%s: debug: [%ld.%06ld] ", log_prefix,
			     (long)m.tv_sec, m.tv_nsec / 1000);
	} else
		n = snprintf(buf + t, sizeof(buf) - t, "%s: %s%s", log_prefix, level ? level : "",
			     level ? ": " : "");
	if (n < 0)
		return;
	n += t;
	if ((size_t)n < sizeof(buf)) {
		int m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(log_fd, buf, n);
	(void)w;
}

void log_msg(const char *level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int errf(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

int error(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg("error", fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

void warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg("warning", fmt, ap);
	va_end(ap);
	errno = saved;
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg("error", fmt, ap);
	va_end(ap);
	exit(1);
}
