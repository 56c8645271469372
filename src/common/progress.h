/* A one-line progress report on a terminal ("what: 512/1024 MiB, 820 MB/s,
 * ETA 0.6 s"), shown only when stderr is a terminal and the work has taken
 * more than a second; redrawn at most four times a second. */
#ifndef STASIS_COMMON_PROGRESS_H
#define STASIS_COMMON_PROGRESS_H

#include <stdint.h>
#include <time.h>

struct progress {
	const char *what;
	struct timespec start, last;
	int shown;
	int fd; /* -1 when it is not a terminal */
};

void progress_start(struct progress *p, const char *what, int fd);
void progress_update(struct progress *p, uint64_t done, uint64_t total);
void progress_end(struct progress *p);
/* The line itself (for tests): "what: D/T MiB, R MB/s, ETA E s". */
void progress_format(char *buf, size_t size, const char *what, uint64_t done, uint64_t total,
		     double seconds);

#endif
