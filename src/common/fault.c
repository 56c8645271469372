/* Fault injection (fault.h): STASIS_FAULT parsed once, counters per item. */
#include "common/fault.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int err;
	const char *where;
} points[FAULT_NPOINTS] = {
    [FAULT_IMG_CREATE] = {"img-create", ENOSPC, "image writer: create NAME.tmp"},
    [FAULT_IMG_WRITE] = {"img-write", ENOSPC, "image writer: every write"},
    [FAULT_IMG_FSYNC] = {"img-fsync", EIO, "image writer: fdatasync"},
    [FAULT_IMG_CLOSE] = {"img-close", EIO, "image writer: close"},
    [FAULT_IMG_RENAME] = {"img-rename", EIO, "image writer: rename NAME.tmp to NAME"},
    [FAULT_IMG_FSYNC_DIR] = {"img-fsync-dir", EIO, "image writer: fsync of the directory"},
    [FAULT_IMG_OPEN] = {"img-open", EIO, "image reader: open"},
    [FAULT_IMG_READ] = {"img-read", EIO, "image reader: every read"},
    [FAULT_IMG_ALLOC] = {"img-alloc", ENOMEM, "image reader: section table and sections"},
    [FAULT_RT_ALLOC] = {"rt-alloc", ENOMEM, "runtime: checkpoint memory (rt_alloc)"},
    [FAULT_RT_SNAP] = {"rt-snap", ENOMEM, "runtime: buffer for shared pages copied at the stop"},
    [FAULT_RT_FORK] = {"rt-fork", EAGAIN,
		       "runtime: the forked writer (falls back to writing "
		       "in the process)"},
    [FAULT_MSG_SEND] = {"msg-send", EPIPE, "protocol: a message sent (runtime, CLI, restart)"},
    [FAULT_MSG_RECV] = {"msg-recv", ECONNRESET, "protocol: a message received"},
    [FAULT_COORD_ALLOC] = {"coord-alloc", ENOMEM, "coordinator: its buffers"},
    [FAULT_COORD_SEND] = {"coord-send", EPIPE, "coordinator: a message to a peer"},
    [FAULT_SCRIPT_CREATE] = {"script-create", ENOSPC, "coordinator: restart script temp file"},
    [FAULT_SCRIPT_WRITE] = {"script-write", ENOSPC, "coordinator: restart script write"},
    [FAULT_SCRIPT_FSYNC] = {"script-fsync", EIO, "coordinator: restart script fsync"},
    [FAULT_SCRIPT_RENAME] = {"script-rename", EIO, "coordinator: restart script rename"},
    [FAULT_RST_ALLOC] = {"rst-alloc", ENOMEM, "restorer: buffers filling memory"},
    [FAULT_RST_CLONE] = {"rst-clone", EAGAIN, "restorer: creating a process"},
    [FAULT_RST_MMAP] = {"rst-mmap", ENOMEM, "restorer: premapping a memory region"},
    [FAULT_RST_BLOB] = {"rst-blob", EIO, "restore blob: once the restorer is unmapped"},
    [FAULT_COORD_READY] = {"coord-ready", EIO,
			   "coordinator: once it listens, before it says so to its starter"},
    [FAULT_RST_MAP_RUN] =
	{"rst-map-run", ENOMEM,
	 "restorer: mapping a run of an image file over memory (the rest is read)"},
};

#define MAX_ITEMS 512
#define PREFIX_MAX 24

struct item {
	uint32_t gen;  /* 0: any time */
	uint32_t nth;  /* fails at this hit */
	uint32_t pid;  /* 0: any process, else only the one that sees itself as pid */
	uint32_t hits; /* atomic */
	int point;     /* 0: prefix match */
	int stop;      /* /stop: the process stops (SIGSTOP) there instead of failing */
	char prefix[PREFIX_MAX];
};

static struct item items[MAX_ITEMS];
static int nitems;
static int parsed; /* 0 not yet, 1 being parsed, 2 done */
static uint32_t cur_gen;
static const char *trace; /* STASIS_FAULT_LOG: every point reached, one line each */

const char *fault_name(enum fault_point p)
{
	return p > 0 && p < FAULT_NPOINTS ? points[p].name : "none";
}

