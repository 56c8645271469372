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
 *   int stasis_disable_checkpoint(void);
 *   int stasis_enable_checkpoint(void);
 *       Open and close a critical section: a checkpoint waits until every
 *       section of the process is closed (10 s at most, then it fails); a
 *       thread opening one while a checkpoint runs waits until it is over.
 *       They nest per thread. 1 under Stasis, 0 outside; enable without a
 *       section open: -1 (EINVAL).
 *   unsigned stasis_generation(void);
 *       The generation of the last complete checkpoint this process took
 *       part in (or was restarted from); 0 before any, or outside Stasis.
 *   const char *stasis_checkpoint_dir(void);
 *       Where its images go (the coordinator's directory); NULL outside.
 *   unsigned stasis_restart_count(void);
 *       How many times this process was restarted from an image.
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

static inline int stasis_disable_checkpoint(void)
{
	int (*fn)(void) = (int (*)(void))stasis__sym("stasis_rt_disable");
	return fn ? fn() : STASIS_NOT_ENABLED;
}

static inline int stasis_enable_checkpoint(void)
{
	int (*fn)(void) = (int (*)(void))stasis__sym("stasis_rt_enable");
	return fn ? fn() : STASIS_NOT_ENABLED;
}

static inline unsigned stasis_generation(void)
{
	unsigned (*fn)(void) = (unsigned (*)(void))stasis__sym("stasis_rt_generation");
	return fn ? fn() : 0;
}

static inline const char *stasis_checkpoint_dir(void)
{
	const char *(*fn)(void) = (const char *(*)(void))stasis__sym("stasis_rt_ckpt_dir");
	return fn ? fn() : (const char *)0;
}

static inline unsigned stasis_restart_count(void)
{
	unsigned (*fn)(void) = (unsigned (*)(void))stasis__sym("stasis_rt_restarts");
	return fn ? fn() : 0;
}

#endif
