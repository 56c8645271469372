/* Whether a program can run under the runtime: LD_PRELOAD reaches only
 * dynamically linked x86_64 programs. Read from the ELF header and program
 * headers (a script is judged by its interpreter), by `stasis launch` before
 * it starts a program and by the runtime's exec wrappers. */
#ifndef STASIS_COMMON_PROGKIND_H
#define STASIS_COMMON_PROGKIND_H

#include <stddef.h>

enum prog_kind {
	PROG_DYNAMIC = 0, /* the runtime can be preloaded (or the kind is not known) */
	PROG_STATIC,	  /* x86_64, statically linked: no dynamic loader reads LD_PRELOAD */
	PROG_32BIT,	  /* a 32-bit ELF (i386, x32): a 64-bit library cannot be loaded */
};

enum prog_kind prog_kind(const char *path);

/* "statically linked" or "a 32-bit program", for messages */
const char *prog_kind_text(enum prog_kind k);

/* The file exec would run for file: file itself if it holds a '/', else the
 * first executable file of that name in path (a $PATH value; NULL: the
 * default). Returns 0, or -1 if there is none. */
int prog_find(const char *file, const char *path, char *out, size_t size);

#endif
