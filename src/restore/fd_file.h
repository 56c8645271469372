/* fd_file.c: files at restart: the files behind descriptors and mappings
 * (IMG_SEC_FILES) opened again, and the descriptor kinds file, dir and
 * chardev (image/kinds/fd_file.h). */
#ifndef STASIS_RESTORE_FD_FILE_H
#define STASIS_RESTORE_FD_FILE_H

#include "restore/load.h"

/* Open file idx of the image (recreating a deleted one from its contents,
 * or a missing saved one: shm.c), checked against its size and mtime. */
int rst_open_file(const struct rst_image *img, int idx, int flags);
/* While a process's descriptors are made: a directory its files are opened
 * from again and again is held open at descriptor number slot (one no
 * descriptor of the image has), and they are opened relative to it (10000
 * descriptions of one file: 0.25 us an open instead of 0.6 to 1.3 for the
 * whole path). -1: no longer (closed). */
void rst_file_dir_slot(int slot);
/* A new unlinked file that shows as "PATH (deleted)" (made in PATH's
 * directory, or /tmp), O_RDWR|O_CLOEXEC */
int rst_tmpfile_named(const char *path, unsigned mode);

#endif
