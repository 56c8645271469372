#include "common/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

void progress_start(struct progress *p, const char *what, int fd)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	p->fd = isatty(fd) ? fd : -1;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
}

void progress_format(char *buf, size_t size, const char *what, uint64_t done, uint64_t total,
		     double seconds)
{
	double rate = seconds > 0 ? done / seconds : 0;
	int n = snprintf(buf, size, "%s: %llu/%llu MiB, %.0f MB/s", what,
			 (unsigned long long)(done >> 20), (unsigned long long)(total >> 20),
			 rate / 1e6);
	if (n > 0 && (size_t)n < size && rate > 0 && total > done)
		snprintf(buf + n, size - n, ", ETA %.1f s", (total - done) / rate);
}

void progress_update(struct progress *p, uint64_t done, uint64_t total)
{
	struct timespec now;
	char line[160];
	if (p->fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (seconds_between(&p->start, &now) < 1.0 || seconds_between(&p->last, &now) < 0.25)
		return;
	p->last = now;
	progress_format(line, sizeof(line), p->what, done, total, seconds_between(&p->start, &now));
	dprintf(p->fd, "\r%s\033[K", line);
	p->shown = 1;
}

void progress_end(struct progress *p)
{
	if (p->shown)
		dprintf(p->fd, "\r\033[K");
	p->shown = 0;
}
