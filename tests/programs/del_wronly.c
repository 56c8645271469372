/* del_wronly: a file deleted while the program holds it open write-only, and
 * writes on (a log it appends to, like DMTCP's file1).
 *
 *   del_wronly VERIFY_FILE MODE     (MODE in octal: 600, or 200 = write-only)
 *
 * The program drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH first (and execs
 * itself again), so that as root it is held to the file's mode like a plain
 * user. It creates
 * del_wronly.log with MODE, opens it O_WRONLY, unlinks it and writes one
 * numbered record every tick. After restart: the descriptor is still write-only
 * on a deleted file with MODE, at the end of what was written, and the file
 * holds every record written before the checkpoint and after it, in order.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#define REC 16

static int fd;
static long written;

/* Capabilities are per thread, and the runtime's checkpoint thread exists
 * already: drop them from the bounding set and exec again, so that every
 * thread of the new image starts without them. */
static void drop_dac_caps(char **argv)
{
	if (getenv("DEL_WRONLY_NOCAPS"))
		return;
	if (geteuid() == 0 && (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) < 0 ||
			       prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) < 0)) {
		zd_fail("PR_CAPBSET_DROP: %s", strerror(errno));
		return;
	}
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	setenv("DEL_WRONLY_NOCAPS", "1", 1);
	execv(exe, argv);
	zd_fail("exec: %s", strerror(errno));
}

static void record(long i, char out[32])
{
	snprintf(out, 32, "rec %011ld\n", i);
}

static void tick(void)
{
	char r[32];
	record(written, r);
	if (write(fd, r, REC) != REC)
		zd_fail("write record %ld: %s", written, strerror(errno));
	written++;
}

static void verify(mode_t mode)
{
	struct stat s;
	zd_check(fstat(fd, &s) == 0, "fstat: %s", strerror(errno));
	zd_check(s.st_nlink == 0, "st_nlink %ld, want 0 (deleted)", (long)s.st_nlink);
	zd_check((s.st_mode & 07777) == mode, "mode %o, want %o", s.st_mode & 07777, mode);
	zd_check((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY, "fd is no longer write-only");
	zd_check(s.st_size == written * REC, "size %ld, want %ld", (long)s.st_size, written * REC);
	zd_check(lseek(fd, 0, SEEK_CUR) == written * REC, "offset %ld, want %ld",
		 (long)lseek(fd, 0, SEEK_CUR), written * REC);
	/* read it back the way a program could: lend itself read permission */
	char p[64], got[REC], want[32];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	fchmod(fd, mode | S_IRUSR);
	int rfd = open(p, O_RDONLY);
	zd_check(rfd >= 0, "reopen for reading: %s", strerror(errno));
	for (long i = 0; rfd >= 0 && i < written; i++) {
		record(i, want);
		if (read(rfd, got, REC) != REC || memcmp(got, want, REC)) {
			zd_fail("record %ld is not '%.*s'", i, REC - 1, want);
			break;
		}
	}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	mode_t mode = argc > 2 ? strtol(argv[2], NULL, 8) : 0600;
	drop_dac_caps(argv);
	unlink("del_wronly.log");
	fd = open("del_wronly.log", O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0) {
		zd_fail("create del_wronly.log: %s", strerror(errno));
		return zd_finish();
	}
	unlink("del_wronly.log");
	for (int i = 0; i < 100; i++)
		tick();
	zd_ready();
	zd_wait_tick(tick);
	verify(mode);
	return zd_finish();
}
