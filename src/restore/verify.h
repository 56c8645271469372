/* verify.c: the checksums of mapped chunks, verified by restart while the
 * program runs. rst_verify_prepare before the restored processes exist (they
 * then leave mapped chunks unread: set->opt.verify_deferred; it holds the
 * image files they map from; -1 if it cannot, said why); rst_verify_run
 * once they do (init: their namespace's PID 1, killed on a bad chunk): -1 if
 * the memory was not what was saved (said why). */
#ifndef STASIS_RESTORE_VERIFY_H
#define STASIS_RESTORE_VERIFY_H

#include "restore/set.h"

#include <stdint.h>
#include <sys/types.h>

struct rst_verify {
	struct rst_set *set;
	pid_t init;
	int corrupt, failed;
	uint64_t bytes;
};
int rst_verify_prepare(struct rst_set *set);
int rst_verify_run(struct rst_set *set, pid_t init);

#endif
