/* ipc_sysv: SysV shared memory, semaphores and a message queue used by a
 * parent and its forked child, which waits on a semaphore when checkpointed.
 *
 *   ipc_sysv VERIFY_FILE
 *
 * Segments: A attached by both (the child echoes req -> ack through it), B
 * attached by the parent and removed (IPC_RMID) while attached, C created with
 * a key and attached by nobody. A semaphore set (5, 0, 7): the child waits on
 * semaphore 1 and, when the parent posts it, says "woke" in A. A message queue
 * holds three messages. At verify every object must still have its id, key,
 * contents, values and messages, and both directions of sharing must work.
 */
#include "zdtm.h"

#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#define SEG 65536

struct area {
	volatile uint64_t req, ack, woke;
};

struct msg {
	long mtype;
	char text[64];
};

static const char *texts[3] = {"first", "second message", "third"};
static const long types[3] = {1, 2, 1};

static void fill(uint8_t *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + salt);
}

static int same(const uint8_t *p, size_t from, size_t n, unsigned salt)
{
	for (size_t i = from; i < n; i++)
		if (p[i] != (uint8_t)(i * 31 + salt))
			return 0;
	return 1;
}

static void child_loop(struct area *a, int sem)
{
	struct sembuf down = {1, -1, 0};
	while (semop(sem, &down, 1) < 0)
		if (errno != EINTR)
			_exit(3);
	a->woke = 1;
	for (;;) {
		if (a->req != a->ack)
			a->ack = a->req;
		usleep(1000);
	}
}

static int wait_for(volatile uint64_t *p, uint64_t want)
{
	for (int i = 0; i < 3000 && *p != want; i++)
		usleep(1000);
	return *p == want;
}

static void verify_queue(int q)
{
	struct msg m;
	for (int i = 0; i < 3; i++) {
		ssize_t n = msgrcv(q, &m, sizeof(m.text), 0, IPC_NOWAIT);
		zd_check(n == (ssize_t)strlen(texts[i]) + 1 && m.mtype == types[i] &&
			     !strcmp(m.text, texts[i]),
			 "message %d: %zd bytes, type %ld, %.64s", i, n, m.mtype,
			 n > 0 ? m.text : strerror(errno));
	}
	zd_check(msgrcv(q, &m, sizeof(m.text), 0, IPC_NOWAIT) < 0 && errno == ENOMSG,
		 "the queue has more messages");
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	key_t key = 0x57a50000 + getpid();
	int a_id = shmget(IPC_PRIVATE, SEG, IPC_CREAT | 0600);
	int b_id = shmget(IPC_PRIVATE, SEG, IPC_CREAT | 0600);
	int c_id = shmget(key, SEG, IPC_CREAT | IPC_EXCL | 0640);
	int sem = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (a_id < 0 || b_id < 0 || c_id < 0 || sem < 0 || q < 0)
		return printf("ipc setup: %s\n", strerror(errno)), 2;
	struct area *a = shmat(a_id, NULL, 0);
	uint8_t *b = shmat(b_id, NULL, 0), *c = shmat(c_id, NULL, 0);
	memset(a, 0, sizeof(*a));
	fill((uint8_t *)a + 4096, SEG - 4096, 1);
	fill(b, SEG, 2);
	fill(c, SEG / 2, 3); /* the second half stays zero */
	shmdt(c);
	shmctl(b_id, IPC_RMID, NULL);
	unsigned short vals[3] = {5, 0, 7};
	semctl(sem, 0, SETALL, vals);
	for (int i = 0; i < 3; i++) {
		struct msg m = {types[i], ""};
		strcpy(m.text, texts[i]);
		msgsnd(q, &m, strlen(texts[i]) + 1, 0);
	}
	pid_t child = fork();
	if (child == 0)
		child_loop(a, sem);
	zd_sleep_ms(50); /* the child is waiting on its semaphore */
	printf("ids %d %d %d %d %d\n", a_id, b_id, c_id, sem, q);
	zd_ready();
	zd_wait();
	zd_check(shmget(key, 0, 0) == c_id, "key %#x now gives shm %d, was %d", key,
		 shmget(key, 0, 0), c_id);
	c = shmat(c_id, NULL, SHM_RDONLY);
	zd_check(c != (void *)-1 && same(c, 0, SEG / 2, 3), "unattached segment C lost its data");
	zd_check(c != (void *)-1 && c[SEG - 1] == 0, "segment C's zero half is not zero");
	zd_check(same(b, 0, SEG, 2), "removed segment B lost its data");
	struct shmid_ds ds;
	zd_check(shmctl(b_id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST),
		 "segment B is not marked removed");
	zd_check(same((uint8_t *)a, 4096, SEG, 1), "segment A lost its data");
	zd_check(semctl(sem, 0, GETVAL) == 5 && semctl(sem, 2, GETVAL) == 7,
		 "semaphore values %d %d, want 5 7", semctl(sem, 0, GETVAL),
		 semctl(sem, 2, GETVAL));
	zd_check(!a->woke, "the child woke before its semaphore was posted");
	struct sembuf up = {1, 1, 0};
	zd_check(semop(sem, &up, 1) == 0, "semop: %s", strerror(errno));
	zd_check(wait_for(&a->woke, 1), "the waiting child did not wake on its semaphore");
	a->req = 0xabc;
	zd_check(wait_for(&a->ack, 0xabc), "the child does not share segment A any more");
	verify_queue(q);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	shmctl(a_id, IPC_RMID, NULL);
	shmctl(c_id, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	msgctl(q, IPC_RMID, NULL);
	return zd_finish();
}
