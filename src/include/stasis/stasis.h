/* Stasis API for programs that want to take part in their checkpoints.
 *
 * Header-only: nothing to link. Under `stasis launch` the calls reach the
 * preloaded runtime; outside Stasis they do nothing and report so.
 *
 *   int stasis_is_enabled(void);
 *       1 when the program runs under Stasis, else 0.
 *   int stasis_checkpoint(void);
 *       Checkpoint the whole computation now and wait until every image is
 *       durable. Returns STASIS_CKPT_ORIGINAL (1) in the run that took the
 *       checkpoint, STASIS_CKPT_RESTARTED (2) when the program is resuming from
 *       that image after `stasis restart`, STASIS_NOT_ENABLED (0) outside
 *       Stasis, and -1 if the checkpoint failed (errno set).
 */
#ifndef STASIS_STASIS_H
#define STASIS_STASIS_H

#include <dlfcn.h>
#include <errno.h>

#define STASIS_NOT_ENABLED 0
#define STASIS_CKPT_ORIGINAL 1
#define STASIS_CKPT_RESTARTED 2

static inline void *stasis__sym(const char *name)
{
	return dlsym(RTLD_DEFAULT, name);
}

static inline int stasis_is_enabled(void)
{
	int (*fn)(void) = (int (*)(void))stasis__sym("stasis_rt_enabled");
	return fn ? fn() : 0;
}

static inline int stasis_checkpoint(void)
{
	int (*fn)(void) = (int (*)(void))stasis__sym("stasis_rt_checkpoint");
	return fn ? fn() : STASIS_NOT_ENABLED;
}

#endif
