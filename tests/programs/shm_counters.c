/* shm_counters: one counter kept in every kind of shared memory, updated by two
 * processes under a process-shared semaphore as fast as they can: a torn
 * snapshot (one object captured later than another) shows as counters that
 * disagree after a restart.
 *
 *   shm_counters VERIFY_FILE [nofork-parent]
 *
 * The counters: shared anonymous memory (which also holds the semaphore and
 * each process's count of its own updates), a SysV segment removed with
 * IPC_RMID while attached, a memfd whose descriptor stays open, a memfd mapped
 * and closed, a POSIX shm object (/dev/shm, mapped and closed, left linked), a
 * file deleted while mapped shared, and a small file mapped shared (its bytes
 * go into the image; the harness removes it before a restart, which recreates
 * it from the image). Each process also counts its updates in private memory.
 *
 * Whenever a process takes the semaphore every counter must equal the sum of
 * the two processes' update counts, and its own private count must equal the
 * one it published: checked at every update, so the first update after a
 * restart finds a torn image. After each update the child also sends its
 * count down a pipe and a Unix stream socket, which a thread of the parent
 * reads: each stream must carry 1, 2, 3, ... with nothing lost or repeated
 * across restarts (queues in flight taken at the same cut as memory). The parent prints "count N"
 * (the anonymous counter) every 20 ms, and at verify "counters N" once it has checked them.
 * nofork-parent: the parent marks a page MADV_DONTFORK, so that it writes its
 * image itself (held) while its child runs on after a checkpoint.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/wait.h>

enum { C_ANON, C_SYSV, C_MEMFD_OPEN, C_MEMFD_CLOSED, C_POSIX, C_DELETED, C_FILE, NCTR };
static const char *names[NCTR] = {"shared anonymous", "SysV (IPC_RMID)", "memfd (fd open)",
				  "memfd (closed)",   "POSIX shm",	 "deleted file",
				  "small file"};

struct ctl {
	sem_t sem;
	volatile uint64_t anon;
	volatile uint64_t done[2]; /* updates by the parent, the child */
	volatile int bad;	   /* set by the first process to find a torn state */
	char why[256];
};

static struct ctl *ctl;
static volatile uint64_t *ctr[NCTR];
static uint64_t mine;	  /* private memory: this process's updates */
static int me;		  /* 0 parent, 1 child */
static int streams[2][2]; /* a pipe and a socket pair: child -> parent */
static char stream_bad[128];

static void report(const char *fmt, unsigned long long a, unsigned long long b, int k)
{
	if (ctl->bad)
		return;
	snprintf(ctl->why, sizeof(ctl->why), fmt, me ? "child" : "parent", k >= 0 ? names[k] : "",
		 a, b);
	ctl->bad = 1;
}

/* With the semaphore held: every counter agrees with the update counts. */
static void check_locked(void)
{
	uint64_t want = ctl->done[0] + ctl->done[1];
	if (ctl->done[me] != mine)
		report("%s%s: published %llu updates, private memory says %llu", ctl->done[me],
		       mine, -1);
	for (int k = 0; k < NCTR; k++)
		if (*ctr[k] != want)
			report("%s: %s counter is %llu, the updates sum to %llu", *ctr[k], want, k);
}

static void update(void)
{
	while (sem_wait(&ctl->sem) < 0)
		if (errno != EINTR)
			_exit(3);
	check_locked();
	for (int k = 0; k < NCTR; k++)
		(*ctr[k])++;
	ctl->done[me]++;
	mine++;
	sem_post(&ctl->sem);
	for (int i = 0; me == 1 && i < 2; i++)
		if (write(streams[i][1], &mine, sizeof(mine)) != sizeof(mine))
			_exit(4);
}

