/* Listing numeric entries of /proc directories without opendir(), which
 * allocates with the application's malloc (a suspended thread may hold its lock). */
#include "runtime/dirlist.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
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

/* The kernel makes a dentry and an inode for every entry of /proc/self/fd it
 * lists (and drops them after): 10000 descriptors, 10 ms a listing. Since
 * Linux 6.2 the directory's size is the number of open descriptors: when the
 * table is dense, F_GETFD on each number finds them in a fifth of that; a
 * sparse table (or an older kernel, or a descriptor opened or closed by
 * another thread meanwhile) is listed. */
int rt_list_own_fds(int *out, int max, int *self_fd)
{
	struct stat st;
	if (self_fd)
		*self_fd = -1;
	if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) {
		long want = st.st_size, limit = 8 * want + 1024, n = 0;
		for (long fd = 0; fd < limit && n < want; fd++) {
			if (fcntl((int)fd, F_GETFD) < 0)
				continue;
			if (n < max)
				out[n] = (int)fd;
			n++;
		}
		if (n == want)
			return n < max ? (int)n : max;
	}
	return rt_list_numeric("/proc/self/fd", out, max, self_fd);
}
