/* threads: TLS, exact TIDs and PID, mutexes (held, recursive, PI, robust),
 * a condition variable, thread join and rseq across checkpoint/restart.
 *
 *   threads VERIFY_FILE
 */
#include "zdtm.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/rseq.h>
#include <sys/syscall.h>

#define NWORK 4

struct rec {
	pid_t tid;
	pthread_t self;
	void *tls_addr;
};

static __thread long tls_val = 17;
static __thread char tls_buf[64];

static atomic_int started;
static atomic_int go;
static pid_t saved_pid;
static struct rec work_rec[NWORK], holder_rec, pi_rec, cond_rec, robust_rec;

static pthread_mutex_t held_mutex;   /* error-checking, held by holder across the checkpoint */
static pthread_mutex_t pi_mutex;     /* priority inheritance: the kernel checks owner TIDs */
static pthread_mutex_t rec_mutex;    /* recursive, locked twice by main */
static pthread_mutex_t robust_mutex; /* robust: its owner exits holding it after restart */
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_waiting, cond_flag, cond_woke;
static atomic_int pi_release; /* main tells pi thread when to unlock */

static void record(struct rec *r, long tlsv)
{
	tls_val = tlsv;
	snprintf(tls_buf, sizeof(tls_buf), "tls of %ld", tlsv);
	if (tlsv != 42) { /* threads are named after their TLS value; main keeps its own */
		char name[16];
		snprintf(name, sizeof(name), "zdtm-%ld", tlsv);
		pthread_setname_np(pthread_self(), name);
	}
	r->tid = gettid();
	r->self = pthread_self();
	r->tls_addr = &tls_val;
}

/* Run in each thread after restart: identity, TLS, rseq. */
static void check_self(const char *who, const struct rec *r, long tlsv)
{
	char want[64];
	zd_check(gettid() == r->tid, "%s: gettid() %d, was %d", who, gettid(), r->tid);
	zd_check(syscall(SYS_gettid) == r->tid, "%s: SYS_gettid %ld, was %d", who,
		 syscall(SYS_gettid), r->tid);
	zd_check(pthread_equal(pthread_self(), r->self), "%s: pthread_self changed", who);
	zd_check(tls_val == tlsv, "%s: __thread value %ld, want %ld", who, tls_val, tlsv);
	zd_check((void *)&tls_val == r->tls_addr, "%s: TLS moved %p -> %p", who, r->tls_addr,
		 (void *)&tls_val);
	snprintf(want, sizeof(want), "tls of %ld", tlsv);
	zd_check(!strcmp(tls_buf, want), "%s: __thread buffer '%s', want '%s'", who, tls_buf, want);
	char name[16] = "";
	pthread_getname_np(pthread_self(), name, sizeof(name));
	snprintf(want, sizeof(want), tlsv == 42 ? "threads" : "zdtm-%ld", tlsv);
	zd_check(!strcmp(name, want), "%s: thread name (comm) '%s', want '%s'", who, name, want);

	/* rseq: glibc registered an area for this thread; after restart the
	 * kernel must know it again. Registering the same area again answers
	 * EBUSY when it is registered, 0 when it was not. */
	if (__rseq_size == 0) {
		zd_fail("%s: glibc did not register rseq (tunable off?)", who);
		return;
	}
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
	/* glibc registers sizeof(struct rseq) (32) bytes; Debian's __rseq_size is
	 * the feature size (20) */
	long rc = syscall(SYS_rseq, rs, sizeof(struct rseq), 0, RSEQ_SIG);
	if (rc == 0)
		zd_fail("%s: rseq area %p was not registered with the kernel", who, (void *)rs);
	else if (errno != EBUSY)
		zd_fail("%s: rseq re-registration probe: %s (registered with other arguments?)",
			who, strerror(errno));
	int matched = 0;
	for (int i = 0; i < 1000 && !matched; i++) {
		unsigned cpu = ~0u;
		syscall(SYS_getcpu, &cpu, NULL, NULL);
		matched = (unsigned)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED) == cpu;
	}
	zd_check(matched, "%s: rseq cpu_id %u never matches getcpu()", who, rs->cpu_id);
	int c = sched_getcpu();
	zd_check(c >= 0 && c < CPU_SETSIZE, "%s: sched_getcpu() = %d (%s)", who, c,
		 c < 0 ? strerror(errno) : "");
}

