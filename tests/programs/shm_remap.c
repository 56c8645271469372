/* shm_remap: shared anonymous memory that a child maps whole while its parent
 * maps the whole of it only now and then: a thread of the parent maps it again
 * from a one-page mapping (mremap with old size 0) and unmaps it, as fast as
 * it can. Which of the two stores the pages depends on what the parent maps,
 * and must be decided on what it mapped at the stop.
 *
 *   shm_remap VERIFY_FILE
 *
 * The child checks the pattern of pages 1.. every 20 ms and counts the
 * mismatches in the first word of page 0; the parent reports them and checks
 * the pattern itself at verify.
 */
#include "zdtm.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGES 16
#define LEN (PAGES * 4096)

static volatile uint64_t *anchor; /* the parent's one page of the region */
static volatile int stop;

static uint64_t pattern(size_t i)
{
	return (i + 1) * 0x9e3779b97f4a7c15ull;
}

static size_t bad_words(const volatile uint64_t *r)
{
	size_t bad = 0;
	for (size_t i = 512; i < LEN / 8; i++)
		bad += r[i] != pattern(i);
	return bad;
}

static void *remapper(void *arg)
{
	(void)arg;
	while (!stop) {
		void *q = mremap((void *)anchor, 0, LEN, MREMAP_MAYMOVE);
		if (q != MAP_FAILED)
			munmap(q, LEN);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	volatile uint64_t *r =
	    mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < LEN / 8; i++)
		r[i] = i < 512 ? 0 : pattern(i);
	pid_t child = fork();
	if (child == 0)
		for (;;) {
			if (bad_words(r))
				r[0]++;
			zd_sleep_ms(20);
		}
	anchor = r;
	munmap((void *)(r + 512), LEN - 4096);
	pthread_t t;
	if (child < 0 || pthread_create(&t, NULL, remapper, NULL))
		return printf("cannot start: %s\n", strerror(errno)), 2;
	zd_ready();
	zd_wait();
	stop = 1;
	pthread_join(t, NULL);
	volatile uint64_t *whole = mremap((void *)anchor, 0, LEN, MREMAP_MAYMOVE);
	zd_check(whole != MAP_FAILED, "mremap: %s", strerror(errno));
	zd_check(whole == MAP_FAILED || !bad_words(whole), "%zu words of the region differ",
		 whole == MAP_FAILED ? 0 : bad_words(whole));
	zd_check(!anchor[0], "the child found the pattern changed %llu times",
		 (unsigned long long)anchor[0]);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return zd_finish();
}
