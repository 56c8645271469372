/* signals: handlers and their flags, per-thread masks, sigaltstack, pending
 * signals (thread- and process-directed, standard and queued real-time), an
 * interval timer and a POSIX timer, across checkpoint/restart.
 *
 *   signals VERIFY_FILE
 *
 * Threads:  main     blocks SIGUSR2, SIGINT, SIGRTMIN+2; SIGUSR2 (thread) and
 *                    SIGRTMIN+2 twice (process, queued values) pending
 *           blocker  blocks every signal; SIGUSR1 pending for it
 *           alt      blocks SIGRTMIN+2, SIGWINCH; has a sigaltstack (SIGURG on it)
 */
#include "zdtm.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define NSIG_ALL 65

struct act {
	void *handler;
	int flags;
	sigset_t mask;
	int ok; /* sigaction() accepted the signal */
};

static struct act before[NSIG_ALL];
static atomic_int go, blocker_done, alt_done;
static pid_t blocker_tid, alt_tid;
static pthread_t main_thread;

/* what the handlers saw */
static volatile sig_atomic_t usr1_count, usr2_count, term_count, urg_count;
static volatile pid_t usr1_tid;
static volatile int rt_vals[8], rt_codes[8], rt_tids[8];
static volatile sig_atomic_t rt_count;
static volatile sig_atomic_t alrm_count, timer_count, timer_bad;
static volatile uintptr_t urg_addr;
static int timer_magic;
static timer_t timer;
static char *alt_mem;
#define ALT_SIZE (64 * 1024)

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	usr1_count++;
	usr1_tid = gettid();
}
static void on_usr2(int sig)
{
	(void)sig;
	usr2_count++;
}
static void on_term(int sig)
{
	(void)sig;
	term_count++;
}
static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	int n = rt_count;
	if (n < 8) {
		rt_vals[n] = si->si_value.sival_int;
		rt_codes[n] = si->si_code;
		rt_tids[n] = gettid();
	}
	rt_count = n + 1;
}
static void on_alrm(int sig)
{
	(void)sig;
	alrm_count++;
}
static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_TIMER || si->si_value.sival_ptr != &timer_magic)
		timer_bad = 1;
	timer_count++;
}
static void on_urg(int sig)
{
	volatile char here;
	(void)sig;
	urg_addr = (uintptr_t)&here;
	urg_count++;
}

static void install(int sig, void (*h)(int), void (*sa)(int, siginfo_t *, void *), int flags,
		    int mask_sig)
{
	struct sigaction act;
	memset(&act, 0, sizeof(act));
	if (sa)
		act.sa_sigaction = sa;
	else
		act.sa_handler = h;
	act.sa_flags = flags | (sa ? SA_SIGINFO : 0);
	sigemptyset(&act.sa_mask);
	if (mask_sig)
		sigaddset(&act.sa_mask, mask_sig);
	if (sigaction(sig, &act, NULL) < 0)
		zd_fail("sigaction(%d): %s", sig, strerror(errno));
}

static void query_all(struct act *a)
{
	for (int s = 1; s < NSIG_ALL; s++) {
		struct sigaction old;
		a[s].ok = sigaction(s, NULL, &old) == 0;
		if (!a[s].ok)
			continue;
		a[s].handler = (void *)old.sa_handler;
		a[s].flags = old.sa_flags;
		a[s].mask = old.sa_mask;
	}
}

static int same_set(const sigset_t *a, const sigset_t *b, int *which)
{
	for (int s = 1; s < NSIG_ALL; s++)
		if (sigismember(a, s) != sigismember(b, s)) {
			*which = s;
			return 0;
		}
	return 1;
}

static void check_mask(const char *who, const sigset_t *want)
{
	sigset_t now;
	int s;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	if (!same_set(&now, want, &s))
		zd_fail("%s: signal mask differs at signal %d (%s now %s)", who, s, strsignal(s),
			sigismember(&now, s) ? "blocked" : "unblocked");
}

static void wait_go(void)
{
	while (!atomic_load(&go))
		zd_sleep_ms(5);
}

