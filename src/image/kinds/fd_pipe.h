/* Pipes of the computation (kind "pipe", IMG_FD_PIPE): a descriptor names an
 * IMG_SEC_FILES record with IMG_FILE_PIPE, one per pipe (its inode names it
 * across the images), whose `size` bytes in flight are in IMG_SEC_FILEDATA
 * at data_off and whose `capacity` is F_GETPIPE_SZ. Saved by
 * runtime/fd_pipe.c, restored by restore/fd_pipe.c. */
#ifndef STASIS_IMAGE_KINDS_FD_PIPE_H
#define STASIS_IMAGE_KINDS_FD_PIPE_H

#endif
