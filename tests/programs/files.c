/* files: descriptors and process state across checkpoint/restart.
 *
 *   files VERIFY_FILE [ARGS...]     (creates files.* in the cwd)
 *
 * A regular file at an offset (at a high fd number, one with FD_CLOEXEC), an
 * O_APPEND file, dup'd descriptors sharing an offset, a file deleted while
 * open, an unflushed stdio buffer, /dev/null and a directory fd, cwd, umask,
 * RLIMIT_NOFILE, an environment variable set at run time, /proc/self/cmdline
 * and exe, dlopen after restart, getaddrinfo and the locale.
 */
#include "zdtm.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <wchar.h>
#include <wctype.h>

#define REG_FD 37
#define DEL_SIZE 20000

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

static ssize_t read_file(const char *name, char *buf, size_t size)
{
	int fd = open(name, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size);
	close(fd);
	return n;
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

int main(int argc, char **argv)
{
	char cwd0[PATH_MAX], exe0[PATH_MAX], buf[8192];
	char cmdline0[4096];
	ssize_t cmdlen0;
	zd_init(argc, argv);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];

	/* regular file at an offset, moved to a high fd, another copy with FD_CLOEXEC */
	int t = make_file("files.reg", content, 1000, O_RDWR);
	if (dup2(t, REG_FD) != REG_FD)
		zd_fail("dup2: %s", strerror(errno));
	close(t);
	lseek(REG_FD, 123, SEEK_SET);
	int cx = open("files.reg", O_RDONLY | O_CLOEXEC);
	lseek(cx, 456, SEEK_SET);

	/* O_APPEND */
	int ap = make_file("files.app", "a1\n", 3, O_WRONLY | O_APPEND);

	/* dup'd descriptors share one offset; a second open does not */
	int da = make_file("files.dup", content, 2000, O_RDWR);
	int db = dup(da);
	int dc = open("files.dup", O_RDONLY);
	lseek(da, 300, SEEK_SET);
	lseek(dc, 700, SEEK_SET);

	/* deleted while open */
	char *delbuf = malloc(DEL_SIZE);
	for (int i = 0; i < DEL_SIZE; i++)
		delbuf[i] = (char)(i * 7 + i / 251);
	int del = make_file("files.del", delbuf, DEL_SIZE, O_RDWR);
	lseek(del, 100, SEEK_SET);
	unlink("files.del");

	/* unflushed stdio buffer */
	FILE *sf = fopen("files.stdio", "w");
	static char sbuf[65536];
	setvbuf(sf, sbuf, _IOFBF, sizeof(sbuf));
	fprintf(sf, "line before\n");
	struct stat sst;
	stat("files.stdio", &sst);
	zd_check(sst.st_size == 0, "stdio buffer was flushed before the checkpoint");

	/* character device and directory */
	int dn = open("/dev/null", O_WRONLY);
	mkdir("files.dir", 0755);
	int dir = open("files.dir", O_RDONLY | O_DIRECTORY);
	make_file("files.dir/inner", "inner\n", 6, O_WRONLY);

	/* process state */
	if (chdir("files.dir") < 0)
		zd_fail("chdir: %s", strerror(errno));
	if (!getcwd(cwd0, sizeof(cwd0)))
		zd_fail("getcwd: %s", strerror(errno));
	umask(027);
	struct rlimit rl0;
	getrlimit(RLIMIT_NOFILE, &rl0);
	rl0.rlim_cur = 200;
	setrlimit(RLIMIT_NOFILE, &rl0);
	setenv("ZDTM_RUNTIME_VAR", "value set at run time", 1);
	ssize_t n = readlink("/proc/self/exe", exe0, sizeof(exe0) - 1);
	exe0[n > 0 ? n : 0] = 0;
	cmdlen0 = read_file("/proc/self/cmdline", cmdline0, sizeof(cmdline0));
	char comm0[64] = "", comm1[64] = "";
	read_file("/proc/self/comm", comm0, sizeof(comm0) - 1);
	if (!setlocale(LC_ALL, "C.UTF-8"))
		zd_fail("setlocale C.UTF-8 failed");
	void *libz_before = dlopen("libz.so.1", RTLD_NOLOAD | RTLD_NOW);
	zd_check(!libz_before, "libz is already loaded before the test");

	char fds0[1024];
	fd_list(fds0, sizeof(fds0));
	zd_ready();
	zd_wait();

	/* regular file */
	zd_check(pos(REG_FD) == 123, "files.reg: offset %ld, want 123", (long)pos(REG_FD));
	n = read(REG_FD, buf, 10);
	zd_check(n == 10 && !memcmp(buf, content + 123, 10), "files.reg: read at offset is wrong");
	zd_check((fcntl(REG_FD, F_GETFL) & O_ACCMODE) == O_RDWR, "files.reg: not O_RDWR");
	zd_check(fcntl(REG_FD, F_GETFD) == 0, "files.reg: fd flags %#x, want 0",
		 fcntl(REG_FD, F_GETFD));
	zd_check(fcntl(cx, F_GETFD) == FD_CLOEXEC, "fd %d lost FD_CLOEXEC", cx);
	zd_check(pos(cx) == 456, "fd %d offset %ld, want 456", cx, (long)pos(cx));
	zd_check((fcntl(cx, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd %d not O_RDONLY", cx);
	char fds1[1024];
	fd_list(fds1, sizeof(fds1));
	zd_check(!strcmp(fds0, fds1), "open fds after restart: %s; before: %s", fds1, fds0);

	/* O_APPEND: grow the file through another fd; our write must go to its end */
	zd_check(fcntl(ap, F_GETFL) & O_APPEND, "files.app: O_APPEND lost");
	int other = open("../files.app", O_WRONLY);
	lseek(other, 0, SEEK_END);
	if (write(other, "x2\n", 3) != 3 || write(ap, "a3\n", 3) != 3)
		zd_fail("files.app: write: %s", strerror(errno));
	close(other);
	n = read_file("../files.app", buf, sizeof(buf));
	zd_check(n == 9 && !memcmp(buf, "a1\nx2\na3\n", 9), "files.app is '%.*s'",
		 (int)(n > 0 ? n : 0), buf);

	/* dup'd share the offset, the separately opened one does not */
	zd_check(pos(da) == 300 && pos(db) == 300, "files.dup offsets %ld %ld, want 300",
		 (long)pos(da), (long)pos(db));
	zd_check(pos(dc) == 700, "files.dup third fd offset %ld, want 700", (long)pos(dc));
	lseek(da, 1500, SEEK_SET);
	zd_check(pos(db) == 1500, "dup'd fds no longer share their offset (%ld)", (long)pos(db));
	zd_check(pos(dc) == 700, "separately opened fd now shares the offset (%ld)", (long)pos(dc));
	zd_check((fcntl(db, F_GETFL) & O_ACCMODE) == O_RDWR, "dup'd fd not O_RDWR");

	/* deleted file: still deleted, contents and offset intact, still writable */
	struct stat ds;
	fstat(del, &ds);
	zd_check(ds.st_nlink == 0, "files.del: st_nlink %ld after restart, want 0",
		 (long)ds.st_nlink);
	zd_check(ds.st_size == DEL_SIZE, "files.del: size %ld", (long)ds.st_size);
	zd_check(access("../files.del", F_OK) < 0, "files.del exists again on disk");
	zd_check(pos(del) == 100, "files.del: offset %ld, want 100", (long)pos(del));
	char *dbuf = malloc(DEL_SIZE);
	n = pread(del, dbuf, DEL_SIZE, 0);
	zd_check(n == DEL_SIZE && !memcmp(dbuf, delbuf, DEL_SIZE), "files.del: contents differ");
	zd_check(write(del, "zz", 2) == 2 && pread(del, dbuf, 2, 100) == 2 &&
		     !memcmp(dbuf, "zz", 2),
		 "files.del: write after restart failed");
	char link[PATH_MAX + 16], lp[64];
	snprintf(lp, sizeof(lp), "/proc/self/fd/%d", del);
	n = readlink(lp, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	zd_check(strstr(link, "(deleted)") != NULL, "files.del: /proc link is '%s'", link);

	/* the stdio buffer reaches the file exactly once */
	fprintf(sf, "line after\n");
	fclose(sf);
	n = read_file("../files.stdio", buf, sizeof(buf));
	zd_check(n == 23 && !memcmp(buf, "line before\nline after\n", 23), "files.stdio is '%.*s'",
		 (int)(n > 0 ? n : 0), buf);

	/* /dev/null and the directory fd */
	struct stat ns;
	zd_check(fstat(dn, &ns) == 0 && S_ISCHR(ns.st_mode), "/dev/null fd is not a char device");
	zd_check(write(dn, "x", 1) == 1, "write to /dev/null failed");
	int in = openat(dir, "inner", O_RDONLY);
	zd_check(in >= 0 && read(in, buf, 6) == 6 && !memcmp(buf, "inner\n", 6),
		 "openat through the directory fd failed");

	/* cwd, umask, rlimit, environment */
	char cwd1[PATH_MAX];
	zd_check(getcwd(cwd1, sizeof(cwd1)) && !strcmp(cwd0, cwd1), "cwd '%s', want '%s'", cwd1,
		 cwd0);
	zd_check(access("inner", F_OK) == 0, "relative path in the cwd does not resolve");
	mode_t um = umask(022);
	zd_check(um == 027, "umask %03o, want 027", um);
	struct rlimit rl1;
	getrlimit(RLIMIT_NOFILE, &rl1);
	zd_check(rl1.rlim_cur == 200 && rl1.rlim_max == rl0.rlim_max,
		 "RLIMIT_NOFILE %lu/%lu, want 200/%lu", (unsigned long)rl1.rlim_cur,
		 (unsigned long)rl1.rlim_max, (unsigned long)rl0.rlim_max);
	const char *ev = getenv("ZDTM_RUNTIME_VAR");
	zd_check(ev && !strcmp(ev, "value set at run time"), "ZDTM_RUNTIME_VAR is '%s'",
		 ev ? ev : "(unset)");

	/* /proc/self/cmdline and exe */
	char cmdline1[4096], exe1[PATH_MAX];
	ssize_t cmdlen1 = read_file("/proc/self/cmdline", cmdline1, sizeof(cmdline1));
	zd_check(cmdlen1 == cmdlen0 && !memcmp(cmdline0, cmdline1, cmdlen0),
		 "/proc/self/cmdline changed ('%s...', %zd bytes, was %zd)", cmdline1, cmdlen1,
		 cmdlen0);
	n = readlink("/proc/self/exe", exe1, sizeof(exe1) - 1);
	exe1[n > 0 ? n : 0] = 0;
	zd_check(!strcmp(exe0, exe1), "/proc/self/exe is '%s', was '%s'", exe1, exe0);
	read_file("/proc/self/comm", comm1, sizeof(comm1) - 1);
	comm0[strcspn(comm0, "\n")] = comm1[strcspn(comm1, "\n")] = 0;
	zd_check(!strcmp(comm0, comm1), "/proc/self/comm is '%s', was '%s'", comm1, comm0);

	/* the dynamic loader: dlopen a library already linked and one new */
	void *m = dlopen("libm.so.6", RTLD_NOW);
	if (!m)
		zd_fail("dlopen libm.so.6 after restart: %s", dlerror());
	else {
		double (*cosp)(double) = (double (*)(double))dlsym(m, "cos");
		zd_check(cosp && cosp(0.0) == 1.0, "cos from dlopen'ed libm");
	}
	void *z = dlopen("libz.so.1", RTLD_NOW);
	if (!z)
		zd_fail("dlopen libz.so.1 after restart: %s", dlerror());
	else {
		const char *(*zv)(void) = (const char *(*)(void))dlsym(z, "zlibVersion");
		zd_check(zv && zv()[0] == '1', "zlibVersion from dlopen'ed libz");
		zd_check(dlclose(z) == 0, "dlclose libz: %s", dlerror());
	}

	/* getaddrinfo: NSS modules are dlopen'ed now */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int g = getaddrinfo("localhost", "80", &hints, &res);
	if (g)
		zd_fail("getaddrinfo(localhost) after restart: %s", gai_strerror(g));
	else {
		int ok = 0;
		for (struct addrinfo *a = res; a; a = a->ai_next)
			ok |= a->ai_family == AF_INET || a->ai_family == AF_INET6;
		zd_check(ok, "getaddrinfo(localhost) gave no inet address");
		freeaddrinfo(res);
	}

	/* locale */
	const char *loc = setlocale(LC_ALL, NULL);
	zd_check(loc && !strcmp(loc, "C.UTF-8"), "locale is '%s', want C.UTF-8", loc ? loc : "");
	zd_check(MB_CUR_MAX > 1, "MB_CUR_MAX %zu in C.UTF-8", (size_t)MB_CUR_MAX);
	wchar_t wc = 0;
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	size_t r = mbrtowc(&wc, "\xc3\xa9", 2, &st);
	zd_check(r == 2 && wc == 0xe9, "mbrtowc of U+00E9: %zd, %#x", (ssize_t)r, (unsigned)wc);
	zd_check(towupper(0xe9) == 0xc9, "towupper(U+00E9) = %#x", (unsigned)towupper(0xe9));
	return zd_finish();
}
