/* forked: a program that must not notice forked checkpoints. It counts SIGCHLD,
 * keeps a memory pattern that a thread rewrites all the time (so the writer's
 * copy-on-write snapshot and the live memory differ), and prints a tick line
 * every 20 ms with a checksum of the pattern as it was at that tick.
 * At verify: no SIGCHLD was received and wait() has no child to report.
 *
 *   forked VERIFY_FILE
 */
#include "zdtm.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>

#define WORDS (16 << 20) / 8 /* 16 MiB */

static uint64_t *mem;
static atomic_ulong gen;
static volatile int chld;

static void on_chld(int sig)
{
	(void)sig;
	chld++;
}

/* mem[i] == f(gen, i) for every i, rewritten under a lock-free generation count */
static uint64_t f(uint64_t g, uint64_t i)
{
	return (g * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *writer(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		uint64_t g = atomic_load(&gen) + 1;
		for (uint64_t i = 0; i < WORDS; i++)
			mem[i] = f(g, i);
		atomic_store(&gen, g);
		pthread_mutex_unlock(&lock);
		zd_sleep_ms(5);
	}
	return NULL;
}

static int consistent(void)
{
	pthread_mutex_lock(&lock);
	uint64_t g = atomic_load(&gen);
	int ok = 1;
	for (uint64_t i = 0; i < WORDS && ok; i += 4099)
		ok = mem[i] == f(g, i);
	pthread_mutex_unlock(&lock);
	return ok;
}

static void tick(void)
{
	static unsigned long n;
	if (!consistent())
		zd_fail("memory pattern torn at tick %lu", n);
	printf("tick %lu\n", n++);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	pthread_t t;
	zd_init(argc, argv);
	signal(SIGCHLD, on_chld);
	mem = malloc(WORDS * 8);
	for (uint64_t i = 0; i < WORDS; i++)
		mem[i] = f(0, i);
	pthread_create(&t, NULL, writer, NULL);
	zd_ready();
	zd_wait_tick(tick);
	zd_check(consistent(), "memory pattern torn at verify");
	zd_check(chld == 0, "received SIGCHLD %d times", chld);
	int st;
	zd_check(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD,
		 "wait() reports a child the program never made");
	return zd_finish();
}
