/* /proc/self/fdinfo: what the kernel shows of an event descriptor's state.
 * Read with plain syscalls into the caller's buffer: no malloc on the
 * checkpoint path. */
#include "runtime/fd_info.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t rt_fdinfo_read(int fd, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read_full(f, buf, size - 1);
	close(f);
	if (n < 0)
		return -1;
	if ((size_t)n == size - 1) {
		errno = E2BIG;
		return -1;
	}
	buf[n] = 0;
	return n;
}

const char *rt_fdinfo_field(const char *info, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, k))
			continue;
		p += k;
		while (*p == ' ' || *p == '\t')
			p++;
		return p;
	}
	return NULL;
}

int rt_fdinfo_u64(const char *info, const char *key, int base, unsigned long long *v)
{
	const char *p = rt_fdinfo_field(info, key);
	char *end;
	if (!p)
		return -1;
	errno = 0;
	*v = strtoull(p, &end, base);
	return end == p || errno ? -1 : 0;
}