static void wait_go(void)
{
	while (!atomic_load(&go))
		zd_sleep_ms(5);
}

static void *worker(void *arg)
{
	long i = (long)arg;
	char who[32];
	record(&work_rec[i], 1000 + i);
	atomic_fetch_add(&started, 1);
	wait_go();
	snprintf(who, sizeof(who), "worker %ld", i);
	check_self(who, &work_rec[i], 1000 + i);
	/* main holds rec_mutex (recursive, twice): we must not get it */
	int rc = pthread_mutex_trylock(&rec_mutex);
	zd_check(rc == EBUSY, "%s: trylock of main's recursive mutex: %s", who,
		 rc ? strerror(rc) : "acquired it");
	if (rc == 0)
		pthread_mutex_unlock(&rec_mutex);
	return (void *)(i + 100);
}

static void *holder(void *arg)
{
	(void)arg;
	record(&holder_rec, 2000);
	int rc = pthread_mutex_lock(&held_mutex);
	if (rc)
		zd_fail("holder: lock: %s", strerror(rc));
	atomic_fetch_add(&started, 1);
	wait_go();
	check_self("holder", &holder_rec, 2000);
	rc = pthread_mutex_unlock(&held_mutex);
	zd_check(rc == 0, "holder: unlock of the mutex held across the checkpoint: %s",
		 strerror(rc));
	return NULL;
}

static void *pi_holder(void *arg)
{
	(void)arg;
	record(&pi_rec, 3000);
	int rc = pthread_mutex_lock(&pi_mutex);
	if (rc)
		zd_fail("pi: lock: %s", strerror(rc));
	atomic_fetch_add(&started, 1);
	wait_go();
	check_self("pi holder", &pi_rec, 3000);
	while (!atomic_load(&pi_release))
		zd_sleep_ms(1);
	zd_sleep_ms(100); /* main is blocked in the kernel on our PI futex by now */
	rc = pthread_mutex_unlock(&pi_mutex);
	zd_check(rc == 0, "pi holder: unlock: %s", strerror(rc));
	return NULL;
}

static void *cond_thread(void *arg)
{
	(void)arg;
	record(&cond_rec, 4000);
	pthread_mutex_lock(&cond_lock);
	cond_waiting = 1;
	atomic_fetch_add(&started, 1);
	while (!cond_flag)
		pthread_cond_wait(&cond, &cond_lock);
	cond_woke = 1;
	pthread_mutex_unlock(&cond_lock);
	check_self("cond waiter", &cond_rec, 4000);
	return NULL;
}

static void *robust_thread(void *arg)
{
	(void)arg;
	record(&robust_rec, 5000);
	int rc = pthread_mutex_lock(&robust_mutex);
	if (rc)
		zd_fail("robust: lock: %s", strerror(rc));
	atomic_fetch_add(&started, 1);
	wait_go();
	check_self("robust owner", &robust_rec, 5000);
	return NULL; /* exits holding robust_mutex: the kernel must mark it owner-dead */
}

static int timedjoin(pthread_t t, void **ret, const char *who)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	int rc = pthread_timedjoin_np(t, ret, &ts);
	if (rc)
		zd_fail("join %s: %s", who, strerror(rc));
	return rc;
}

static int task_exists(pid_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	return access(path, F_OK) == 0;
}

