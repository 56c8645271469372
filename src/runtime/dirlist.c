/* Listing numeric entries of /proc directories without opendir(), which
 * allocates with the application's malloc (a suspended thread may hold its lock). */
#include "runtime/dirlist.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void sort_ints(int *v, int n)
{
	for (int i = 1; i < n; i++) {
		int x = v[i], j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

int rt_list_numeric(const char *dir, int *out, int max, int *self_fd)
{
	char buf[4096];
	int n = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (self_fd)
		*self_fd = fd;
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (got < 0) {
			close(fd);
			return -1;
		}
		if (got == 0)
			break;
		for (long off = 0; off < got;) {
			struct linux_dirent64 *e = (void *)(buf + off);
			off += e->d_reclen;
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			if (n < max)
				out[n++] = atoi(e->d_name);
		}
	}
	close(fd);
	sort_ints(out, n);
	return n;
}