/* The parent's reader: each stream carries the child's counts in order. */
static void *reader(void *arg)
{
	(void)arg;
	uint64_t last[2] = {0, 0}, v;
	struct pollfd p[2] = {{streams[0][0], POLLIN, 0}, {streams[1][0], POLLIN, 0}};
	while (poll(p, 2, -1) > 0)
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			ssize_t n = read(streams[i][0], &v, sizeof(v));
			if (n == 0)
				return NULL; /* the child was ended at verify */
			if (n != sizeof(v) || v != last[i] + 1) {
				if (!stream_bad[0])
					snprintf(stream_bad, sizeof(stream_bad),
						 "the %s carried %llu after %llu",
						 i ? "socket" : "pipe", (unsigned long long)v,
						 (unsigned long long)last[i]);
				return NULL;
			}
			last[i] = v;
		}
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;)
		update();
	return NULL;
}

static volatile uint64_t *map_fd(int fd, size_t len)
{
	if (ftruncate(fd, len) < 0)
		return NULL;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static volatile uint64_t *map_path(const char *path, int unlink_it)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	volatile uint64_t *p = fd < 0 ? NULL : map_fd(fd, 4096);
	if (fd >= 0)
		close(fd);
	if (unlink_it)
		unlink(path);
	return p;
}

static char shm_name[64], file_path[4096];

static int setup(const char *dir)
{
	ctl = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED || sem_init(&ctl->sem, 1, 1) < 0)
		return -1;
	ctr[C_ANON] = &ctl->anon;
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	void *seg = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	if (seg == (void *)-1 || shmctl(id, IPC_RMID, NULL) < 0)
		return -1;
	ctr[C_SYSV] = seg;
	int fd = memfd_create("stasis-ctr-open", 0);
	ctr[C_MEMFD_OPEN] = fd < 0 ? NULL : map_fd(fd, 4096); /* fd stays open */
	fd = memfd_create("stasis-ctr-closed", 0);
	ctr[C_MEMFD_CLOSED] = fd < 0 ? NULL : map_fd(fd, 4096);
	close(fd);
	snprintf(shm_name, sizeof(shm_name), "/stasis-ctr-%d", getpid());
	fd = shm_open(shm_name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ctr[C_POSIX] = fd < 0 ? NULL : map_fd(fd, 4096);
	close(fd);
	snprintf(file_path, sizeof(file_path), "%s/deleted-ctr", dir);
	ctr[C_DELETED] = map_path(file_path, 1);
	snprintf(file_path, sizeof(file_path), "%s/file-ctr", dir);
	ctr[C_FILE] = map_path(file_path, 0);
	for (int k = 0; k < NCTR; k++)
		if (!ctr[k])
			return printf("cannot set up the %s counter: %s\n", names[k],
				      strerror(errno)),
			       -1;
	return 0;
}

static void tick(void)
{
	char line[64];
	snprintf(line, sizeof(line), "count %llu", (unsigned long long)ctl->anon);
	zd_say(line);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	if (setup(dirname(dir)) < 0)
		return 2;
	if (pipe(streams[0]) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, streams[1]) < 0)
		return printf("cannot make the streams: %s\n", strerror(errno)), 2;
	if (argc > 2 && !strcmp(argv[2], "nofork-parent")) {
		static char page[4096] __attribute__((aligned(4096)));
		page[0] = 1;
		madvise(page, sizeof(page), MADV_DONTFORK);
	}
	pid_t child = fork();
	if (child == 0) {
		me = 1;
		close(streams[0][0]);
		close(streams[1][0]);
		for (;;)
			update();
	}
	close(streams[0][1]);
	close(streams[1][1]);
	pthread_t t, r;
	if (child < 0 || pthread_create(&t, NULL, worker, NULL) ||
	    pthread_create(&r, NULL, reader, NULL))
		return printf("cannot start: %s\n", strerror(errno)), 2;
	zd_ready();
	zd_wait_tick(tick);
	while (sem_wait(&ctl->sem) < 0)
		;
	check_locked();
	uint64_t n = ctl->anon;
	zd_check(!stream_bad[0], "%s", stream_bad); /* before the child's end closes them */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	zd_check(!ctl->bad, "%s", ctl->why);
	zd_check(ctl->done[1] > 0 && mine > 0, "no updates: parent %llu, child %llu",
		 (unsigned long long)mine, (unsigned long long)ctl->done[1]);
	printf("counters %llu\n", (unsigned long long)n);
	shm_unlink(shm_name);
	unlink(file_path);
	return zd_finish();
}
