/* plugins.c: the plugins an image's process had loaded (IMG_SEC_PLUGINS,
 * image/kinds/plugins.h) come back with its memory, mapped from their
 * files: a restart checks that every file is there before it creates
 * anything. */
#ifndef STASIS_RESTORE_PLUGINS_H
#define STASIS_RESTORE_PLUGINS_H

#include <stddef.h>

struct rst_image;
/* 0, or -1 with err naming the image, the plugin, its path and what to do. */
int rst_plugins_check(const struct rst_image *img, char *err, size_t errlen);

#endif