static int parse_uint(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	if (!len || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_point(const char *s, size_t len, struct item *it)
{
	uint32_t num;
	if (len == 3 && !memcmp(s, "all", 3))
		return it->prefix[0] = 0, 0;
	if (len && s[len - 1] == '*' && len <= PREFIX_MAX) {
		memcpy(it->prefix, s, len - 1);
		it->prefix[len - 1] = 0;
		return 0;
	}
	if (parse_uint(s, len, &num) == 0 && num > 0 && num < FAULT_NPOINTS)
		return it->point = (int)num, 0;
	for (int p = 1; p < FAULT_NPOINTS; p++)
		if (strlen(points[p].name) == len && !memcmp(points[p].name, s, len))
			return it->point = p, 0;
	return -1;
}

/* [gGEN:]POINT[:NTH][@PID][/stop], len bytes at s */
static int parse_item(const char *s, size_t len, struct item *it)
{
	const char *end = s + len, *colon, *at;
	memset(it, 0, sizeof(*it));
	it->nth = 1;
	if (len > 5 && !memcmp(end - 5, "/stop", 5)) {
		it->stop = 1;
		end -= 5;
	}
	if ((at = memchr(s, '@', end - s))) {
		if (parse_uint(at + 1, end - at - 1, &it->pid) < 0 || !it->pid)
			return -1;
		end = at;
	}
	if (s < end && s[0] == 'g' && (colon = memchr(s, ':', end - s))) {
		if (parse_uint(s + 1, colon - s - 1, &it->gen) < 0 || !it->gen)
			return -1;
		s = colon + 1;
	}
	colon = memchr(s, ':', end - s);
	if (colon && (parse_uint(colon + 1, end - colon - 1, &it->nth) < 0 || !it->nth))
		return -1;
	return parse_point(s, (colon ? colon : end) - s, it);
}

/* Parse spec into items; -1 with the bad item's text in bad. */
static int parse_spec(const char *spec, struct item *out, int *n, char *bad, size_t badlen)
{
	*n = 0;
	while (*spec) {
		size_t len = strcspn(spec, ",");
		if (len && (*n == MAX_ITEMS || parse_item(spec, len, &out[*n]) < 0)) {
			snprintf(bad, badlen, "%.*s", (int)len, spec);
			return -1;
		}
		*n += len != 0;
		spec += len + (spec[len] == ',');
	}
	return 0;
}

static int configure(const char *spec, char *bad, size_t badlen)
{
	cur_gen = 0;
	nitems = 0;
	if (!spec || !strcmp(spec, "list"))
		return 0;
	if (parse_spec(spec, items, &nitems, bad, badlen) < 0) {
		nitems = 0;
		return -1;
	}
	return 0;
}

static void parse_env(void)
{
	int expect = 0;
	char bad[64];
	if (!__atomic_compare_exchange_n(&parsed, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	trace = secure_getenv("STASIS_FAULT_LOG");
	if (configure(secure_getenv("STASIS_FAULT"), bad, sizeof(bad)) < 0)
		warn("STASIS_FAULT: ignoring it, bad item '%s' (see 'STASIS_FAULT=list stasis')",
		     bad);
	__atomic_store_n(&parsed, 2, __ATOMIC_RELEASE);
}

int fault_configure(const char *spec)
{
	char bad[64];
	__atomic_store_n(&parsed, 2, __ATOMIC_RELEASE);
	return configure(spec, bad, sizeof(bad));
}

int fault_check_env(char *err, size_t errlen)
{
	static struct item tmp[MAX_ITEMS];
	char bad[64];
	int n;
	const char *spec = getenv("STASIS_FAULT");
	if (!spec || !strcmp(spec, "list") || parse_spec(spec, tmp, &n, bad, sizeof(bad)) == 0)
		return 0;
	snprintf(err, errlen,
		 "STASIS_FAULT: bad item '%s': give [gGEN:]POINT[:NTH], POINT a name or number "
		 "of 'STASIS_FAULT=list stasis', a prefix ending in '*', or 'all'",
		 bad);
	return -1;
}

static int matches(const struct item *it, enum fault_point p)
{
	if (it->point)
		return it->point == (int)p;
	return !strncmp(points[p].name, it->prefix, strlen(it->prefix));
}

/* "PID GEN POINT" appended to the trace file (for tests that walk every hit:
 * it opens a descriptor for a moment, so it is not for production) */
static void trace_hit(enum fault_point p, uint32_t gen)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %u %s\n", (int)getpid(), gen, points[p].name);
	int saved = errno, fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, line, n);
		(void)w;
		close(fd);
	}
	errno = saved;
}

int fault_check(enum fault_point p)
{
	if (__atomic_load_n(&parsed, __ATOMIC_ACQUIRE) != 2)
		parse_env();
	if (__atomic_load_n(&parsed, __ATOMIC_ACQUIRE) != 2 || (!nitems && !trace) || p <= 0 ||
	    p >= FAULT_NPOINTS)
		return 0;
	uint32_t gen = __atomic_load_n(&cur_gen, __ATOMIC_RELAXED);
	if (trace)
		trace_hit(p, gen);
	const struct item *fired = NULL;
	for (int i = 0; i < nitems; i++) { /* every matching item counts the hit */
		struct item *it = &items[i];
		if ((it->gen && it->gen != gen) || (it->pid && it->pid != (uint32_t)getpid()) ||
		    !matches(it, p))
			continue;
		if (__atomic_add_fetch(&it->hits, 1, __ATOMIC_RELAXED) == it->nth && !fired)
			fired = it;
	}
	if (!fired)
		return 0;
	log_msg("fault", "pid %d: %s %s (point %d, hit %u%s%.0u)%s%s", (int)getpid(),
		fired->stop ? "stopping at" : "injecting", points[p].name, (int)p, fired->nth,
		fired->gen ? " of generation " : "", fired->gen, fired->stop ? "" : ": ",
		fired->stop ? "" : strerror(points[p].err));
	errno = points[p].err;
	return fired->stop ? FAULT_STOP : FAULT_FAIL;
}

int fault_hit(enum fault_point p)
{
	int a = fault_check(p);
	if (a == FAULT_STOP)
		raise(SIGSTOP); /* a test kills or continues us now */
	return a == FAULT_FAIL;
}

void fault_generation(uint32_t gen)
{
	if (__atomic_load_n(&parsed, __ATOMIC_ACQUIRE) != 2)
		parse_env();
	if (gen == __atomic_exchange_n(&cur_gen, gen, __ATOMIC_RELAXED))
		return;
	for (int i = 0; i < nitems; i++)
		if (gen && items[i].gen == gen)
			__atomic_store_n(&items[i].hits, 0, __ATOMIC_RELAXED);
}

void fault_list(FILE *f)
{
	fprintf(f, "STASIS_FAULT=ITEM[,ITEM...], ITEM = [gGEN:]POINT[:NTH][@PID][/stop]; POINT:\n");
	for (int p = 1; p < FAULT_NPOINTS; p++)
		fprintf(f, "%3d %-14s %-11s %s\n", p, points[p].name,
			strerrorname_np(points[p].err), points[p].where);
}
