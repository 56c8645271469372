/* inspect_set: a known set of processes, descriptors and mappings, for the
 * tests of `stasis inspect --dir` (tests/e2e/test_surface3.py).
 *
 *   inspect_set VERIFY_FILE DIR
 *
 * The parent holds fd 5: DIR/data, 12 bytes, opened O_RDWR at offset 5;
 * fds 6 and 7: a pipe with the 6 bytes "queued" in it; fd 8: an eventfd whose
 * counter is 42; and 16 pages of private anonymous memory (read and write)
 * of which the first 3 were written. It has a child, which waits, and a
 * zombie (a child that exited 3 and was not reaped). Before "ready" it
 * prints "pids PARENT CHILD ZOMBIE". At verify it checks that all is still so.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#define PAGES 16
#define WRITTEN 3

static void on_fd(int fd, int want)
{
	if (fd != want && (dup2(fd, want) != want || close(fd) < 0)) {
		perror("dup2");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	char path[4096], line[128];
	int p[2];
	zd_init(argc, argv);
	if (argc < 3)
		return 2;
	snprintf(path, sizeof(path), "%s/data", argv[2]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "hello, world", 12) != 12 || lseek(fd, 5, SEEK_SET) != 5)
		return 2;
	on_fd(fd, 5);
	if (pipe(p) < 0)
		return 2;
	on_fd(p[0], 6);
	on_fd(p[1], 7);
	if (write(7, "queued", 6) != 6)
		return 2;
	on_fd(eventfd(42, 0), 8);
	/* PAGES read-write pages between two inaccessible ones: a neighbouring
	 * mapping of the same protection cannot merge with it, so the test finds
	 * the region by its size */
	uint8_t *mem =
	    mmap(NULL, (PAGES + 2) * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || mprotect(mem += 4096, PAGES * 4096, PROT_READ | PROT_WRITE) < 0)
		return 2;
	for (int i = 0; i < WRITTEN * 4096; i++)
		mem[i] = (uint8_t)(i * 7 + 1);
	pid_t zombie = fork();
	if (zombie == 0)
		_exit(3);
	siginfo_t si;
	while (waitid(P_PID, zombie, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	pid_t child = fork();
	if (child == 0) {
		zd_wait();
		_exit(0);
	}
	snprintf(line, sizeof(line), "pids %d %d %d", (int)getpid(), (int)child, (int)zombie);
	zd_say(line);
	zd_ready();
	zd_wait();
	char buf[16] = "";
	uint64_t count = 0;
	zd_check(lseek(5, 0, SEEK_CUR) == 5, "fd 5 is not at offset 5");
	zd_check(read(6, buf, sizeof(buf)) == 6 && !memcmp(buf, "queued", 6),
		 "the pipe lost its bytes");
	zd_check(read(8, &count, 8) == 8 && count == 42, "eventfd counter %llu, not 42",
		 (unsigned long long)count);
	for (int i = 0; i < PAGES * 4096; i++)
		if (mem[i] != (i < WRITTEN * 4096 ? (uint8_t)(i * 7 + 1) : 0)) {
			zd_fail("memory differs at byte %d", i);
			break;
		}
	zd_reap(child, 0);
	int st;
	zd_check(waitpid(zombie, &st, 0) == zombie && WIFEXITED(st) && WEXITSTATUS(st) == 3,
		 "the zombie's status is lost");
	return zd_finish();
}
