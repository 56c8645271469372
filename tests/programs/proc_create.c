/* proc_create: a child made one way (METHOD) that runs across checkpoints.
 *
 *   proc_create VERIFY_FILE METHOD
 *
 * Methods whose child lives on write "1\n", "2\n", ... into a pipe to the
 * parent (the child's stdout when it is a program of its own); the parent reads
 * the pipe every tick and checks that no number is lost or repeated:
 *   fork_mt      fork() from a thread of a process with four running threads
 *   vfork_exec   vfork(), then exec of this program as a worker
 *   clone_glibc  glibc clone() with a stack of its own
 *   clone_raw    syscall(SYS_clone) without a new stack (like fork)
 *   clone3_raw   syscall(SYS_clone3) without a new stack
 *   spawn        posix_spawn() with file actions
 *   popen_r      popen(cmd, "r"): the parent reads the worker's output
 *   clone_vm     glibc clone(CLONE_VM): a process sharing its parent's memory,
 *                which cannot be checkpointed (the checkpoint must fail)
 * Methods that end children all the time, checked one by one:
 *   vfork_exit   vfork(); the child _exit()s with a code the parent checks
 *   fork_exit    fork(); the child exits at once and is reaped
 * And:
 *   popen_w      popen(cmd, "w"): the parent writes numbers, the worker checks
 *                them and exits 0 only if it got them all, in order
 *   system       system(cmd) runs a worker that waits for VERIFY_FILE and
 *                exits 7; system() must return that status
 * At verify the parent checks that the sequence went on after every restart,
 * ends the child and checks the wait status.
 *
 * Worker modes (the exec'd programs): proc_create VERIFY_FILE worker-pipe |
 * worker-read | worker-wait7
 */
#include "zdtm.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

static const char *self;
static const char *method;
static int rfd = -1;	/* the parent's end of the child's pipe */
static FILE *wpipe;	/* popen_w */
static pid_t child;	/* the long-lived child, if any */
static long expect = 1; /* next number from the pipe */
static long churned;	/* children ended and checked (vfork_exit, fork_exit) */
static long sent;	/* numbers written (popen_w) */
static char linebuf[256];
static size_t linelen;

/* ---- children -------------------------------------------------------- */

__attribute__((noreturn)) static void count_to(int fd)
{
	for (long n = 1;; n++) {
		char b[32];
		int len = snprintf(b, sizeof(b), "%ld\n", n);
		if (write(fd, b, len) != len)
			_exit(3);
		zd_sleep_ms(5);
	}
}

static int worker_read(void)
{
	long want = 1, n;
	while (scanf("%ld", &n) == 1) {
		if (n != want)
			return fprintf(stderr, "worker-read: got %ld, want %ld\n", n, want), 1;
		want++;
	}
	return want > 1 ? 0 : 1;
}

static int worker(const char *mode)
{
	if (!strcmp(mode, "worker-pipe"))
		count_to(1);
	if (!strcmp(mode, "worker-read"))
		return worker_read();
	zd_wait(); /* worker-wait7 */
	return 7;
}

static int clone_child(void *arg)
{
	count_to((int)(intptr_t)arg);
}

/* ---- making the child ---------------------------------------------------- */

static int make_pipe(int fds[2])
{
	if (pipe(fds) < 0)
		return perror("pipe"), -1;
	rfd = fds[0];
	fcntl(rfd, F_SETFL, O_NONBLOCK);
	return 0;
}

static void *spinner(void *arg)
{
	volatile long *n = arg;
	for (;;)
		(*n)++;
	return NULL;
}

static long spins[3];

static void *forker(void *arg)
{
	int *w = arg;
	pid_t pid = fork();
	if (pid == 0)
		count_to(*w);
	child = pid;
	return NULL;
}

static int start_fork_mt(int w)
{
	pthread_t t;
	for (int i = 0; i < 3; i++)
		pthread_create(&t, NULL, spinner, &spins[i]);
	pthread_create(&t, NULL, forker, &w);
	pthread_join(t, NULL);
	return child > 0 ? 0 : -1;
}

static int start_vfork_exec(int w)
{
	pid_t pid = vfork();
	if (pid == 0) {
		dup2(w, 1);
		execl(self, self, zd_verify_path, "worker-pipe", (char *)NULL);
		_exit(127);
	}
	child = pid;
	return pid > 0 ? 0 : -1;
}

static int start_clone_glibc(int w, int flags)
{
	size_t size = 256 * 1024;
	char *stack = malloc(size);
	child = clone(clone_child, stack + size, flags | SIGCHLD, (void *)(intptr_t)w);
	return child > 0 ? 0 : -1;
}

static int start_clone_raw(int w, int v3)
{
	struct clone_args a = {.exit_signal = SIGCHLD};
	long pid = v3 ? syscall(SYS_clone3, &a, sizeof(a))
		      : syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0)
		count_to(w);
	child = pid;
	return pid > 0 ? 0 : -1;
}

static int start_spawn(int w)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {(char *)self, (char *)zd_verify_path, "worker-pipe", NULL};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, w, 1);
	posix_spawn_file_actions_addclose(&fa, rfd);
	int rc = posix_spawn(&child, self, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc ? -1 : 0;
}

