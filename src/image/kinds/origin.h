/* Origin (IMG_SEC_ORIGIN, kind "origin"): where and what the process ran, for
 * `stasis inspect` (nothing is restored from it): the host's name and kernel,
 * as uname(2) gave them at the checkpoint, and the process's command line
 * (its argv, read from its own memory between mm.arg_start and arg_end: what
 * /proc/PID/cmdline shows). Saved by runtime/procinfo.c; read by inspect.
 *   0 4 host_str   4 4 release_str (uname -r)   8 4 version_str (uname -v)
 *   12 4 argv_str: the first of argc consecutive strings   16 4 argc
 *   20 4 flags (IMG_ORIGIN_ARGV_CUT)   24 8 reserved (0)
 * The strings are offsets into IMG_SEC_STRINGS. */
#ifndef STASIS_IMAGE_KINDS_ORIGIN_H
#define STASIS_IMAGE_KINDS_ORIGIN_H

#include <stdint.h>

#define IMG_ORIGIN_ARGV_CUT (1u << 0) /* the command line was longer: argv is its start */
#define IMG_ORIGIN_MAX_ARGV 65536     /* bytes of the command line kept at most */
struct img_origin {
	uint32_t host_str, release_str, version_str;
	uint32_t argv_str, argc;
	uint32_t flags;
	uint32_t reserved[2];
};
_Static_assert(sizeof(struct img_origin) == 32, "img_origin");

struct img_view;
struct img_out;
/* The command line's words, as the list "argv" of o (kind.h). */
void img_origin_argv(const struct img_view *v, const struct img_origin *g, struct img_out *o);

#endif
