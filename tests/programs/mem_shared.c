/* mem_shared: shared and file mappings across checkpoint/restart.
 *
 *   mem_shared VERIFY_FILE        (files mem_shared.private, mem_shared.shared
 *                                  in the cwd)
 *
 * MAP_SHARED|MAP_ANONYMOUS keeps its contents and stays shared; a private
 * file mapping keeps the pages written in it, the others the file's, and
 * none of its writes reach the file; a shared file mapping keeps what was
 * written before the checkpoint, and what is written after the restart
 * reaches the file.
 */
#include "memtest.h"

#include <fcntl.h>

#define PF_LEN (16 * PG)
#define SF_LEN (8 * PG)

static uint8_t *map_file(const char *name, size_t len, int shared, const uint8_t *data)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (data ? write(fd, data, len) != (ssize_t)len : ftruncate(fd, len) < 0)) {
		zd_fail("%s: %s", name, strerror(errno));
		return NULL;
	}
	uint8_t *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void check_private(uint8_t *pf, const uint8_t *filebuf, uint8_t *disk)
{
	uintptr_t s, e;
	char perms[5];
	for (int p = 0; p < 16; p++) {
		long at = p == 2				      ? check(pf + p * PG, PG, 13)
			  : p == 9				      ? check(pf + p * PG, PG, 14)
			  : memcmp(pf + p * PG, filebuf + p * PG, PG) ? 0
								      : -1;
		zd_check(at < 0, "private file mapping page %d: byte %ld differs", p, at);
	}
	zd_check(maps_line(pf, &s, &e, perms) && perms[3] == 'p', "private file mapping is %s",
		 perms);
	int fd = open("mem_shared.private", O_RDONLY);
	zd_check(fd >= 0 && pread(fd, disk, PF_LEN, 0) == (ssize_t)PF_LEN &&
		     !memcmp(disk, filebuf, PF_LEN),
		 "mem_shared.private changed on disk (private writes leaked into the file)");
	close(fd);
}

static void check_shared_file(uint8_t *sf, uint8_t *disk)
{
	CHECK_PAT(sf, 4 * PG, 15, "shared file mapping");
	fill(sf + 4 * PG, 4 * PG, 19);
	sf[0] = 0xee;
	msync(sf, SF_LEN, MS_SYNC);
	int fd = open("mem_shared.shared", O_RDONLY);
	if (fd < 0 || pread(fd, disk, SF_LEN, 0) != (ssize_t)SF_LEN) {
		zd_fail("mem_shared.shared: cannot read back");
	} else {
		zd_check(disk[0] == 0xee,
			 "a write to the shared file mapping after restart is not in the file");
		CHECK_PAT(disk + 4 * PG, 4 * PG, 19,
			  "mem_shared.shared on disk (written after restart)");
		disk[0] = pat(0, 15); /* the byte rewritten after restart */
		CHECK_PAT(disk, 4 * PG, 15,
			  "mem_shared.shared on disk (written before the checkpoint)");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	uintptr_t s, e;
	char perms[5];
	zd_init(argc, argv);
	size_t sh_len = 2 * MiB;
	uint8_t *sh = mmap(NULL, sh_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(sh, sh_len, 11);
	uint8_t *filebuf = malloc(PF_LEN), *disk = malloc(PF_LEN);
	fill(filebuf, PF_LEN, 12);
	uint8_t *pf = map_file("mem_shared.private", PF_LEN, 0, filebuf);
	uint8_t *sf = map_file("mem_shared.shared", SF_LEN, 1, NULL);
	if (!pf || !sf)
		return zd_finish();
	fill(pf + 2 * PG, PG, 13);
	fill(pf + 9 * PG, PG, 14);
	fill(sf, 4 * PG, 15);

	zd_ready();
	zd_wait();

	CHECK_PAT(sh, sh_len, 11, "MAP_SHARED|MAP_ANONYMOUS");
	zd_check(maps_line(sh, &s, &e, perms) && perms[3] == 's',
		 "MAP_SHARED|MAP_ANONYMOUS is mapped %s, not shared", perms);
	check_private(pf, filebuf, disk);
	check_shared_file(sf, disk);
	return zd_finish();
}
