/* files_special: descriptors that are not plain open files across
 * checkpoint/restart.
 *
 *   files_special VERIFY_FILE     (creates files_special.* in the cwd)
 *
 * A file deleted while open stays deleted with its contents and offset, and
 * writable; a stdio buffer not flushed at the checkpoint reaches its file
 * exactly once; /dev/null is still a character device; a directory fd still
 * resolves names in it (openat).
 */
#include "zdtm.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#define DEL_SIZE 20000

static int make_file(const char *name, const char *data, size_t len, int flags)
{
	int fd = open(name, flags | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		zd_fail("%s: %s", name, strerror(errno));
	return fd;
}

static void check_deleted(int del, const char *delbuf)
{
	struct stat ds;
	fstat(del, &ds);
	zd_check(ds.st_nlink == 0, "files_special.del: st_nlink %ld after restart, want 0",
		 (long)ds.st_nlink);
	zd_check(ds.st_size == DEL_SIZE, "files_special.del: size %ld", (long)ds.st_size);
	zd_check(access("files_special.del", F_OK) < 0, "files_special.del exists again on disk");
	zd_check(lseek(del, 0, SEEK_CUR) == 100, "files_special.del: offset %ld, want 100",
		 (long)lseek(del, 0, SEEK_CUR));
	char *dbuf = malloc(DEL_SIZE);
	ssize_t n = pread(del, dbuf, DEL_SIZE, 0);
	zd_check(n == DEL_SIZE && !memcmp(dbuf, delbuf, DEL_SIZE),
		 "files_special.del: contents differ");
	zd_check(write(del, "zz", 2) == 2 && pread(del, dbuf, 2, 100) == 2 &&
		     !memcmp(dbuf, "zz", 2),
		 "files_special.del: write after restart failed");
	free(dbuf);
	char link[PATH_MAX + 16], lp[64];
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", del);
	n = readlink(lp, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	zd_check(strstr(link, "(deleted)") != NULL, "files_special.del: /proc link is '%s'", link);
}

/* the stdio buffer reaches the file exactly once */
static void check_stdio(FILE *sf)
{
	char buf[64];
	fprintf(sf, "line after\n");
	fclose(sf);
	int fd = open("files_special.stdio", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	close(fd);
	zd_check(n == 23 && !memcmp(buf, "line before\nline after\n", 23),
		 "files_special.stdio is '%.*s'", (int)(n > 0 ? n : 0), buf);
}

static void check_devnull_and_dir(int dn, int dir)
{
	char buf[8];
	struct stat ns;
	zd_check(fstat(dn, &ns) == 0 && S_ISCHR(ns.st_mode), "/dev/null fd is not a char device");
	zd_check(write(dn, "x", 1) == 1, "write to /dev/null failed");
	int in = openat(dir, "inner", O_RDONLY);
	zd_check(in >= 0 && read(in, buf, 6) == 6 && !memcmp(buf, "inner\n", 6),
		 "openat through the directory fd failed");
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	char *delbuf = malloc(DEL_SIZE);
	for (int i = 0; i < DEL_SIZE; i++)
		delbuf[i] = (char)(i * 7 + i / 251);
	int del = make_file("files_special.del", delbuf, DEL_SIZE, O_RDWR);
	lseek(del, 100, SEEK_SET);
	unlink("files_special.del");
	FILE *sf = fopen("files_special.stdio", "w");
	static char sbuf[65536];
	setvbuf(sf, sbuf, _IOFBF, sizeof(sbuf));
	fprintf(sf, "line before\n");
	struct stat sst;
	stat("files_special.stdio", &sst);
	zd_check(sst.st_size == 0, "stdio buffer was flushed before the checkpoint");
	int dn = open("/dev/null", O_WRONLY);
	mkdir("files_special.dir", 0755);
	int dir = open("files_special.dir", O_RDONLY | O_DIRECTORY);
	close(make_file("files_special.dir/inner", "inner\n", 6, O_WRONLY));

	zd_ready();
	zd_wait();

	check_deleted(del, delbuf);
	check_stdio(sf);
	check_devnull_and_dir(dn, dir);
	return zd_finish();
}
