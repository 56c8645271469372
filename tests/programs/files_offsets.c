/* files_offsets: regular files' descriptors across checkpoint/restart.
 *
 *   files_offsets VERIFY_FILE     (creates files_offsets.* in the cwd)
 *
 * A file at an offset on a high fd number and another description of it with
 * FD_CLOEXEC keep their offsets, access modes and fd flags; an O_APPEND
 * descriptor still writes at the end after another process grew the file;
 * dup'd descriptors still share one offset, a second open does not; the set
 * of open descriptors is the same.
 */
#include "zdtm.h"

#include <dirent.h>
#include <fcntl.h>

#define REG_FD 37

static char content[4096];

static int make_file(const char *name, const char *data, size_t len, int flags)
{
	int fd = open(name, flags | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		zd_fail("%s: %s", name, strerror(errno));
	return fd;
}

static off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/* the open descriptors, as "0 1 2 3 ..." (without the listing's own) */
static void fd_list(char *out, size_t size)
{
	int fds[256], n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) && n < 256)
			fds[n++] = atoi(e->d_name);
	if (d)
		closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int x = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = x;
		}
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < n && len + 12 < size; i++)
		len += snprintf(out + len, size - len, "%d ", fds[i]);
}

static void check_regular(int cx)
{
	char buf[16];
	zd_check(pos(REG_FD) == 123, "files_offsets.reg: offset %ld, want 123", (long)pos(REG_FD));
	ssize_t n = read(REG_FD, buf, 10);
	zd_check(n == 10 && !memcmp(buf, content + 123, 10),
		 "files_offsets.reg: read at offset is wrong");
	zd_check((fcntl(REG_FD, F_GETFL) & O_ACCMODE) == O_RDWR, "files_offsets.reg: not O_RDWR");
	zd_check(fcntl(REG_FD, F_GETFD) == 0, "files_offsets.reg: fd flags %#x, want 0",
		 fcntl(REG_FD, F_GETFD));
	zd_check(fcntl(cx, F_GETFD) == FD_CLOEXEC, "fd %d lost FD_CLOEXEC", cx);
	zd_check(pos(cx) == 456, "fd %d offset %ld, want 456", cx, (long)pos(cx));
	zd_check((fcntl(cx, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd %d not O_RDONLY", cx);
}

/* grow the file through another fd; our write must go to its end */
static void check_append(int ap)
{
	char buf[64];
	zd_check(fcntl(ap, F_GETFL) & O_APPEND, "files_offsets.app: O_APPEND lost");
	int other = open("files_offsets.app", O_WRONLY);
	lseek(other, 0, SEEK_END);
	if (write(other, "x2\n", 3) != 3 || write(ap, "a3\n", 3) != 3)
		zd_fail("files_offsets.app: write: %s", strerror(errno));
	close(other);
	int fd = open("files_offsets.app", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	close(fd);
	zd_check(n == 9 && !memcmp(buf, "a1\nx2\na3\n", 9), "files_offsets.app is '%.*s'",
		 (int)(n > 0 ? n : 0), buf);
}

/* dup'd share the offset, the separately opened one does not */
static void check_dup(int da, int db, int dc)
{
	zd_check(pos(da) == 300 && pos(db) == 300, "files_offsets.dup offsets %ld %ld, want 300",
		 (long)pos(da), (long)pos(db));
	zd_check(pos(dc) == 700, "files_offsets.dup third fd offset %ld, want 700", (long)pos(dc));
	lseek(da, 1500, SEEK_SET);
	zd_check(pos(db) == 1500, "dup'd fds no longer share their offset (%ld)", (long)pos(db));
	zd_check(pos(dc) == 700, "separately opened fd now shares the offset (%ld)", (long)pos(dc));
	zd_check((fcntl(db, F_GETFL) & O_ACCMODE) == O_RDWR, "dup'd fd not O_RDWR");
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];
	int t = make_file("files_offsets.reg", content, 1000, O_RDWR);
	if (dup2(t, REG_FD) != REG_FD)
		zd_fail("dup2: %s", strerror(errno));
	close(t);
	lseek(REG_FD, 123, SEEK_SET);
	int cx = open("files_offsets.reg", O_RDONLY | O_CLOEXEC);
	lseek(cx, 456, SEEK_SET);
	int ap = make_file("files_offsets.app", "a1\n", 3, O_WRONLY | O_APPEND);
	int da = make_file("files_offsets.dup", content, 2000, O_RDWR);
	int db = dup(da);
	int dc = open("files_offsets.dup", O_RDONLY);
	lseek(da, 300, SEEK_SET);
	lseek(dc, 700, SEEK_SET);
	char fds0[1024], fds1[1024];
	fd_list(fds0, sizeof(fds0));

	zd_ready();
	zd_wait();

	fd_list(fds1, sizeof(fds1));
	zd_check(!strcmp(fds0, fds1), "open fds after restart: %s; before: %s", fds1, fds0);
	check_regular(cx);
	check_append(ap);
	check_dup(da, db, dc);
	return zd_finish();
}
