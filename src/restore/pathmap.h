/* pathmap.c: `stasis restart --path-map OLD=NEW`: files that moved. Every
 * path the restorer reads from an image (rst_str: the files behind
 * descriptors and mappings, the working directory, the executable, FIFOs,
 * inotify watches, plugins) that is OLD or under OLD/ is taken under NEW
 * instead; the restarted processes' plugins get the map too
 * (stasis_plugin_path_map, through struct rt_restart_info). */
#ifndef STASIS_RESTORE_PATHMAP_H
#define STASIS_RESTORE_PATHMAP_H

#include <stddef.h>

/* Add OLD=NEW (both absolute): 0, or -1 with err set. */
int rst_pathmap_add(const char *arg, char *err, size_t errlen);
/* path under the map: a string that stays valid, or path itself. */
const char *rst_pathmap_apply(const char *path);
/* The map as "OLD=NEW" lines, '\n'-separated ("" without one). */
const char *rst_pathmap_text(void);

#endif
