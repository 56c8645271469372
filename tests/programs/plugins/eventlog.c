/* eventlog: the test plugin of tests/e2e/test_plugins.py. Every event of
 * every process is appended to $PLUGIN_LOG as one line:
 *   PID EVENT GEN [ok|failed] [forked]
 * and, as the variables below ask:
 *   PLUGIN_SAVE=N       at CHECKPOINT save N bytes (pattern of the pid and
 *                       generation) and log "PID save N HASH"; at RESTART load
 *                       them and log "PID load LEN HASH"
 *   PLUGIN_NS=1         at CHECKPOINT and RESTART, the parent publishes
 *                       "parent" and the forked child "child" (value "PID
 *                       EVENT GEN"); each then looks the other one up and logs
 *                       "PID ns KEY=VALUE"
 *   PLUGIN_RESUME_LOOKUP=MS  at RESUME of generation 1, the parent looks
 *                       "later" up for MS ms (no process publishes it) and
 *                       logs "PID ns later: ERROR" (or "=VALUE")
 *   PLUGIN_RESUME_SLEEP=MS  at RESUME, every process sleeps MS ms before it
 *                       logs the event (the program runs meanwhile)
 *   PLUGIN_FAIL_FILE=F  while F exists, CHECKPOINT and RESTART fail with the
 *                       message "told to fail by F"
 * The log is written with open/write/close per line (O_APPEND): one write,
 * never split, from any process. */
#include <stasis/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int forked;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char line[1400];
	const char *path = getenv("PLUGIN_LOG");
	va_list ap;
	int n = snprintf(line, sizeof(line), "%d ", getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		if (write(fd, line, n) != n)
			_exit(3);
		close(fd);
	}
}

/* FNV-1a, 64 bits */
static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

extern const struct stasis_plugin stasis_plugin;
static uint8_t bytes[STASIS_PLUGIN_SAVE_MAX];

static int save(uint32_t gen, char *err, size_t errlen)
{
	const char *s = getenv("PLUGIN_SAVE");
	size_t n = s ? strtoul(s, NULL, 10) : 0;
	if (!s)
		return 0;
	for (size_t i = 0; i < n && i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + gen + getpid());
	if (stasis_plugin_save(&stasis_plugin, bytes, n) < 0) {
		snprintf(err, errlen, "cannot save %zu bytes: %s", n, strerror(errno));
		return -1;
	}
	logf_("save %zu %016llx", n, (unsigned long long)hash(bytes, n));
	return 0;
}

static void load(void)
{
	size_t n;
	const uint8_t *p = stasis_plugin_load(&stasis_plugin, &n);
	if (p)
		logf_("load %zu %016llx", n, (unsigned long long)hash(p, n));
	else
		logf_("load none (%s)", strerror(errno));
}

static int names(const struct stasis_event *ev, char *err, size_t errlen)
{
	char value[128], got[STASIS_PLUGIN_VALUE_MAX + 1];
	const char *mine = forked ? "child" : "parent", *theirs = forked ? "parent" : "child";
	int n = snprintf(value, sizeof(value), "%d %u %u", getpid(), ev->event, ev->generation);
	if (stasis_plugin_publish(mine, value, n) < 0)
		return snprintf(err, errlen, "cannot publish %s: %s", mine, strerror(errno)), -1;
	long len = stasis_plugin_lookup(theirs, got, sizeof(got) - 1, 10000);
	if (len < 0)
		return snprintf(err, errlen, "cannot look %s up: %s", theirs, strerror(errno)), -1;
	got[len] = 0;
	logf_("ns %s=%s", theirs, got);
	return 0;
}

static void resume_lookup(const struct stasis_event *ev)
{
	const char *ms = getenv("PLUGIN_RESUME_LOOKUP");
	char got[STASIS_PLUGIN_VALUE_MAX + 1];
	if (!ms || forked || ev->generation != 1)
		return;
	long len = stasis_plugin_lookup("later", got, sizeof(got) - 1, atoi(ms));
	if (len < 0)
		return logf_("ns later: %s", strerror(errno));
	got[len] = 0;
	logf_("ns later=%s", got);
}

static int told_to_fail(char *err, size_t errlen)
{
	const char *f = getenv("PLUGIN_FAIL_FILE");
	if (f && access(f, F_OK) == 0)
		return snprintf(err, errlen, "told to fail by %s", f), -1;
	return 0;
}

static void sleep_ms(const char *ms)
{
	long n = ms ? atol(ms) : 0;
	struct timespec t = {n / 1000, n % 1000 * 1000000L};
	while (n > 0 && nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static const char *const names_of[] = {"", "start", "checkpoint", "resume", "restart", "exit"};

static int event(const struct stasis_event *ev, char *err, size_t errlen)
{
	if (ev->event == STASIS_EVENT_START)
		forked = ev->forked;
	if (ev->event == STASIS_EVENT_RESUME) {
		sleep_ms(getenv("PLUGIN_RESUME_SLEEP"));
		logf_("resume %u %s", ev->generation, ev->ok ? "ok" : "failed");
		resume_lookup(ev);
	} else if (ev->event == STASIS_EVENT_START)
		logf_("start %u%s", ev->generation, ev->forked ? " forked" : "");
	else
		logf_("%s %u", names_of[ev->event], ev->generation);
	if (ev->event == STASIS_EVENT_CHECKPOINT || ev->event == STASIS_EVENT_RESTART) {
		if (told_to_fail(err, errlen) < 0)
			return -1;
		if (getenv("PLUGIN_NS") && names(ev, err, errlen) < 0)
			return -1;
	}
	if (ev->event == STASIS_EVENT_CHECKPOINT)
		return save(ev->generation, err, errlen);
	if (ev->event == STASIS_EVENT_RESTART && getenv("PLUGIN_SAVE"))
		load();
	return 0;
}

const struct stasis_plugin stasis_plugin = {
    .abi = STASIS_PLUGIN_ABI,
    .name = "eventlog",
    .event = event,
};
