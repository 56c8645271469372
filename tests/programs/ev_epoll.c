/* ev_epoll: an epoll's whole interest list and its readiness come back.
 *   ev_epoll VERIFY_FILE
 * Items: a pipe with data (level-triggered), an empty pipe (EPOLLET), an
 * eventfd whose EPOLLONESHOT event was taken (disarmed), an eventfd with
 * EPOLLEXCLUSIVE, a second epoll (ready: its own pipe has data), and an
 * eventfd added as fd N whose fd N was then closed and reused for /dev/null
 * while a dup keeps the eventfd alive. The interest lists (fdinfo tfd,
 * events, data) must be the same after the restarts, the same items ready,
 * and the edge-triggered pipe must report new data. */
#include "zdtm.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static char list0[2][4096];

/* The kernel lists items by target address: compare them sorted. */
static void sort_lines(char *text)
{
	char lines[32][128], tmp[128];
	int n = 0;
	for (char *p = strtok(text, "\n"); p && n < 32; p = strtok(NULL, "\n"))
		snprintf(lines[n++], sizeof(lines[0]), "%s", p);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			memcpy(tmp, lines[j], sizeof(tmp));
			memcpy(lines[j], lines[j - 1], sizeof(tmp));
			memcpy(lines[j - 1], tmp, sizeof(tmp));
		}
	text[0] = 0;
	for (int i = 0; i < n; i++)
		strcat(strcat(text, lines[i]), "\n");
}

/* The "tfd: events: data:" part of each item line, in kernel order. */
static void interest(int ep, char *out, size_t size)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	FILE *f = fopen(path, "r");
	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *pos = strstr(line, " pos:");
		if (strncmp(line, "tfd:", 4) || !pos)
			continue;
		*pos = 0;
		snprintf(out + strlen(out), size - strlen(out), "%s\n", line);
	}
	if (f)
		fclose(f);
	sort_lines(out);
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		zd_fail("epoll_ctl add fd %d: %s", fd, strerror(errno));
}

/* The data of the ready items, ORed as bits 0..7 (data = 1 << k). */
static unsigned ready(int ep)
{
	struct epoll_event ev[16];
	unsigned bits = 0;
	int n = epoll_wait(ep, ev, 16, 0);
	for (int k = 0; k < n; k++)
		bits |= (unsigned)ev[k].data.u64;
	return bits;
}

enum { LT_PIPE = 1, ET_PIPE = 2, ONESHOT = 4, EXCL = 8, INNER = 16, STALE = 32 };

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	int lt[2], et[2], in[2];
	int ep = epoll_create1(0), inner = epoll_create1(EPOLL_CLOEXEC);
	int one = eventfd(1, 0), excl = eventfd(0, 0), stale = eventfd(1, 0);
	if (pipe(lt) < 0 || pipe(et) < 0 || pipe(in) < 0 || write(lt[1], "x", 1) != 1 ||
	    write(in[1], "y", 1) != 1)
		zd_fail("setup: %s", strerror(errno));
	add(ep, lt[0], EPOLLIN, LT_PIPE);
	add(ep, et[0], EPOLLIN | EPOLLET, ET_PIPE);
	add(ep, one, EPOLLIN | EPOLLONESHOT, ONESHOT);
	add(ep, excl, EPOLLIN | EPOLLEXCLUSIVE, EXCL);
	add(inner, in[0], EPOLLIN, 0);
	add(ep, inner, EPOLLIN, INNER);
	add(ep, stale, EPOLLIN, STALE);
	int keep = dup(stale); /* the description lives on under another number */
	close(stale);
	int reused = open("/dev/null", O_RDONLY);
	zd_check(reused == stale, "/dev/null got fd %d, not %d", reused, stale);
	unsigned want = LT_PIPE | ONESHOT | INNER | STALE;
	unsigned got = ready(ep); /* takes the one-shot event: disarmed now */
	zd_check(got == want, "ready before: %#x, want %#x", got, want);
	want &= ~ONESHOT;
	interest(ep, list0[0], sizeof(list0[0]));
	interest(inner, list0[1], sizeof(list0[1]));
	zd_ready();
	zd_wait();
	char now[4096];
	interest(ep, now, sizeof(now));
	zd_check(!strcmp(now, list0[0]), "interest list:\n%s\nwas:\n%s", now, list0[0]);
	interest(inner, now, sizeof(now));
	zd_check(!strcmp(now, list0[1]), "inner interest list:\n%s\nwas:\n%s", now, list0[1]);
	zd_check((got = ready(ep)) == want, "ready after: %#x, want %#x", got, want);
	zd_check(write(et[1], "z", 1) == 1 && (got = ready(ep)) == (want | ET_PIPE),
		 "after a write to the edge-triggered pipe: %#x", got);
	uint64_t v;
	zd_check(read(keep, &v, 8) == 8 && v == 1, "the stale item's eventfd lost its count");
	zd_check((fcntl(inner, F_GETFD) & FD_CLOEXEC), "EPOLL_CLOEXEC lost");
	return zd_finish();
}
