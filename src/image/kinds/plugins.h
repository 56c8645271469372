/* Plugins (IMG_SEC_PLUGINS, kind "plugin"): every plugin the process had
 * loaded (stasis/plugin.h), in load order, with the bytes it saved at the
 * checkpoint (stasis_plugin_save) in IMG_SEC_FILEDATA. Saved by
 * runtime/plugin.c, checked by restore/plugins.c before a restart creates
 * anything (the plugin's file must be there again).
 *   0 32 name (NUL-padded)   32 4 path_str (into IMG_SEC_STRINGS: the file
 *   the runtime loaded)   36 4 flags (IMG_PLUGIN_SAVED: data_len bytes were
 *   saved, maybe 0)   40 8 data_off (into IMG_SEC_FILEDATA)   48 8 data_len
 *   56 8 reserved (0) */
#ifndef STASIS_IMAGE_KINDS_PLUGINS_H
#define STASIS_IMAGE_KINDS_PLUGINS_H

#include <stdint.h>

#define IMG_PLUGIN_SAVED (1u << 0)
#define IMG_PLUGIN_DATA_MAX (1u << 20) /* STASIS_PLUGIN_SAVE_MAX */
struct img_plugin {
	char name[32];
	uint32_t path_str;
	uint32_t flags;
	uint64_t data_off;
	uint64_t data_len;
	uint64_t reserved;
};
_Static_assert(sizeof(struct img_plugin) == 64, "img_plugin");

#endif
