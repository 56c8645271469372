/* The names of a computation's image files, ckpt_<prog>_<comp_id>_<pid>_g<gen>.stasis
 * (and .stasis.tmp while written), and their removal. Used by the coordinator
 * and by the runtime's checkpoint thread: no allocation (a suspended thread
 * of the program may hold malloc's lock). */
#ifndef STASIS_COMMON_CKPTFILES_H
#define STASIS_COMMON_CKPTFILES_H

#include <stdint.h>

/* name (no directory) is an image of comp_id's generation gen, or its temp file */
int ckpt_generation_file(const char *name, uint64_t comp_id, uint32_t gen);

/* Remove every image (and temp file) of comp_id's generation gen in dir. */
void ckpt_remove_generation_in(const char *dir, uint64_t comp_id, uint32_t gen);

#endif