static void *blocker(void *arg)
{
	sigset_t all, saved;
	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &saved);
	blocker_tid = gettid();
	wait_go();
	check_mask("blocker", &saved);
	sigset_t pend;
	sigpending(&pend);
	zd_check(sigismember(&pend, SIGUSR1), "blocker: its pending SIGUSR1 is lost");
	zd_check(usr1_count == 0, "blocker: SIGUSR1 handler ran while blocked");
	sigset_t u;
	sigemptyset(&u);
	sigaddset(&u, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &u, NULL); /* delivered here, before this returns */
	zd_check(usr1_count == 1, "blocker: pending SIGUSR1 delivered %d times after unblocking",
		 (int)usr1_count);
	zd_check(usr1_tid == blocker_tid, "blocker: SIGUSR1 ran in thread %d, not %d", usr1_tid,
		 blocker_tid);
	atomic_store(&blocker_done, 1);
	return NULL;
}

static void *alt(void *arg)
{
	sigset_t m, saved;
	stack_t ss = {.ss_sp = alt_mem, .ss_size = ALT_SIZE, .ss_flags = 0}, now;
	(void)arg;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	sigaddset(&m, SIGWINCH);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &saved);
	if (sigaltstack(&ss, NULL) < 0)
		zd_fail("sigaltstack: %s", strerror(errno));
	alt_tid = gettid();
	/* self-test: SIGURG runs on the alternate stack */
	pthread_kill(pthread_self(), SIGURG);
	if (urg_count != 1 || urg_addr < (uintptr_t)alt_mem ||
	    urg_addr >= (uintptr_t)alt_mem + ALT_SIZE)
		zd_fail("alt (before): SIGURG not run on the alternate stack");
	wait_go();
	check_mask("alt", &saved);
	sigaltstack(NULL, &now);
	zd_check(now.ss_sp == alt_mem && now.ss_size == ALT_SIZE && now.ss_flags == 0,
		 "alt: sigaltstack is sp %p size %zu flags %#x, want %p %d 0", now.ss_sp,
		 now.ss_size, now.ss_flags, (void *)alt_mem, ALT_SIZE);
	urg_addr = 0;
	pthread_kill(pthread_self(), SIGURG);
	zd_check(urg_count == 2, "alt: SIGURG handler ran %d times", (int)urg_count);
	zd_check(urg_addr >= (uintptr_t)alt_mem && urg_addr < (uintptr_t)alt_mem + ALT_SIZE,
		 "alt: SIGURG handler ran at %#lx, not on the alternate stack %p",
		 (unsigned long)urg_addr, (void *)alt_mem);
	atomic_store(&alt_done, 1);
	return NULL;
}

static void *interrupter(void *arg)
{
	int *fds = arg;
	zd_sleep_ms(50);
	pthread_kill(main_thread, fds[2]);
	zd_sleep_ms(150);
	if (write(fds[1], "x", 1) != 1)
		zd_fail("interrupter: write: %s", strerror(errno));
	return NULL;
}

/* Behaviour of SA_RESTART: a blocking read interrupted by sig restarts (1) or fails
 * with EINTR (0). */
