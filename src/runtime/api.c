/* The program's side of its checkpoints (stasis.h) beyond stasis_checkpoint():
 * critical sections that a checkpoint waits for, the generation of the last
 * checkpoint, the checkpoint directory, the number of restarts.
 *
 * A critical section (stasis_disable_checkpoint .. stasis_enable_checkpoint)
 * is counted in rt.crit. A checkpoint closes rt.crit_gate, then waits, at most
 * RT_SUSPEND_TIMEOUT seconds, for the count to fall to 0 before it stops the
 * threads; a thread that opens a section meanwhile waits at the gate until the
 * threads are released (rt_release_all opens it), unless it is already in one:
 * sections nest, per thread. */
#include "runtime/api.h"
#include "runtime/libc.h"
#include "runtime/quiesce.h"
#include "runtime/state.h"

#include <errno.h>
#include <limits.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

static __thread int depth; /* this thread's open sections */

static void leave(void)
{
	if (__atomic_sub_fetch(&rt.crit, 1, __ATOMIC_ACQ_REL) == 0)
		rt_futex_wake(&rt.crit);
}

EXPORT int stasis_rt_disable(void)
{
	if (!rt.enabled)
		return 0;
	if (depth++ > 0) {
		__atomic_add_fetch(&rt.crit, 1, __ATOMIC_ACQ_REL);
		return 1;
	}
	for (;;) {
		int g;
		while ((g = __atomic_load_n(&rt.crit_gate, __ATOMIC_ACQUIRE)) != 0)
			rt_futex_wait(&rt.crit_gate, g);
		__atomic_add_fetch(&rt.crit, 1, __ATOMIC_ACQ_REL);
		if (!__atomic_load_n(&rt.crit_gate, __ATOMIC_ACQUIRE))
			return 1;
		leave(); /* a checkpoint closed the gate meanwhile: it goes first */
	}
}

EXPORT int stasis_rt_enable(void)
{
	if (!rt.enabled)
		return 0;
	if (depth == 0) {
		errno = EINVAL;
		return -1;
	}
	depth--;
	leave();
	return 1;
}

int rt_crit_close(void)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	__atomic_store_n(&rt.crit_gate, 1, __ATOMIC_RELEASE);
	for (int n; (n = __atomic_load_n(&rt.crit, __ATOMIC_ACQUIRE)) != 0;) {
		struct timespec ts = {0, 100 * 1000000};
		syscall(SYS_futex, &rt.crit, FUTEX_WAIT_PRIVATE, n, &ts, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long ms =
		    (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= RT_SUSPEND_TIMEOUT * 1000LL) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

/* In a forked child: the sections of the forking thread are its only ones */
void rt_crit_forked(void)
{
	rt.crit = depth;
	rt.crit_gate = 0;
}

void rt_crit_open(void)
{
	__atomic_store_n(&rt.crit_gate, 0, __ATOMIC_RELEASE);
	rt_futex_wake(&rt.crit_gate);
}

EXPORT unsigned stasis_rt_generation(void)
{
	return rt.enabled ? rt.committed_gen : 0;
}

EXPORT const char *stasis_rt_ckpt_dir(void)
{
	return rt.enabled && rt.ckpt_dir[0] ? rt.ckpt_dir : NULL;
}

EXPORT unsigned stasis_rt_restarts(void)
{
	return rt.enabled ? rt.restarts : 0;
}
