/* Files: regular files, directories and character devices held by a
 * descriptor (kinds "file", "dir", "chardev", reopened by path), and the
 * records of IMG_SEC_FILES (struct img_file in image/format.h: the files
 * behind descriptors and mappings, deleted files' saved contents, shared
 * memory objects, pipes). Saved by runtime/fd_file.c, restored by
 * restore/fd_file.c. */
#ifndef STASIS_IMAGE_KINDS_FD_FILE_H
#define STASIS_IMAGE_KINDS_FD_FILE_H

#include "image/kinds/kind.h"

/* An img_file record's fields, into o (the files section; other kinds'
 * objects). */
void img_file_describe(const struct img_view *v, const struct img_file *f, struct img_out *o);

#endif
