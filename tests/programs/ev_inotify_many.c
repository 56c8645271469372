/* ev_inotify_many: inotify instances with more watches than a page of
 * fdinfo holds (KEPT, about 110 bytes each), through which far more watches
 * than the runtime's table holds (16384) were added and removed again: the
 * runtime must forget each one removed, or its table fills and the watch
 * added last makes the checkpoint fail as one it never saw.
 *   ev_inotify_many VERIFY_FILE one|two|gone     (run in a scratch directory)
 * one: a single instance; two: two instances whose watches have the same
 * numbers on different files (the runtime tells them apart by fdinfo);
 * gone: the watches are not removed but go with their instance, closed, or
 * with their file, deleted (the runtime drops their records once its table
 * is full).
 * After the restarts, fdinfo shows the same watches, and a write to each
 * file watched last is reported with its wd. */
#include "zdtm.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#define KEPT 100
#define TABLE 16384

static int count_watches(int fd)
{
	char path[64], line[512];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		n += !strncmp(line, "inotify wd:", 11);
	if (f)
		fclose(f);
	return n;
}

static int make(const char *name)
{
	int f = open(name, O_WRONLY | O_CREAT, 0600);
	if (f < 0)
		zd_fail("%s: %s", name, strerror(errno));
	return f;
}

static void drain(int in)
{
	char buf[4096];
	while (read(in, buf, sizeof(buf)) > 0) /* the IN_IGNORED of each removed */
		;
}

static void check_event(int in, int fd, int wd, const char *what)
{
	char buf[4096];
	zd_check(write(fd, "x", 1) == 1, "write %s: %s", what, strerror(errno));
	zd_sleep_ms(50);
	ssize_t n = read(in, buf, sizeof(buf));
	struct inotify_event *e = (struct inotify_event *)buf;
	zd_check(n >= (ssize_t)sizeof(*e) && e->wd == wd && (e->mask & IN_MODIFY),
		 "%s: no IN_MODIFY of wd %d (read %zd: wd %d mask %#x)", what, wd, n,
		 n > 0 ? e->wd : -1, n > 0 ? e->mask : 0);
}

/* More watches than the table holds go without inotify_rm_watch: instances
 * of KEPT watches closed (each watch a new pair of number and file: instance
 * i watches g/((7 i + k) mod GFILES) as k + 1), and watches of files then
 * deleted. */
#define GFILES 1000

static void gone_watches(void)
{
	char name[64];
	if (mkdir("g", 0700) < 0)
		zd_fail("mkdir: %s", strerror(errno));
	for (int i = 0; i < GFILES; i++) {
		snprintf(name, sizeof(name), "g/%d", i);
		close(make(name));
	}
	for (int i = 0; i < TABLE / KEPT + 10; i++) {
		int t = inotify_init1(IN_NONBLOCK);
		for (int k = 0; t >= 0 && k < KEPT; k++) {
			snprintf(name, sizeof(name), "g/%d", (7 * i + k) % GFILES);
			if (inotify_add_watch(t, name, IN_ATTRIB) < 0)
				zd_fail("watch %s: %s", name, strerror(errno));
		}
		if (t < 0 || close(t) < 0)
			zd_fail("instance %d: %s", i, strerror(errno));
	}
	int t = inotify_init1(IN_NONBLOCK);
	for (int i = 0; t >= 0 && i < KEPT; i++) {
		snprintf(name, sizeof(name), "w/gone%d", i);
		close(make(name));
		if (inotify_add_watch(t, name, IN_ATTRIB) < 0 || unlink(name) < 0)
			zd_fail("watch %s: %s", name, strerror(errno));
	}
	zd_check(t >= 0 && count_watches(t) == 0, "watches of deleted files: %d", count_watches(t));
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	int ninst = argc > 2 && !strcmp(argv[2], "two") ? 2 : 1;
	int gone = argc > 2 && !strcmp(argv[2], "gone");
	int in[2], last[2], wd[2];
	char name[64];
	if (mkdir("w", 0700) < 0)
		zd_fail("mkdir: %s", strerror(errno));
	for (int i = 0; i < KEPT; i++) {
		snprintf(name, sizeof(name), "w/f%d", i);
		close(make(name));
	}
	for (int k = 0; k < ninst; k++) {
		snprintf(name, sizeof(name), "w/last%d", k);
		last[k] = make(name);
		if ((in[k] = inotify_init1(IN_NONBLOCK)) < 0)
			zd_fail("inotify_init1: %s", strerror(errno));
		for (int i = 0; i < KEPT; i++) {
			snprintf(name, sizeof(name), "w/f%d", i);
			if (inotify_add_watch(in[k], name, IN_ATTRIB) < 0)
				zd_fail("watch %s: %s", name, strerror(errno));
		}
	}
	if (gone)
		gone_watches();
	/* enough to fill the table if nothing removed were forgotten */
	for (int i = 0; !gone && i < TABLE / ninst + 100; i++) {
		for (int k = 0; k < ninst; k++) {
			snprintf(name, sizeof(name), "w/last%d", k);
			if ((wd[k] = inotify_add_watch(in[k], name, IN_MODIFY)) < 0)
				zd_fail("add %d: %s", i, strerror(errno));
		}
		for (int k = 0; k < ninst; k++)
			if (inotify_rm_watch(in[k], wd[k]) < 0)
				zd_fail("remove %d: %s", i, strerror(errno));
		if (zd_failed)
			break;
	}
	for (int k = ninst - 1; k >= 0; k--) {
		drain(in[k]);
		snprintf(name, sizeof(name), "w/last%d", k);
		wd[k] = inotify_add_watch(in[k], name, IN_MODIFY);
		zd_check(wd[k] > KEPT && count_watches(in[k]) == KEPT + 1,
			 "instance %d: wd %d, %d watches", k, wd[k], count_watches(in[k]));
		/* the first instance has no watch of that number yet: removing it
		 * there fails, and must not make the runtime forget the other's */
		if (k == 1)
			zd_check(inotify_rm_watch(in[0], wd[1]) < 0 && errno == EINVAL,
				 "removing wd %d of instance 0 did not fail", wd[1]);
	}
	zd_ready();
	zd_wait();
	for (int k = 0; k < ninst; k++) {
		snprintf(name, sizeof(name), "instance %d", k);
		zd_check(count_watches(in[k]) == KEPT + 1, "%s: %d watches after restart", name,
			 count_watches(in[k]));
		check_event(in[k], last[k], wd[k], name);
	}
	return zd_finish();
}
