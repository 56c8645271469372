/* manyhog: the bench's workload of many processes, threads or descriptors
 * (bench/run.py), printing ticks like memhog.
 *
 *   manyhog [-p NPROC] [-t NTHREADS] [-m MIB] [-f NFD -F PATH] [-i MS]
 *
 * The first process makes PATH at least NFD bytes long and opens it NFD times
 * (descriptor k at offset k, each its own open file description), then makes a tree of NPROC
 * processes (process i forks 2i+1 and 2i+2): every process inherits the descriptors, so the
 * descriptions are shared by all of them. Each process fills MIB MiB of random
 * memory of its own (seeded by its index); the first one then starts NTHREADS-1
 * threads that count while they sleep.
 *
 * Every process checks its memory's checksum and its descriptors' offsets
 * about every MS (100) ms; the others report each pass on a pipe to the first. The
 * first prints "tick N ok" once its own pass is done, every other process has
 * reported a pass since the previous tick and every thread has counted; or
 * "tick N CORRUPT" (the reason on stderr) and exits 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BAD (1u << 31)	/* in a report: that process found a fault */
#define WAIT_POLLS 6000 /* 10 ms polls (of running time) for the others: 60 s */
#define MAX_PROCS 4096

struct opts {
	unsigned nproc, nthreads, nfd;
	long interval_ms;
	size_t mib;
	const char *path;
};

static struct opts o = {.nproc = 1, .nthreads = 1, .mib = 16, .interval_ms = 100};
static unsigned self; /* this process's index in the tree */
static uint64_t *mem;
static size_t words;
static uint64_t want;
static int *fds;
static volatile uint64_t *counters;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void die(const char *what)
{
	fprintf(stderr, "manyhog %u: %s: %s\n", self, what, strerror(errno));
	exit(2);
}

static int parse(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "p:t:m:f:F:i:")) != -1) {
		switch (c) {
		case 'p':
			o.nproc = strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.nthreads = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o.mib = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			o.nfd = strtoul(optarg, NULL, 10);
			break;
		case 'F':
			o.path = optarg;
			break;
		case 'i':
			o.interval_ms = strtol(optarg, NULL, 10);
			break;
		default:
			return -1;
		}
	}
	if (!o.nproc || o.nproc > MAX_PROCS || !o.nthreads || (o.nfd && !o.path) ||
	    o.interval_ms < 1 || o.interval_ms > 10000)
		return -1;
	return 0;
}

static void open_fds(void)
{
	struct rlimit rl;
	if (!o.nfd)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o.nfd + 64) {
		rl.rlim_cur = rl.rlim_max < o.nfd + 64 ? rl.rlim_max : o.nfd + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fds = calloc(o.nfd, sizeof(*fds));
	if (!fds)
		die("calloc");
	for (unsigned k = 0; k < o.nfd; k++) {
		fds[k] = open(o.path, O_RDWR | O_CREAT, 0600);
		if (fds[k] < 0)
			die(o.path);
		if (k == 0 && lseek(fds[k], 0, SEEK_END) < (off_t)o.nfd &&
		    ftruncate(fds[k], o.nfd) < 0) /* every offset within the file */
			die("ftruncate");
		if (lseek(fds[k], k, SEEK_SET) < 0)
			die("lseek");
	}
}

static int fds_ok(void)
{
	for (unsigned k = 0; k < o.nfd; k++)
		if (lseek(fds[k], 0, SEEK_CUR) != (off_t)k)
			return 0;
	return 1;
}

static uint64_t sum(void)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < words; i++)
		h = (h ^ mem[i]) * 1099511628211ULL;
	return h;
}

static void fill(void)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (self + 1);
	words = (o.mib << 20) / 8;
	mem = mmap(NULL, o.mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		mem[i] = x;
	}
	want = sum();
}

static int pass_ok(void)
{
	return sum() == want && fds_ok();
}

/* Process i makes 2i+1 and 2i+2; returns in every process with self set. */
static void make_tree(void)
{
	for (unsigned child = 2 * self + 1; child <= 2 * self + 2 && child < o.nproc;) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			self = child;
			child = 2 * self + 1;
			continue;
		}
		child++;
	}
}

