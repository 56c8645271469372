/* Image file names of a generation, and their removal (see ckptfiles.h). */
#include "common/ckptfiles.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int ckpt_generation_file(const char *name, uint64_t comp_id, uint32_t gen)
{
	char tail[64];
	size_t n = strlen(name), t;
	if (strncmp(name, "ckpt_", 5))
		return 0;
	if (n > 4 && !strcmp(name + n - 4, ".tmp"))
		n -= 4;
	snprintf(tail, sizeof(tail), "_g%u.stasis", gen);
	t = strlen(tail);
	if (n < t || strncmp(name + n - t, tail, t))
		return 0;
	snprintf(tail, sizeof(tail), "_%016llx_", (unsigned long long)comp_id);
	const char *id = strstr(name, tail);
	if (!id)
		return 0;
	for (const char *p = id + strlen(tail); p < name + n - t; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* getdents64 rather than opendir(), which allocates. A name is unlinked while
 * the listing goes on: entries not yet listed are still listed. */
void ckpt_remove_generation_in(const char *dir, uint64_t comp_id, uint32_t gen)
{
	char buf[4096];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	long got;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < got;) {
			struct dirent64_raw *e = (struct dirent64_raw *)(buf + off);
			if (ckpt_generation_file(e->d_name, comp_id, gen))
				unlinkat(fd, e->d_name, 0);
			off += e->d_reclen;
		}
	close(fd);
}