static int read_restarts(int sig)
{
	int fds[3];
	pthread_t t;
	char c;
	if (pipe(fds) < 0)
		return -1;
	fds[2] = sig;
	pthread_create(&t, NULL, interrupter, fds);
	ssize_t n = read(fds[0], &c, 1);
	int e = errno;
	pthread_join(t, NULL);
	close(fds[0]);
	close(fds[1]);
	return n == 1 ? 1 : (n < 0 && e == EINTR ? 0 : -1);
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	pthread_t tb, ta;
	sigset_t m, main_saved;
	zd_init(argc, argv);
	main_thread = pthread_self();
	alt_mem = malloc(ALT_SIZE);

	install(SIGUSR1, NULL, on_usr1, SA_RESTART, SIGINT);
	install(SIGUSR2, on_usr2, NULL, 0, 0); /* no SA_RESTART: interrupts read */
	install(SIGTERM, on_term, NULL, SA_RESETHAND | SA_RESTART, 0);
	install(SIGRTMIN + 2, NULL, on_rt, SA_RESTART, SIGUSR1);
	install(SIGALRM, on_alrm, NULL, SA_RESTART, 0);
	install(SIGRTMIN + 5, NULL, on_timer, SA_RESTART, 0);
	install(SIGURG, on_urg, NULL, SA_ONSTACK | SA_RESTART | SA_NODEFER, 0);
	signal(SIGHUP, SIG_IGN);

	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGINT);
	sigaddset(&m, SIGRTMIN + 2);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &main_saved);
	pthread_create(&tb, NULL, blocker, NULL);
	pthread_create(&ta, NULL, alt, NULL);
	while (!blocker_tid || !alt_tid || urg_count < 1)
		zd_sleep_ms(1);

	/* pending: SIGUSR1 for the blocker thread, SIGUSR2 for main, and two
	 * queued SIGRTMIN+2 for the process (every thread blocks it) */
	pthread_kill(tb, SIGUSR1);
	raise(SIGUSR2);
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGRTMIN + 2, v);
	v.sival_int = 4343;
	sigqueue(getpid(), SIGRTMIN + 2, v);

	/* interval timer: SIGALRM every 30 ms */
	struct itimerval it = {{0, 30000}, {0, 30000}};
	setitimer(ITIMER_REAL, &it, NULL);
	/* POSIX timer: SIGRTMIN+5 every 25 ms, with a value */
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 5;
	sev.sigev_value.sival_ptr = &timer_magic;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
		zd_fail("timer_create: %s", strerror(errno));
	struct itimerspec its = {{0, 25000000}, {0, 25000000}};
	timer_settime(timer, 0, &its, NULL);
	timer_t saved_timer = timer;

	query_all(before);
	while (alrm_count < 2 || timer_count < 2)
		zd_sleep_ms(5);
	zd_ready();
	zd_wait();

	/* handlers, flags and masks of every signal, as the program sees them */
	struct act after[NSIG_ALL];
	query_all(after);
	for (int s = 1; s < NSIG_ALL; s++) {
		int w;
		if (before[s].ok != after[s].ok) {
			zd_fail("sigaction(%d) %s after restart", s,
				after[s].ok ? "now accepted" : "now refused");
			continue;
		}
		if (!before[s].ok)
			continue;
		zd_check(before[s].handler == after[s].handler, "signal %d: handler %p, was %p", s,
			 after[s].handler, before[s].handler);
		zd_check(before[s].flags == after[s].flags, "signal %d: sa_flags %#x, was %#x", s,
			 after[s].flags, before[s].flags);
		if (!same_set(&before[s].mask, &after[s].mask, &w))
			zd_fail("signal %d: sa_mask differs at signal %d", s, w);
	}
	check_mask("main", &main_saved);

	/* pending signals of main and of the process */
	sigset_t pend;
	sigpending(&pend);
	zd_check(sigismember(&pend, SIGUSR2), "main: pending SIGUSR2 is lost");
	zd_check(sigismember(&pend, SIGRTMIN + 2), "pending SIGRTMIN+2 is lost");
	zd_check(usr2_count == 0 && rt_count == 0,
		 "blocked signals delivered while blocked (SIGUSR2 %d times, SIGRTMIN+2 %d times: "
		 "values %d, %d, codes %d, %d, in threads %d, %d; main %d blocker %d alt %d)",
		 (int)usr2_count, (int)rt_count, rt_vals[0], rt_vals[1], rt_codes[0], rt_codes[1],
		 rt_tids[0], rt_tids[1], (int)getpid(), (int)blocker_tid, (int)alt_tid);
	sigset_t u;
	sigemptyset(&u);
	sigaddset(&u, SIGUSR2);
	sigaddset(&u, SIGRTMIN + 2);
	pthread_sigmask(SIG_UNBLOCK, &u, NULL);
	zd_check(usr2_count == 1, "SIGUSR2 delivered %d times after unblocking", (int)usr2_count);
	zd_check(rt_count == 2, "queued SIGRTMIN+2 delivered %d times, want 2", (int)rt_count);
	if (rt_count == 2) {
		zd_check(rt_vals[0] == 4242 && rt_vals[1] == 4343,
			 "queued SIGRTMIN+2 values %d, %d; want 4242, 4343", rt_vals[0],
			 rt_vals[1]);
		zd_check(rt_codes[0] == SI_QUEUE && rt_codes[1] == SI_QUEUE,
			 "queued SIGRTMIN+2 si_code %d, %d; want SI_QUEUE", rt_codes[0],
			 rt_codes[1]);
	}

	atomic_store(&go, 1);
	while (!atomic_load(&blocker_done) || !atomic_load(&alt_done))
		zd_sleep_ms(5);

	/* flags, by behaviour: SA_RESTART, SA_RESETHAND. The periodic timers are held
	 * off meanwhile: a SIGALRM (SA_RESTART) taken just before SIGUSR2 would restart
	 * the read that SIGUSR2 is meant to interrupt. */
	sigset_t timers;
	sigemptyset(&timers);
	sigaddset(&timers, SIGALRM);
	sigaddset(&timers, SIGRTMIN + 5);
	pthread_sigmask(SIG_BLOCK, &timers, NULL);
	zd_check(read_restarts(SIGUSR1) == 1,
		 "read() interrupted by SIGUSR1 (SA_RESTART) did not restart");
	zd_check(read_restarts(SIGUSR2) == 0,
		 "read() interrupted by SIGUSR2 (no SA_RESTART) did not fail with EINTR");
	pthread_sigmask(SIG_UNBLOCK, &timers, NULL);
	raise(SIGTERM);
	struct sigaction cur;
	sigaction(SIGTERM, NULL, &cur);
	zd_check(term_count == 1 && cur.sa_handler == SIG_DFL,
		 "SA_RESETHAND: SIGTERM handler ran %d times and is %s after", (int)term_count,
		 cur.sa_handler == SIG_DFL ? "SIG_DFL" : "still set");
	stack_t ms;
	sigaltstack(NULL, &ms);
	zd_check(ms.ss_flags & SS_DISABLE, "main thread has an alternate stack now");

	/* the interval timer still fires, with its interval */
	struct itimerval iv;
	getitimer(ITIMER_REAL, &iv);
	zd_check(iv.it_interval.tv_sec == 0 && iv.it_interval.tv_usec == 30000,
		 "ITIMER_REAL interval %ld.%06ld, want 0.030000", (long)iv.it_interval.tv_sec,
		 (long)iv.it_interval.tv_usec);
	zd_check(iv.it_value.tv_sec != 0 || iv.it_value.tv_usec != 0, "ITIMER_REAL is disarmed");
	/* the POSIX timer: same id, same interval, still firing with its value */
	zd_check(timer == saved_timer, "timer_t changed");
	struct itimerspec tn;
	if (timer_gettime(timer, &tn) < 0)
		zd_fail("timer_gettime after restart: %s", strerror(errno));
	else {
		zd_check(ts_ns(tn.it_interval) == 25000000,
			 "POSIX timer interval %lld ns, want 25 ms",
			 (long long)ts_ns(tn.it_interval));
		zd_check(ts_ns(tn.it_value) > 0, "POSIX timer is disarmed");
	}
	int a0 = alrm_count, t0 = timer_count;
	zd_sleep_ms(400);
	zd_check(alrm_count - a0 >= 5, "SIGALRM fired %d times in 400 ms (interval 30 ms)",
		 alrm_count - a0);
	zd_check(timer_count - t0 >= 5, "POSIX timer fired %d times in 400 ms (interval 25 ms)",
		 timer_count - t0);
	zd_check(!timer_bad, "POSIX timer signal with wrong si_code or si_value");
	pthread_join(tb, NULL);
	pthread_join(ta, NULL);
	return zd_finish();
}
