/* ipc_mq: POSIX message queues shared by a parent and its forked child, which
 * waits in mq_receive when checkpointed.
 *
 *   ipc_mq VERIFY_FILE
 *
 * Queue 1 ("/stasis-mq-PID", 8 x 128 bytes) holds four messages of
 * priorities 1, 5, 1, 3. Queue 2 is unlinked while both processes hold it; the
 * child waits on it and answers each message with "pong" at priority 9 on
 * queue 1. At verify: the attributes, the name, the unlinked queue, and the
 * order of queue 1's messages (pong, b, d, a, c) must be as they were.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/wait.h>

static void child_loop(mqd_t q1, mqd_t q2)
{
	char buf[128];
	for (;;) {
		ssize_t n = mq_receive(q2, buf, sizeof(buf), NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(3);
		mq_send(q1, "pong", 5, 9);
	}
}

static void expect(mqd_t q, const char *text, unsigned prio)
{
	char buf[128];
	unsigned p = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	ssize_t n = mq_timedreceive(q, buf, sizeof(buf), &p, &ts);
	zd_check(n == (ssize_t)strlen(text) + 1 && !strcmp(buf, text) && p == prio,
		 "got %.*s (priority %u), want %s (priority %u)", n > 0 ? (int)n : 0, buf, p, text,
		 prio);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	char name[64];
	snprintf(name, sizeof(name), "/stasis-mq-%d", getpid());
	struct mq_attr a = {.mq_maxmsg = 8, .mq_msgsize = 128};
	mqd_t q1 = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	char name2[80];
	snprintf(name2, sizeof(name2), "%s-2", name);
	mqd_t q2 = mq_open(name2, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	if (q1 < 0 || q2 < 0)
		return printf("mq_open: %s\n", strerror(errno)), 2;
	mq_unlink(name2);
	mq_send(q1, "a", 2, 1);
	mq_send(q1, "b", 2, 5);
	mq_send(q1, "c", 2, 1);
	mq_send(q1, "d", 2, 3);
	pid_t child = fork();
	if (child == 0)
		child_loop(q1, q2);
	zd_ready();
	zd_wait();
	struct mq_attr now;
	mq_getattr(q1, &now);
	zd_check(now.mq_maxmsg == 8 && now.mq_msgsize == 128 && now.mq_curmsgs == 4,
		 "queue attributes %ld x %ld, %ld messages", now.mq_maxmsg, now.mq_msgsize,
		 now.mq_curmsgs);
	mqd_t again = mq_open(name, O_RDONLY);
	zd_check(again >= 0, "queue %s is gone by name: %s", name, strerror(errno));
	zd_check(mq_open(name2, O_RDONLY) < 0, "the unlinked queue has a name again");
	zd_check(mq_send(q2, "ping", 5, 0) == 0, "send on the unlinked queue: %s", strerror(errno));
	for (int i = 0; i < 3000 && (mq_getattr(q1, &now), now.mq_curmsgs) < 5; i++)
		usleep(1000); /* the child's answer */
	expect(q1, "pong", 9);
	expect(q1, "b", 5);
	expect(q1, "d", 3);
	expect(q1, "a", 1);
	expect(q1, "c", 1);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	mq_unlink(name);
	return zd_finish();
}
