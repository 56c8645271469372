/* fd_file.c: files at restart: the files behind descriptors and mappings
 * (IMG_SEC_FILES) opened again, and the descriptor kinds file, dir and
 * chardev (image/kinds/fd_file.h). */
#ifndef STASIS_RESTORE_FD_FILE_H
#define STASIS_RESTORE_FD_FILE_H

#include "restore/load.h"

/* Open file idx of the image (recreating a deleted one from its contents,
 * or a missing saved one: shm.c), checked against its size and mtime. */
int rst_open_file(const struct rst_image *img, int idx, int flags);
/* A new unlinked file that shows as "PATH (deleted)" (made in PATH's
 * directory, or /tmp), O_RDWR|O_CLOEXEC */
int rst_tmpfile_named(const char *path, unsigned mode);

#endif
