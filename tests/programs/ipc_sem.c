/* ipc_sem: POSIX shared memory (shm_open under /dev/shm) holding an unnamed
 * process-shared semaphore, and a named semaphore (sem_open), between a parent
 * and a forked child that waits on the unnamed one when checkpointed.
 *
 *   ipc_sem VERIFY_FILE
 *
 * Each round the parent posts the unnamed semaphore; the child wakes, counts
 * the round in the shared memory and posts the named semaphore, which the
 * parent waits for (3 s at most). A round runs before "ready" and one after
 * the verify file appears, on whatever the restarts made of the objects
 * (the harness may remove the /dev/shm files in between: they come back).
 */
#include "zdtm.h"

#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

struct area {
	sem_t go;
	volatile uint64_t rounds;
	char text[64];
};

static char shm_name[64], sem_name[64];

static void child_loop(struct area *a, sem_t *done)
{
	for (;;) {
		while (sem_wait(&a->go) < 0 && errno == EINTR)
			;
		a->rounds++;
		sem_post(done);
	}
}

static int round_trip(struct area *a, sem_t *done, uint64_t want)
{
	struct timespec ts;
	sem_post(&a->go);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	while (sem_timedwait(done, &ts) < 0)
		if (errno != EINTR)
			return 0;
	return a->rounds == want;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	snprintf(shm_name, sizeof(shm_name), "/stasis-ipc-%d", getpid());
	snprintf(sem_name, sizeof(sem_name), "/stasis-ipc-sem-%d", getpid());
	int fd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 8192) < 0)
		return printf("shm_open: %s\n", strerror(errno)), 2;
	struct area *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	sem_t *done = sem_open(sem_name, O_CREAT | O_EXCL, 0600, 0);
	if (a == MAP_FAILED || done == SEM_FAILED)
		return printf("mmap/sem_open: %s\n", strerror(errno)), 2;
	sem_init(&a->go, 1, 0);
	strcpy(a->text, "posix shared memory");
	pid_t child = fork();
	if (child == 0)
		child_loop(a, done);
	zd_check(round_trip(a, done, 1), "first round failed");
	zd_ready();
	zd_wait();
	zd_check(round_trip(a, done, 2),
		 "the child did not answer through the semaphores "
		 "after the restart (rounds %llu)",
		 (unsigned long long)a->rounds);
	zd_check(!strcmp(a->text, "posix shared memory"), "shared memory text is %.64s", a->text);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	shm_unlink(shm_name);
	sem_unlink(sem_name);
	return zd_finish();
}
