/* ev_inotify: an inotify instance keeps its watches, with their paths,
 * masks and watch descriptors (a removed watch leaves a gap in the wds).
 *   ev_inotify VERIFY_FILE      (run in a scratch directory: it makes d1..d3)
 * After the restarts, a file created in d1 and a write in d3 are reported
 * with the saved wds, d2 (removed) reports nothing, and fdinfo shows the same
 * watches. */
#include "zdtm.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>

static void watches(int fd, char *out, size_t size)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *cut = strstr(line, " fhandle");
		if (strncmp(line, "inotify wd:", 11) || !cut)
			continue;
		*cut = 0;
		snprintf(out + strlen(out), size - strlen(out), "%s\n", line);
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	char before[2048], after[2048], buf[4096];
	mkdir("d1", 0700);
	mkdir("d2", 0700);
	mkdir("d3", 0700);
	int f3 = open("d3/file", O_WRONLY | O_CREAT, 0600);
	int in = inotify_init1(IN_NONBLOCK);
	int w1 = inotify_add_watch(in, "d1", IN_CREATE);
	int w2 = inotify_add_watch(in, "d2", IN_ALL_EVENTS);
	int w3 = inotify_add_watch(in, "d3", IN_MODIFY | IN_ONESHOT);
	if (in < 0 || f3 < 0 || w1 < 0 || w2 < 0 || w3 < 0 || inotify_rm_watch(in, w2) < 0)
		zd_fail("setup: %s", strerror(errno));
	while (read(in, buf, sizeof(buf)) > 0) /* the IN_IGNORED of w2 */
		;
	watches(in, before, sizeof(before));
	zd_check(w3 == w2 + 1 && w2 == w1 + 1, "wds %d %d %d", w1, w2, w3);
	zd_ready();
	zd_wait();
	watches(in, after, sizeof(after));
	zd_check(!strcmp(before, after), "watches:\n%s\nwere:\n%s", after, before);
	int c = open("d1/new", O_WRONLY | O_CREAT, 0600);
	zd_check(c >= 0 && write(f3, "x", 1) == 1, "cannot make events: %s", strerror(errno));
	if (mkdir("d2/sub", 0700) < 0)
		zd_fail("mkdir: %s", strerror(errno));
	zd_sleep_ms(50);
	int seen1 = 0, seen3 = 0, other = 0;
	ssize_t n = read(in, buf, sizeof(buf));
	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		if (e->wd == w1 && (e->mask & IN_CREATE) && !strcmp(e->name, "new"))
			seen1 = 1;
		else if (e->wd == w3 && (e->mask & IN_MODIFY))
			seen3 = 1;
		else if (!(e->wd == w3 && (e->mask & IN_IGNORED))) /* one-shot ends */
			other++, zd_fail("unexpected event wd %d mask %#x", e->wd, e->mask);
		p += sizeof(*e) + e->len;
	}
	zd_check(seen1 && seen3, "events: create in d1 %d, modify in d3 %d", seen1, seen3);
	return zd_finish();
}
