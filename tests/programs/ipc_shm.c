/* ipc_shm: shared anonymous memory and a memfd, shared by a parent and its
 * forked child across checkpoints.
 *
 *   ipc_shm VERIFY_FILE
 *
 * The child echoes what the parent writes (req -> ack in shared anonymous
 * memory, the first word of the memfd mapping -> memfd_seen), so after a
 * restart each direction of sharing is seen to work. At verify the parent also
 * checks the patterns, the memfd's name, seals, offset and contents, and that a
 * private mapping of the memfd kept its own copy-on-write page.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define ANON_PAGES 256 /* 1 MiB */
#define MFD_PAGES 3
#define MFD_POS 1234
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

struct shared {
	volatile uint64_t req, ack, memfd_seen, child_ticks;
};

static uint64_t pattern(uint64_t salt, uint64_t i)
{
	return (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
}

static void fill(uint64_t *w, size_t words, uint64_t salt)
{
	for (size_t i = 0; i < words; i++)
		w[i] = pattern(salt, i);
}

static size_t check(const uint64_t *w, size_t from, size_t words, uint64_t salt)
{
	size_t bad = 0;
	for (size_t i = from; i < words; i++)
		bad += w[i] != pattern(salt, i);
	return bad;
}

static void child_loop(struct shared *s, volatile uint64_t *mfd_map)
{
	for (;;) {
		s->child_ticks++;
		if (s->req != s->ack)
			s->ack = s->req;
		s->memfd_seen = mfd_map[0];
		usleep(1000);
	}
}

/* wait up to 3 s for *p == want */
static int wait_for(volatile uint64_t *p, uint64_t want)
{
	for (int i = 0; i < 3000 && *p != want; i++)
		usleep(1000);
	return *p == want;
}

static void verify_memfd(int fd, uint64_t *mfd_map, const char *priv)
{
	char link[128] = "", path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	zd_check(!strcmp(link, "/memfd:stasis-test (deleted)"), "memfd is %s", link);
	zd_check(fcntl(fd, F_GET_SEALS) == SEALS, "memfd seals %#x, want %#x",
		 fcntl(fd, F_GET_SEALS), SEALS);
	zd_check(lseek(fd, 0, SEEK_CUR) == MFD_POS, "memfd offset %lld",
		 (long long)lseek(fd, 0, SEEK_CUR));
	zd_check(ftruncate(fd, 1) < 0 && errno == EPERM, "the memfd's shrink seal is gone");
	uint64_t *copy = malloc(MFD_PAGES * 4096);
	zd_check(pread(fd, copy, MFD_PAGES * 4096, 0) == MFD_PAGES * 4096, "memfd read: %s",
		 strerror(errno));
	zd_check(!check(copy, 1, MFD_PAGES * 512, 2), "memfd contents differ");
	zd_check(!check(mfd_map, 1, MFD_PAGES * 512, 2), "memfd shared mapping differs");
	zd_check(!strcmp(priv + 4096, "private page"), "private mapping lost its page");
	zd_check(!check(copy, 512, 1024, 2), "the private page leaked into the memfd");
	free(copy);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	uint64_t *anon = mmap(NULL, ANON_PAGES * 4096, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct shared *s = (struct shared *)anon;
	fill(anon, ANON_PAGES * 512, 1);
	memset(s, 0, sizeof(*s));
	int fd = memfd_create("stasis-test", MFD_ALLOW_SEALING);
	uint64_t *buf = malloc(MFD_PAGES * 4096);
	fill(buf, MFD_PAGES * 512, 2);
	if (fd < 0 || write(fd, buf, MFD_PAGES * 4096) != MFD_PAGES * 4096)
		return printf("memfd: %s\n", strerror(errno)), 2;
	uint64_t *mfd_map = mmap(NULL, MFD_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *priv = mmap(NULL, MFD_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	strcpy(priv + 4096, "private page");
	mfd_map[0] = 0;
	lseek(fd, MFD_POS, SEEK_SET);
	fcntl(fd, F_ADD_SEALS, SEALS);
	pid_t child = fork();
	if (child == 0)
		child_loop(s, mfd_map);
	zd_ready();
	zd_wait();
	uint64_t t0 = s->child_ticks;
	s->req = 0x5eed0000 + getpid();
	zd_check(wait_for(&s->ack, s->req),
		 "the child did not see the parent's write to shared "
		 "anonymous memory (ack %#llx)",
		 (unsigned long long)s->ack);
	mfd_map[0] = 0xfeed;
	zd_check(wait_for(&s->memfd_seen, 0xfeed), "the child did not see the parent's write to "
						   "the memfd");
	zd_check(s->child_ticks != t0, "the child does not run");
	zd_check(!check(anon, sizeof(*s) / 8 + 8, ANON_PAGES * 512, 1),
		 "shared anonymous pattern differs");
	verify_memfd(fd, mfd_map, priv);
	kill(child, SIGKILL);
	int st;
	zd_check(waitpid(child, &st, 0) == child, "waitpid: %s", strerror(errno));
	return zd_finish();
}
