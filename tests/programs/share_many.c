/* share_many: many processes sharing many open file descriptions of one file
 * in every way they can come to share one, each description at its own
 * offset; after checkpoint/restart each is still one description held by
 * exactly the processes that held it (and by each of their dups), and no two
 * are one.
 *
 *   share_many VERIFY_FILE DIR [NPROC [NDESC]]
 *
 * NPROC processes (6; 3 to 16) in a tree (i forks 2i+1 and 2i+2), NDESC
 * descriptions (240; up to 4000) of DIR/data, description d at offset 1000 d,
 * by d % 5:
 *   0  opened by process 0 before it forks: every process holds it;
 *   1  opened by process (d / 5) % NPROC before it forks: it and its subtree;
 *   2  opened by process 0 before it forks, closed by process 1 once it has
 *      forked: every process but 1 (its children through it);
 *   3  opened by the last process and passed with SCM_RIGHTS to the one
 *      before it: those two;
 *   4  opened by process 0 and dup'ed before it forks, dup'ed once more by
 *      process (d / 5) % NPROC: every process, two or three descriptors each.
 * After VERIFY_FILE a token goes round the processes: each moves the offset
 * of every description it holds by i + 1 (through one of its descriptors);
 * then a second round, in which each checks every descriptor it holds: at
 * 1000 d plus the moves of exactly the holders. A description restored as two
 * misses moves; two restored as one has moves too many. */
#include "zdtm.h"
#include "fdpass.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define MAXP 16
#define MAXD 4000
#define FDS 3 /* descriptors of one description in one process, at most */

static int nproc = 6, ndesc = 240, self;
static int fds[MAXD][FDS]; /* this process's descriptors of each description, -1 */
static int ring[MAXP][2];  /* the token from i to i + 1 goes through ring[i] */
static int sv[2];	   /* the last process passes descriptions to the one before */
static pid_t kids[2];
static int nkids;

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed (process %d): %s: %s\n", self, what, strerror(errno));
		exit(2);
	}
}

static int in_subtree(int i, int root)
{
	for (; i > root; i = (i - 1) / 2)
		;
	return i == root;
}

static int holds(int i, int d)
{
	int owner = (d / 5) % nproc;
	switch (d % 5) {
	case 1:
		return in_subtree(i, owner);
	case 2:
		return i != 1;
	case 3:
		return i >= nproc - 2;
	}
	return 1;
}

static void open_desc(const char *path, int d)
{
	int f = open(path, O_RDWR | O_CREAT, 0600);
	must(f >= 0 && lseek(f, 1000L * d, SEEK_SET) == 1000L * d, "open");
	fds[d][0] = f;
}

/* What process i does before it forks its children. */
static void before_fork(const char *path, int i)
{
	for (int d = 0; d < ndesc; d++) {
		int kind = d % 5;
		if (i == 0 && (kind == 0 || kind == 2 || kind == 4))
			open_desc(path, d);
		if (i == 0 && kind == 4)
			must((fds[d][1] = dup(fds[d][0])) >= 0, "dup");
		if (kind == 1 && (d / 5) % nproc == i)
			open_desc(path, d);
	}
}

/* Process i: made by its parent, makes its subtree. */
static void make_tree(const char *path)
{
	before_fork(path, self);
	for (int c = 2 * self + 1; c <= 2 * self + 2 && c < nproc; c++) {
		pid_t pid = fork();
		must(pid >= 0, "fork");
		if (pid == 0) {
			self = c;
			nkids = 0;
			make_tree(path);
			return;
		}
		kids[nkids++] = pid;
	}
}

static void pass_descriptions(const char *path)
{
	for (int d = 3; d < ndesc; d += 5) {
		if (self == nproc - 1) {
			open_desc(path, d);
			must(zd_send_fds(sv[0], &fds[d][0], 1) == 0, "sendmsg (SCM_RIGHTS)");
		} else if (self == nproc - 2) {
			must(zd_recv_fds(sv[1], &fds[d][0], 1) == 1, "recvmsg (SCM_RIGHTS)");
		}
	}
}

/* What each process does once the tree is made. */
static void after_fork(const char *path)
{
	for (int d = 2; self == 1 && d < ndesc; d += 5) {
		close(fds[d][0]);
		fds[d][0] = -1;
	}
	pass_descriptions(path);
	for (int d = 4; d < ndesc; d += 5)
		if ((d / 5) % nproc == self)
			must((fds[d][2] = dup(fds[d][0])) >= 0, "dup");
}

static void token_wait(void)
{
	char c;
	must(read(ring[(self + nproc - 1) % nproc][0], &c, 1) == 1, "token");
}

static void token_pass(void)
{
	must(write(ring[self][1], "t", 1) == 1, "token");
}

/* A round of the token from process 0 back to it, fn in each. */
static void round_of(void (*fn)(void))
{
	if (self)
		token_wait();
	fn();
	token_pass();
	if (!self)
		token_wait();
}

static void nothing(void)
{
}

static void move(void)
{
	for (int d = 0; d < ndesc; d++)
		if (fds[d][0] >= 0)
			zd_check(lseek(fds[d][0], self + 1, SEEK_CUR) >= 0, "process %d: lseek: %s",
				 self, strerror(errno));
}

static void check(void)
{
	for (int d = 0; d < ndesc; d++) {
		long want = 1000L * d;
		for (int i = 0; i < nproc; i++)
			want += holds(i, d) ? i + 1 : 0;
		zd_check((fds[d][0] >= 0) == holds(self, d), "process %d %s description %d", self,
			 holds(self, d) ? "lost" : "holds", d);
		for (int k = 0; k < FDS; k++) {
			long at = fds[d][k] >= 0 ? lseek(fds[d][k], 0, SEEK_CUR) : want;
			zd_check(at == want,
				 "process %d fd %d (description %d) at offset %ld, not %ld: "
				 "another description than its other holders'",
				 self, fds[d][k], d, at, want);
		}
	}
}

int main(int argc, char **argv)
{
	char path[4096];
	zd_init(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(path, sizeof(path), "%s/data", argc > 2 ? argv[2] : ".");
	nproc = argc > 3 ? atoi(argv[3]) : nproc;
	ndesc = argc > 4 ? atoi(argv[4]) : ndesc;
	must(nproc >= 3 && nproc <= MAXP && ndesc > 0 && ndesc <= MAXD, "arguments");
	struct rlimit rl; /* up to 3 descriptors per description */
	must(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	rl.rlim_cur = rl.rlim_max;
	must(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	memset(fds, -1, sizeof(fds));
	for (int i = 0; i < nproc; i++)
		must(pipe(ring[i]) == 0, "pipe");
	must(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
	make_tree(path);
	after_fork(path);
	round_of(nothing); /* every process has what it holds */
	if (!self)
		zd_ready();
	zd_wait();
	round_of(move);
	round_of(check);
	for (int k = 0; k < nkids; k++)
		zd_reap(kids[k], 2 * self + 1 + k);
	if (self)
		_exit(zd_failed);
	return zd_finish();
}