int main(int argc, char **argv)
{
	pthread_t work[NWORK], th_holder, th_pi, th_cond, th_robust;
	pthread_mutexattr_t a;
	struct rec main_rec;

	zd_init(argc, argv);
	saved_pid = getpid();
	record(&main_rec, 42);

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&held_mutex, &a);
	pthread_mutexattr_destroy(&a);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rec_mutex, &a);
	pthread_mutexattr_destroy(&a);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&pi_mutex, &a);
	pthread_mutexattr_destroy(&a);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust_mutex, &a);
	pthread_mutexattr_destroy(&a);

	if (pthread_mutex_lock(&rec_mutex) || pthread_mutex_lock(&rec_mutex))
		zd_fail("recursive mutex: lock twice failed");

	for (long i = 0; i < NWORK; i++)
		pthread_create(&work[i], NULL, worker, (void *)i);
	pthread_create(&th_holder, NULL, holder, NULL);
	pthread_create(&th_pi, NULL, pi_holder, NULL);
	pthread_create(&th_cond, NULL, cond_thread, NULL);
	pthread_create(&th_robust, NULL, robust_thread, NULL);
	while (atomic_load(&started) < NWORK + 4)
		zd_sleep_ms(1);
	/* cond_thread set cond_waiting under cond_lock; once we get the lock it waits */
	pthread_mutex_lock(&cond_lock);
	if (!cond_waiting)
		zd_fail("cond waiter not waiting");
	pthread_mutex_unlock(&cond_lock);

	/* self-test of the probes in the original run */
	check_self("main (before)", &main_rec, 42);
	zd_check(pthread_mutex_trylock(&held_mutex) == EBUSY, "held mutex not held before");

	zd_ready();
	zd_wait();

	/* identity of the process and its main thread */
	zd_check(getpid() == saved_pid, "getpid() %d, was %d", getpid(), saved_pid);
	zd_check(syscall(SYS_getpid) == saved_pid, "SYS_getpid %ld, was %d", syscall(SYS_getpid),
		 saved_pid);
	check_self("main", &main_rec, 42);
	const struct rec *all[] = {&work_rec[0], &work_rec[1], &work_rec[2], &work_rec[3],
				   &holder_rec,	 &pi_rec,      &cond_rec,    &robust_rec};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		zd_check(task_exists(all[i]->tid), "thread %d is not in /proc/self/task",
			 all[i]->tid);

	/* the error-checking mutex is still held by holder */
	int rc = pthread_mutex_trylock(&held_mutex);
	zd_check(rc == EBUSY, "held mutex: trylock after restart: %s",
		 rc ? strerror(rc) : "acquired it");
	if (rc == 0)
		pthread_mutex_unlock(&held_mutex);

	atomic_store(&go, 1);

	/* the PI mutex: we block in the kernel until pi_holder unlocks it */
	atomic_store(&pi_release, 1);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	rc = pthread_mutex_timedlock(&pi_mutex, &ts);
	zd_check(rc == 0, "PI mutex: timedlock after restart: %s", strerror(rc));
	if (rc == 0)
		zd_check(pthread_mutex_unlock(&pi_mutex) == 0, "PI mutex: unlock by main failed");

	/* condition variable signalled after restart */
	pthread_mutex_lock(&cond_lock);
	cond_flag = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&cond_lock);

	for (long i = 0; i < NWORK; i++) {
		void *ret = NULL;
		if (timedjoin(work[i], &ret, "worker") == 0)
			zd_check(ret == (void *)(i + 100), "worker %ld returned %p", i, ret);
	}
	timedjoin(th_holder, NULL, "holder");
	timedjoin(th_pi, NULL, "pi holder");
	if (timedjoin(th_cond, NULL, "cond waiter") == 0)
		zd_check(cond_woke, "cond waiter did not wake");

	/* holder released the mutex held across the checkpoint */
	rc = pthread_mutex_trylock(&held_mutex);
	zd_check(rc == 0, "held mutex: trylock after its owner unlocked: %s", strerror(rc));
	if (rc == 0)
		pthread_mutex_unlock(&held_mutex);

	/* recursive mutex: two unlocks succeed, a third is refused */
	zd_check(pthread_mutex_unlock(&rec_mutex) == 0, "recursive mutex: first unlock failed");
	zd_check(pthread_mutex_unlock(&rec_mutex) == 0, "recursive mutex: second unlock failed");
	zd_check(pthread_mutex_unlock(&rec_mutex) == EPERM,
		 "recursive mutex: third unlock did not fail with EPERM");

	/* robust mutex: its owner exited holding it; the kernel walks the
	 * thread's robust list at exit and marks it, so we get EOWNERDEAD */
	if (timedjoin(th_robust, NULL, "robust owner") == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 3;
		rc = pthread_mutex_timedlock(&robust_mutex, &ts);
		zd_check(rc == EOWNERDEAD,
			 "robust mutex after its owner died: %s (want EOWNERDEAD)",
			 rc ? strerror(rc) : "locked normally");
		if (rc == EOWNERDEAD) {
			pthread_mutex_consistent(&robust_mutex);
			pthread_mutex_unlock(&robust_mutex);
		}
	}
	return zd_finish();
}
