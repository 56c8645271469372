/* snap.c: shared pages copied at the stop, for the writer. rt_snap_prepare,
 * before the stop, makes a buffer as large as the copy would be then;
 * rt_snap_contains says whether a range meets that buffer. rt_snap_note
 * records a region's resident pages (or all of them), rt_snap_copy copies
 * every run noted (unless live); rt_snap_lookup gives the runs that meet
 * [start, end) (by address, each with its offset in the copy) and the copy's
 * base (NULL when live: read the memory itself), or -1 if the copy is gone.
 * rt_snap_release unmaps the copy (a forked writer keeps its own); a
 * restarted process forgets it (it was never part of the image). */
#ifndef STASIS_RUNTIME_SNAP_H
#define STASIS_RUNTIME_SNAP_H

#include <stddef.h>
#include <stdint.h>

struct rt_snap_run {
	uint64_t start, end;
	uint64_t off;
	uint32_t readable, reserved;
};
void rt_snap_prepare(void);
int rt_snap_contains(uint64_t start, uint64_t end);
void rt_snap_reset(void);
int rt_snap_note(uint64_t start, uint64_t end, int readable, int all, char *err, size_t errlen);
int rt_snap_copy(int live, char *err, size_t errlen);
int rt_snap_lookup(uint64_t start, uint64_t end, const struct rt_snap_run **runs, uint32_t *n,
		   const uint8_t **copy);
void rt_snap_release(void);
void rt_snap_forget(void);

#endif