static int start_popen(const char *mode)
{
	char cmd[PATH_MAX * 2 + 32];
	snprintf(cmd, sizeof(cmd), "exec '%s' '%s' %s", self, zd_verify_path,
		 *mode == 'r' ? "worker-pipe" : "worker-read");
	FILE *f = popen(cmd, mode);
	if (!f)
		return perror("popen"), -1;
	if (*mode == 'w') {
		wpipe = f;
		return 0;
	}
	rfd = fileno(f);
	fcntl(rfd, F_SETFL, O_NONBLOCK);
	wpipe = f; /* closed with pclose at verify */
	return 0;
}

static int start_piped(void)
{
	int fds[2], rc;
	if (make_pipe(fds) < 0)
		return -1;
	if (!strcmp(method, "fork_mt"))
		rc = start_fork_mt(fds[1]);
	else if (!strcmp(method, "vfork_exec"))
		rc = start_vfork_exec(fds[1]);
	else if (!strcmp(method, "clone_glibc"))
		rc = start_clone_glibc(fds[1], 0);
	else if (!strcmp(method, "clone_vm"))
		rc = start_clone_glibc(fds[1], CLONE_VM);
	else if (!strcmp(method, "clone_raw") || !strcmp(method, "clone3_raw"))
		rc = start_clone_raw(fds[1], method[5] == '3');
	else
		rc = start_spawn(fds[1]);
	close(fds[1]);
	return rc;
}

/* ---- checks every tick ----------------------------------------------------- */

static void check_line(const char *s)
{
	long n = atol(s);
	zd_check(n == expect, "%s: got %ld from the child, want %ld", method, n, expect);
	expect = n + 1;
}

static void drain_pipe(void)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(rfd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (linelen < sizeof(linebuf) - 1)
					linebuf[linelen++] = buf[i];
				continue;
			}
			linebuf[linelen] = 0;
			check_line(linebuf);
			linelen = 0;
		}
}

/* vfork_exit / fork_exit: a few children per tick, each checked */
static void churn(void)
{
	for (int i = 0; i < 3; i++) {
		int code = 1 + churned % 100, st;
		pid_t pid = method[0] == 'v' ? vfork() : fork();
		if (pid == 0)
			_exit(code);
		zd_check(pid > 0, "%s: %s", method, strerror(errno));
		if (pid <= 0)
			return;
		zd_check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == code,
			 "%s: child %d ended with status %#x, want exit %d", method, pid, st, code);
		churned++;
	}
}

static void tick(void)
{
	if (rfd >= 0)
		drain_pipe();
	else if (wpipe && fprintf(wpipe, "%ld\n", ++sent) > 0)
		fflush(wpipe);
	else if (!strcmp(method, "vfork_exit") || !strcmp(method, "fork_exit"))
		churn();
}

/* ---- verify ---------------------------------------------------------------- */

static void verify_child(void)
{
	int st;
	kill(child, SIGTERM);
	zd_check(waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
		 "%s: child %d: wait status %#x, want killed by SIGTERM", method, child, st);
}

static void verify(long expect0, long churned0)
{
	if (rfd >= 0) {
		zd_sleep_ms(200);
		drain_pipe();
		zd_check(expect > expect0 + 10, "%s: the child wrote %ld numbers since ready",
			 method, expect - expect0);
	}
	if (child > 0)
		verify_child();
	else if (wpipe && rfd >= 0) { /* popen_r: the worker dies writing to a closed pipe */
		int st = pclose(wpipe);
		zd_check(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
			 "%s: pclose gave %#x, want killed by SIGPIPE", method, st);
	} else if (wpipe) {
		int st = pclose(wpipe);
		zd_check(st == 0, "%s: pclose gave %#x, want 0 (the worker saw every number)",
			 method, st);
		zd_check(sent > 10, "%s: only %ld numbers sent", method, sent);
	}
	if (strstr(method, "_exit")) { /* and it goes on after the last restart */
		long before = churned;
		for (int i = 0; i < 20; i++)
			churn();
		zd_check(churned > churned0 && churned == before + 60,
			 "%s: %ld children since ready, %ld of 60 at verify", method,
			 before - churned0, churned - before);
	}
	for (int i = 0; i < 3 && !strcmp(method, "fork_mt"); i++)
		zd_check(spins[i] > 0, "%s: thread %d did not run", method, i);
}

static int run_system(void)
{
	char cmd[PATH_MAX * 2 + 32];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' worker-wait7", self, zd_verify_path);
	zd_ready();
	int st = system(cmd);
	zd_check(WIFEXITED(st) && WEXITSTATUS(st) == 7, "system: status %#x, want exit 7", st);
	return zd_finish();
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	self = argv[0];
	method = argc > 2 ? argv[2] : "";
	if (!strncmp(method, "worker-", 7))
		return worker(method);
	if (!strcmp(method, "system"))
		return run_system();
	int rc = 0;
	if (!strncmp(method, "popen_", 6))
		rc = start_popen(method + 6);
	else if (strcmp(method, "vfork_exit") && strcmp(method, "fork_exit"))
		rc = start_piped();
	if (rc < 0)
		return zd_fail("%s: cannot start the child", method), 1;
	for (int i = 0; i < 10; i++) {
		zd_sleep_ms(10);
		tick();
	}
	long expect0 = expect, churned0 = churned;
	zd_ready();
	zd_wait_tick(tick);
	verify(expect0, churned0);
	return zd_finish();
}
