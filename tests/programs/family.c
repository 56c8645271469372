/* family: a process tree with threads, a pipe and shared memory whose state
 * is checked all the time, for the fault, soak and corrupt-image tests.
 *
 *   family VERIFY_FILE [NCHILD [MIB [THREADS]]]
 *
 * The parent forks NCHILD children (default 2). Every process fills MIB MiB
 * (default 2) of private memory with a pattern of its own that does not
 * compress, and runs THREADS threads (default 1) besides its main thread.
 * In shared anonymous memory, under a process-shared semaphore, every
 * process adds to one total and to its own slot (and to a private copy of
 * its slot): the total must equal the sum of the slots, and a process's
 * private copy its slot. Each child sends its updates, numbered 1, 2, 3, ...,
 * down a pipe to a thread of the parent, which checks that nothing is lost
 * or repeated. Each thread counts in private memory under a mutex, with a
 * copy on its own stack. Every process checks its pattern four times a
 * second. The parent prints "tick N" every 60 ms while all is well; the first
 * broken invariant prints "FAIL: ...". At verify every child checks its
 * pattern and sends its last number; the parent checks every stream and its
 * own memory, reaps the children and prints PASS.
 */
#include "zdtm.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MAXP 17
#define MAXT 8

struct shared {
	sem_t sem;
	uint64_t total;
	uint64_t slot[MAXP];
};

struct msg {
	uint32_t idx;
	uint32_t last; /* 1: the child's final number */
	uint64_t seq;
};

static struct shared *sh;
static uint64_t *mem;
static size_t words;
static int me, nchild, nthreads;
static uint64_t mine;
static int pipefd[2];
static uint64_t got[MAXP], final_seq[MAXP];
static int finals;

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;
	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ull;
}

static int pattern_ok(void)
{
	for (size_t i = 0; i < words; i++)
		if (mem[i] != word(me + 1, i))
			return 0;
	return 1;
}

/* One update of the shared total and this process's slot, checked. */
static void update(void)
{
	while (sem_wait(&sh->sem) < 0 && errno == EINTR)
		;
	uint64_t sum = 0;
	for (int i = 0; i <= nchild; i++)
		sum += sh->slot[i];
	zd_check(sum == sh->total, "pid %d: shared total %llu, slots sum to %llu", (int)getpid(),
		 (unsigned long long)sh->total, (unsigned long long)sum);
	zd_check(sh->slot[me] == mine, "pid %d: its shared slot is %llu, its own count %llu",
		 (int)getpid(), (unsigned long long)sh->slot[me], (unsigned long long)mine);
	sh->total++;
	sh->slot[me]++;
	mine++;
	sem_post(&sh->sem);
}

static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tcount[MAXT];
static volatile int stop_threads;

static void *counter_thread(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t shadow = 0;
	while (!stop_threads) {
		pthread_mutex_lock(&tlock);
		zd_check(tcount[t] == shadow, "pid %d thread %d: count %llu, its copy %llu",
			 (int)getpid(), t, (unsigned long long)tcount[t],
			 (unsigned long long)shadow);
		tcount[t]++;
		shadow++;
		pthread_mutex_unlock(&tlock);
		zd_sleep_ms(7);
	}
	return NULL;
}

static pthread_t threads[MAXT];

static void start_threads(void)
{
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&threads[t], NULL, counter_thread, (void *)(intptr_t)t)) {
			zd_fail("pid %d: cannot start thread %d", (int)getpid(), t);
			exit(1);
		}
}

static void stop_all_threads(void)
{
	stop_threads = 1;
	for (int t = 0; t < nthreads; t++)
		pthread_join(threads[t], NULL);
}

static void send_msg(uint32_t last)
{
	struct msg m = {.idx = me, .last = last, .seq = mine};
	if (write(pipefd[1], &m, sizeof(m)) != sizeof(m))
		zd_fail("child %d: pipe write: %s", me, strerror(errno));
}

static int child(void)
{
	close(pipefd[0]);
	start_threads();
	zd_check(pattern_ok(), "child %d: memory pattern changed", me);
	while (access(zd_verify_path, F_OK) < 0) {
		update();
		send_msg(0);
		if (mine % 25 == 0)
			zd_check(pattern_ok(), "child %d (pid %d): memory pattern changed", me,
				 (int)getpid());
		zd_sleep_ms(10);
	}
	stop_all_threads();
	send_msg(1);
	zd_check(pattern_ok(), "child %d (pid %d): memory pattern changed", me, (int)getpid());
	return zd_failed ? 1 : 0;
}

/* The parent's reader: each child's numbers come 1, 2, 3, ... */
static void *reader(void *arg)
{
	struct msg m;
	(void)arg;
	while (read(pipefd[0], &m, sizeof(m)) == sizeof(m)) {
		if (m.idx < 1 || m.idx > (uint32_t)nchild) {
			zd_fail("pipe: message from child %u", m.idx);
			continue;
		}
		if (m.last) {
			final_seq[m.idx] = m.seq;
			finals++;
			continue;
		}
		zd_check(m.seq == got[m.idx] + 1, "pipe: child %u sent %llu after %llu", m.idx,
			 (unsigned long long)m.seq, (unsigned long long)got[m.idx]);
		got[m.idx] = m.seq;
	}
	return NULL;
}

static unsigned long ticks;

static void tick(void)
{
	char line[64];
	update();
	if (++ticks % 3 || zd_failed)
		return;
	if (ticks % 12 == 0)
		zd_check(pattern_ok(), "the parent's memory pattern changed");
	snprintf(line, sizeof(line), "tick %lu", ticks / 3);
	zd_say(line);
}

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void fill(void)
{
	for (size_t i = 0; i < words; i++)
		mem[i] = word(me + 1, i);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	nchild = argc > 2 ? atoi(argv[2]) : 2;
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 2;
	nthreads = argc > 4 ? atoi(argv[4]) : 1;
	pid_t kids[MAXP];
	pthread_t rd;
	words = mib << 17;
	if (nchild < 0 || nchild >= MAXP || nthreads < 0 || nthreads > MAXT) {
		fprintf(stderr, "family: at most %d children and %d threads\n", MAXP - 1, MAXT);
		return 2;
	}
	mem = mmap(NULL, words * 8 + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	sh = map_shared(sizeof(*sh));
	if (mem == MAP_FAILED || !sh || sem_init(&sh->sem, 1, 1) < 0 || pipe(pipefd) < 0) {
		perror("family");
		return 2;
	}
	for (me = 1; me <= nchild; me++) {
		fill();
		if ((kids[me] = fork()) == 0)
			exit(child());
		if (kids[me] < 0) {
			perror("fork");
			return 2;
		}
	}
	me = 0;
	fill();
	close(pipefd[1]);
	if (pthread_create(&rd, NULL, reader, NULL)) {
		perror("pthread_create");
		return 2;
	}
	start_threads();
	zd_ready();
	zd_wait_tick(tick);
	stop_all_threads();
	for (int i = 1; i <= nchild; i++)
		zd_reap(kids[i], i);
	pthread_join(rd, NULL); /* every child closed its end: EOF */
	zd_check(finals == nchild, "%d of %d children sent their last number", finals, nchild);
	for (int i = 1; i <= nchild; i++)
		zd_check(final_seq[i] == got[i], "child %d counted %llu, the pipe carried %llu", i,
			 (unsigned long long)final_seq[i], (unsigned long long)got[i]);
	zd_check(pattern_ok(), "the parent's memory pattern changed");
	update(); /* the total against every slot, the children's last ones included */
	return zd_finish();
}
