/* File locks across restarts: a POSIX write lock on bytes 10-19 of file a, a
 * POSIX read lock from byte 100 to EOF of a, an exclusive flock on b held
 * through two dup'd fds, and an OFD write lock on c; plus file d mapped shared
 * (small: its contents are kept) with a POSIX lock the checkpoint must not drop.
 *
 *   locks VERIFY_FILE DIR    (files DIR/a, b, c, d; the test checks from outside)
 *
 * After the verify file appears it checks from a fresh description (OFD
 * F_OFD_GETLK sees this process's POSIX locks as conflicts) that every lock is
 * still held. */
#include "zdtm.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>

static char dir[512];

static int open_in(const char *name, int flags)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, flags | O_CREAT, 0600);
	if (fd < 0)
		zd_fail("open %s: %s", p, strerror(errno));
	return fd;
}

static void lock(int fd, int cmd, short type, off_t start, off_t len, const char *what)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, cmd, &fl) < 0)
		zd_fail("%s: %s", what, strerror(errno));
}

/* The type of the lock another description (probe, opened at the start and
 * never closed: a close would drop this process's POSIX locks on the file)
 * sees at start..start+len, or F_UNLCK. */
static short seen(int probe, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(probe, F_OFD_GETLK, &fl) < 0)
		zd_fail("F_OFD_GETLK: %s", strerror(errno));
	return fl.l_type;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s", argc > 2 ? argv[2] : ".");
	int a = open_in("a", O_RDWR), b = open_in("b", O_RDWR), c = open_in("c", O_RDWR);
	int d = open_in("d", O_RDWR);
	int pa = open_in("a", O_RDWR), pc = open_in("c", O_RDWR), pd = open_in("d", O_RDWR);
	int other = open_in("b", O_RDWR);
	if (ftruncate(a, 200) < 0 || ftruncate(d, 4096) < 0)
		zd_fail("ftruncate: %s", strerror(errno));
	lock(a, F_SETLK, F_WRLCK, 10, 10, "POSIX write lock on a");
	lock(a, F_SETLK, F_RDLCK, 100, 0, "POSIX read lock on a");
	if (flock(b, LOCK_EX | LOCK_NB) < 0)
		zd_fail("flock b: %s", strerror(errno));
	int b2 = dup(b);
	lock(c, F_OFD_SETLK, F_WRLCK, 0, 0, "OFD lock on c");
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
	if (m == MAP_FAILED)
		zd_fail("mmap d: %s", strerror(errno));
	strcpy(m, "mapped and locked");
	lock(d, F_SETLK, F_WRLCK, 0, 1, "POSIX lock on d");
	zd_ready();
	zd_wait();
	zd_check(seen(pa, F_RDLCK, 10, 10) == F_WRLCK, "the write lock on a[10..19] is gone");
	zd_check(seen(pa, F_RDLCK, 0, 10) == F_UNLCK, "a[0..9] is locked but was not");
	zd_check(seen(pa, F_WRLCK, 150, 1) == F_RDLCK, "the read lock on a[100..] is gone");
	zd_check(seen(pa, F_RDLCK, 150, 1) == F_UNLCK, "a read lock conflicts with a read lock");
	zd_check(seen(pc, F_RDLCK, 0, 1) == F_WRLCK, "the OFD lock on c is gone");
	zd_check(seen(pd, F_RDLCK, 0, 1) == F_WRLCK, "the POSIX lock on d is gone");
	zd_check(flock(other, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
		 "the flock on b is gone");
	zd_check(flock(b2, LOCK_EX | LOCK_NB) == 0, "the dup of b does not share its flock");
	zd_check(!strcmp(m, "mapped and locked"), "d's mapping changed: %.20s", m);
	return zd_finish();
}
