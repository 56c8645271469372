/* mem_stack: stacks across checkpoint/restart.
 *
 *   mem_stack VERIFY_FILE
 *
 * A thread's stack keeps 96 KiB of data and still takes a deep call (~2 MiB
 * of its 8 MiB); the main stack takes a recursion deeper after the restart
 * (~6 MiB of frames) than before: it grows down as it did.
 */
#include "memtest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
	volatile uint8_t frame[1024];
	for (unsigned i = 0; i < sizeof(frame); i += 64)
		frame[i] = (uint8_t)(depth + i);
	unsigned r = depth ? recurse(depth - 1) : 0;
	for (unsigned i = 0; i < sizeof(frame); i += 64)
		r += frame[i] == (uint8_t)(depth + i);
	return r;
}

static atomic_int stack_go, stack_ready;
static volatile long stack_result = -2;

static void *stack_thread(void *arg)
{
	uint8_t local[96 * 1024];
	(void)arg;
	fill(local, sizeof(local), 77);
	__asm__ volatile("" ::"r"(local) : "memory");
	atomic_store(&stack_ready, 1);
	while (!atomic_load(&stack_go))
		zd_sleep_ms(5);
	__asm__ volatile("" ::"r"(local) : "memory");
	stack_result = check(local, sizeof(local), 77);
	unsigned r = recurse(2000); /* ~2 MiB of an 8 MiB thread stack */
	if (r != 2001 * 16)
		stack_result = -3;
	return NULL;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	pthread_t st;
	pthread_create(&st, NULL, stack_thread, NULL);
	unsigned r = recurse(512);
	zd_check(r == 513 * 16, "recursion before: %u", r);
	while (!atomic_load(&stack_ready))
		zd_sleep_ms(1);

	zd_ready();
	zd_wait();

	atomic_store(&stack_go, 1);
	pthread_join(st, NULL);
	zd_check(stack_result == -1, "thread stack: %s (%ld)",
		 stack_result == -3 ? "deep call failed" : "contents differ at byte", stack_result);
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	unsigned depth = 6000; /* ~6 MiB of frames */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 8 * MiB)
		depth = (rl.rlim_cur - 2 * MiB) / 1100;
	r = recurse(depth);
	zd_check(r == (depth + 1) * 16, "deep recursion after restart: %u", r);
	return zd_finish();
}
