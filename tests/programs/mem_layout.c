/* mem_layout: protections and moved or punched regions across
 * checkpoint/restart.
 *
 *   mem_layout VERIFY_FILE
 *
 * Read-only pages keep their contents and still fault on a write; a region
 * grown with mremap and then moved to a fixed place keeps both parts and its
 * bounds, and its old place stays unmapped; pages dropped with MADV_DONTNEED
 * read as zero between pages that kept theirs.
 */
#include "memtest.h"

int main(int argc, char **argv)
{
	uintptr_t s, e;
	char perms[5];
	zd_init(argc, argv);
	mt_catch_faults();
	uint8_t *ro =
	    mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(ro, 8 * PG, 8);
	mprotect(ro, 8 * PG, PROT_READ);
	zd_check(write_faults(ro + 3 * PG + 5), "before: write to read-only page did not fault");
	uint8_t *mr =
	    mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(mr, 4 * PG, 9);
	mr = mremap(mr, 4 * PG, 64 * PG, MREMAP_MAYMOVE);
	fill(mr + 4 * PG, 60 * PG, 10);
	uint8_t *target = mmap(NULL, 128 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(target, 128 * PG);
	uint8_t *old_mr = mr;
	mr = mremap(mr, 64 * PG, 64 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, target + 32 * PG);
	if (mr == MAP_FAILED) {
		zd_fail("mremap fixed: %s", strerror(errno));
		return zd_finish();
	}
	uint8_t *dn =
	    mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(dn, 16 * PG, 16);
	madvise(dn + 4 * PG, 4 * PG, MADV_DONTNEED);
	zd_check(check_zero(dn + 4 * PG, 4 * PG) < 0, "before: MADV_DONTNEED'd pages not zero");

	zd_ready();
	zd_wait();

	CHECK_PAT(ro, 8 * PG, 8, "read-only pages");
	zd_check(write_faults(ro + 3 * PG + 5), "write to read-only page did not fault");
	zd_check(maps_line(ro, &s, &e, perms) && !strcmp(perms, "r--p"),
		 "read-only pages mapped %s", perms);
	CHECK_PAT(mr, 4 * PG, 9, "mremap'd region (original pages)");
	CHECK_PAT(mr + 4 * PG, 60 * PG, 10, "mremap'd region (grown pages)");
	zd_check(!is_mapped(old_mr), "the old place of the moved region is mapped again");
	zd_check(maps_line(mr, &s, &e, perms) && s == (uintptr_t)mr && e == (uintptr_t)mr + 64 * PG,
		 "mremap'd region maps as %lx-%lx, want %p-%p", (unsigned long)s, (unsigned long)e,
		 (void *)mr, (void *)(mr + 64 * PG));
	CHECK_PAT(dn, 4 * PG, 16, "pages before the MADV_DONTNEED range");
	zd_check(check_zero(dn + 4 * PG, 4 * PG) < 0, "MADV_DONTNEED'd pages are not zero");
	for (size_t i = 8 * PG; i < 16 * PG; i++)
		if (dn[i] != pat(i, 16)) {
			zd_fail("pages after the MADV_DONTNEED range: byte %zu differs", i);
			break;
		}
	return zd_finish();
}
