/* pathvirt_files: a program whose data directory moves between checkpoints
 * (the pathvirt plugin's test, test_plugins.py). It works in DATA_DIR: a log
 * it keeps open for appending, an input file it reads line by line through
 * stdio. After VERIFY_FILE exists it appends to the log, reads on, and then
 * reaches files by their old names: fopen and open of new files (absolute,
 * and relative to its working directory, DATA_DIR), stat, access, opendir,
 * mkdir and unlink.
 *
 *   pathvirt_files VERIFY_FILE DATA_DIR
 */
#include "zdtm.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static char dir[2048];

static const char *at(const char *name)
{
	static char paths[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(paths[k], sizeof(paths[k]), "%s/%s", dir, name);
	return paths[k];
}

static void write_str(int fd, const char *s)
{
	zd_check(write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write: %s", strerror(errno));
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	char line[64];
	struct stat st;
	zd_init(argc, argv);
	if (argc < 3)
		return fprintf(stderr, "usage: pathvirt_files VERIFY_FILE DATA_DIR\n"), 2;
	snprintf(dir, sizeof(dir), "%s", argv[2]);
	if (chdir(dir) < 0)
		return perror(dir), 1;
	int log = open(at("log"), O_WRONLY | O_APPEND | O_CREAT, 0600);
	FILE *in = fopen(at("input"), "r");
	if (log < 0 || !in)
		return perror("open"), 1;
	write_str(log, "before\n");
	zd_check(fgets(line, sizeof(line), in) && !strcmp(line, "line1\n"), "first line %s", line);
	zd_ready();
	zd_wait();
	write_str(log, "after\n");
	zd_check(fgets(line, sizeof(line), in) && !strcmp(line, "line2\n"), "second line %s",
		 line);
	FILE *f = fopen(at("new.txt"), "w");
	zd_check(f && fputs("new\n", f) >= 0 && fclose(f) == 0, "fopen new.txt: %s",
		 strerror(errno));
	int fd = open(at("created"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	zd_check(fd >= 0, "open created: %s", strerror(errno));
	close(fd);
	fd = open("relative", O_WRONLY | O_CREAT, 0600);
	zd_check(fd >= 0, "open relative: %s", strerror(errno));
	close(fd);
	zd_check(stat(at("log"), &st) == 0 && st.st_size == 13, "stat log: %s, size %lld",
		 strerror(errno), (long long)st.st_size);
	zd_check(lstat(at("input"), &st) == 0, "lstat input: %s", strerror(errno));
	zd_check(access(at("input"), R_OK) == 0, "access input: %s", strerror(errno));
	zd_check(mkdir(at("sub"), 0700) == 0, "mkdir sub: %s", strerror(errno));
	fd = openat(AT_FDCWD, at("sub/x"), O_WRONLY | O_CREAT, 0600);
	zd_check(fd >= 0, "openat sub/x: %s", strerror(errno));
	close(fd);
	zd_check(unlink(at("sub/x")) == 0, "unlink sub/x: %s", strerror(errno));
	/* input, log, new.txt, created, relative, sub */
	zd_check(count_entries(dir) == 6, "opendir: %d entries", count_entries(dir));
	return zd_finish();
}
