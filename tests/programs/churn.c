/* churn: load for checkpoints. One thread creates and joins threads as fast
 * as it can, another forks children that exit at once (each with its own
 * status) and reaps them, and a child process sends the parent real-time
 * signals numbered 1, 2, 3, ... (sigqueue) as fast as it can, in bursts of
 * OUTSTANDING, each taken before the next (a queue full to RLIMIT_SIGPENDING,
 * which every process of the user shares, would make the test depend on them).
 *
 *   churn VERIFY_FILE [THREADS_ON [FORKS_ON [SIGNALS_ON]]]   (each 1 or 0, default 1)
 *
 * The parent's main thread takes the signals: each must carry the number
 * after the last one (nothing lost, nothing twice, in order). It prints
 * "tick N" every 60 ms with what it counted. At verify the churn stops, the
 * sender says how many it sent and exits; the parent waits until it received
 * that many, checks that every thread it created was joined, that every
 * child it forked was reaped with the status it exited with, and that no
 * child is left, and prints PASS.
 */
#include "zdtm.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdint.h>
#include <sys/wait.h>

#define SIG (SIGRTMIN + 1)
#define OUTSTANDING 4096

static volatile sig_atomic_t last, bad_seq, bad_value;
static volatile uint64_t received;
static volatile uint64_t *shown; /* shared with the sender: received */
static volatile int stop;
static uint64_t threads_made, threads_joined, forks, reaped;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	int v = si->si_value.sival_int;
	if (si->si_code != SI_QUEUE)
		bad_value = 1;
	else if (v != last + 1 && !bad_seq)
		bad_seq = v;
	last = v;
	received++;
	*shown = received;
}

static void *nothing(void *arg)
{
	return arg;
}

static void *thread_churn(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_t t;
		if (pthread_create(&t, NULL, nothing, (void *)(uintptr_t)threads_made) != 0) {
			zd_fail("pthread_create: %s", strerror(errno));
			return NULL;
		}
		threads_made++;
		void *r;
		if (pthread_join(t, &r) == 0 && (uintptr_t)r == threads_made - 1)
			threads_joined++;
	}
	return NULL;
}

static void *fork_churn(void *arg)
{
	(void)arg;
	while (!stop) {
		int want = (int)(forks % 101);
		pid_t pid = fork();
		if (pid == 0)
			_exit(want);
		if (pid < 0) {
			zd_fail("fork: %s", strerror(errno));
			return NULL;
		}
		forks++;
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == want)
			reaped++;
		else
			zd_fail("child %d of %llu ended with status %#x, not exit %d", (int)pid,
				(unsigned long long)forks, st, want);
	}
	return NULL;
}

/* A full burst sent: wait until the parent took all of it, then leave it 1 ms
 * with nothing queued. A queue that never empties keeps the parent's main
 * thread in its handler (the kernel delivers the next signal at each
 * sigreturn) and it would never tick. */
static void pause_for_parent(int seq)
{
	while (*shown < (uint64_t)seq && access(zd_verify_path, F_OK) < 0)
		sched_yield();
	zd_sleep_ms(1);
}

/* The sender: numbers 1, 2, 3, ... until the verify file exists; then the
 * count down the pipe. */
static int sender(pid_t parent, int out)
{
	int seq = 0;
	while (access(zd_verify_path, F_OK) < 0) {
		union sigval v = {.sival_int = seq + 1};
		if ((uint64_t)seq - *shown >= OUTSTANDING)
			pause_for_parent(seq);
		else if (sigqueue(parent, SIG, v) == 0)
			seq++;
		else if (errno == EAGAIN)
			zd_sleep_ms(1); /* the queue is full: the parent catches up */
		else
			return 1;
	}
	return write(out, &seq, sizeof(seq)) == sizeof(seq) ? 0 : 1;
}

static unsigned long ticks;

static void tick(void)
{
	char line[128];
	if (++ticks % 3 || zd_failed)
		return;
	snprintf(line, sizeof(line), "tick %lu threads %llu forks %llu signals %llu", ticks / 3,
		 (unsigned long long)threads_made, (unsigned long long)forks,
		 (unsigned long long)received);
	zd_say(line);
}

static int flag(int argc, char **argv, int i)
{
	return argc > i ? atoi(argv[i]) : 1;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	int do_threads = flag(argc, argv, 2), do_forks = flag(argc, argv, 3);
	int do_signals = flag(argc, argv, 4);
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigset_t sig, old;
	int pfd[2];
	sigemptyset(&sig);
	sigaddset(&sig, SIG);
	shown = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shown == MAP_FAILED || sigaction(SIG, &sa, NULL) < 0 || pipe(pfd) < 0) {
		perror("churn");
		return 2;
	}
	pid_t parent = getpid(), snd = -1;
	if (do_signals && (snd = fork()) == 0) {
		close(pfd[0]);
		exit(sender(parent, pfd[1]));
	}
	close(pfd[1]);
	pthread_t tt, ft;
	pthread_sigmask(SIG_BLOCK, &sig, &old); /* the churners never take the signal */
	if ((do_threads && pthread_create(&tt, NULL, thread_churn, NULL)) ||
	    (do_forks && pthread_create(&ft, NULL, fork_churn, NULL))) {
		perror("pthread_create");
		return 2;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	char who[64];
	snprintf(who, sizeof(who), "sender %d", (int)snd);
	zd_say(who);
	zd_ready();
	zd_wait_tick(tick);
	stop = 1;
	if (do_threads)
		pthread_join(tt, NULL);
	if (do_forks)
		pthread_join(ft, NULL);
	int sent = 0;
	if (do_signals) {
		zd_check(read(pfd[0], &sent, sizeof(sent)) == sizeof(sent),
			 "no count from the sender");
		zd_reap(snd, 0);
		for (int i = 0; i < 500 && received < (uint64_t)sent; i++)
			zd_sleep_ms(10); /* the last ones are still queued */
	}
	zd_check(received == (uint64_t)sent, "received %llu signals, %d sent",
		 (unsigned long long)received, sent);
	zd_check(!bad_seq, "signal number %d came out of order", (int)bad_seq);
	zd_check(!bad_value, "a signal did not come from sigqueue");
	zd_check(threads_joined == threads_made, "%llu threads made, %llu joined",
		 (unsigned long long)threads_made, (unsigned long long)threads_joined);
	zd_check(reaped == forks, "%llu children forked, %llu reaped as they exited",
		 (unsigned long long)forks, (unsigned long long)reaped);
	zd_check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "a child is left");
	char line[128];
	snprintf(line, sizeof(line), "threads %llu forks %llu signals %llu",
		 (unsigned long long)threads_made, (unsigned long long)forks,
		 (unsigned long long)received);
	zd_say(line);
	return zd_finish();
}