static void report_loop(int wfd)
{
	for (;;) {
		uint32_t rec = self | (pass_ok() ? 0 : BAD);
		if (write(wfd, &rec, sizeof(rec)) != sizeof(rec))
			exit(0); /* the first process has gone */
		nap_ms(o.interval_ms);
	}
}

static void *counter(void *arg)
{
	volatile uint64_t *c = arg;
	for (;;) {
		(*c)++;
		nap_ms(100);
	}
	return NULL;
}

static void start_threads(void)
{
	counters = calloc(o.nthreads, sizeof(*counters));
	if (!counters)
		die("calloc");
	for (unsigned i = 1; i < o.nthreads; i++) {
		pthread_t t;
		errno = pthread_create(&t, NULL, counter, (void *)&counters[i]);
		if (errno)
			die("pthread_create");
	}
}

/* Reports read so far: seen[i] once process i passed since the last tick. */
static int drain(int rfd, unsigned char *seen, unsigned *nseen)
{
	uint32_t rec[256];
	ssize_t n;
	while ((n = read(rfd, rec, sizeof(rec))) > 0) {
		for (ssize_t k = 0; k < n / 4; k++) {
			unsigned i = rec[k] & ~BAD;
			if (rec[k] & BAD || i >= o.nproc) {
				fprintf(stderr, "manyhog: process %u reports a fault\n", i);
				return -1;
			}
			*nseen += !seen[i];
			seen[i] = 1;
		}
	}
	return 0;
}

static unsigned threads_counted(const uint64_t *last)
{
	unsigned n = 0;
	for (unsigned i = 1; i < o.nthreads; i++)
		n += counters[i] != last[i];
	return n;
}

/* Wait (in running time) until every other process reported and every thread counted. */
static int wait_others(int rfd, unsigned char *seen, uint64_t *last)
{
	unsigned nseen = 0;
	memset(seen, 0, o.nproc);
	for (int poll = 0; poll < WAIT_POLLS; poll++) {
		if (drain(rfd, seen, &nseen) < 0)
			return -1;
		if (nseen >= o.nproc - 1 && threads_counted(last) == o.nthreads - 1) {
			for (unsigned i = 1; i < o.nthreads; i++)
				last[i] = counters[i];
			return 0;
		}
		nap_ms(10);
	}
	fprintf(stderr, "manyhog: %u of %u processes and %u of %u threads silent for 60 s\n",
		o.nproc - 1 - nseen, o.nproc - 1, o.nthreads - 1 - threads_counted(last),
		o.nthreads - 1);
	return -1;
}

static int tick_loop(int rfd)
{
	unsigned char *seen = calloc(o.nproc, 1);
	uint64_t *last = calloc(o.nthreads, sizeof(*last));
	if (!seen || !last)
		die("calloc");
	for (unsigned long n = 0;; n++) {
		int ok = pass_ok();
		if (!ok)
			fprintf(stderr,
				"manyhog: the first process's memory or descriptors changed\n");
		ok = ok && wait_others(rfd, seen, last) == 0;
		printf("tick %lu %s\n", n, ok ? "ok" : "CORRUPT");
		fflush(stdout);
		if (!ok)
			return 3;
		nap_ms(o.interval_ms);
	}
}

int main(int argc, char **argv)
{
	int p[2];
	if (parse(argc, argv) < 0) {
		fprintf(stderr,
			"usage: manyhog [-p NPROC (1-%d)] [-t NTHREADS] [-m MIB] "
			"[-f NFD -F PATH] [-i MS (1-10000)]\n",
			MAX_PROCS);
		return 2;
	}
	open_fds();
	if (pipe(p) < 0)
		die("pipe");
	make_tree();
	fill();
	if (self) {
		close(p[0]);
		report_loop(p[1]);
	}
	close(p[1]);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0)
		die("fcntl");
	start_threads();
	return tick_loop(p[0]);
}
