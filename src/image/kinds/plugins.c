/* Plugins: their records checked and described (plugins.h). */
#include "image/kinds/plugins.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <string.h>

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_plugin *p = rec;
	(void)len;
	if (!p->name[0] || !memchr(p->name, 0, sizeof(p->name)))
		return errf(why, whylen, "plugin %u has no name", i);
	if (!img_view_has_str(v, p->path_str) || (p->flags & ~IMG_PLUGIN_SAVED) || p->reserved)
		return errf(why, whylen, "plugin %u (%s) is invalid", i, p->name);
	if (p->data_len > IMG_PLUGIN_DATA_MAX || !img_view_has_data(v, p->data_off, p->data_len) ||
	    (p->data_len && !(p->flags & IMG_PLUGIN_SAVED)))
		return errf(why, whylen, "plugin %u (%s): its %llu saved bytes are out of range", i,
			    p->name, (unsigned long long)p->data_len);
	return 0;
}

static const char *const flags[] = {"saved"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_plugin *p = rec;
	(void)i, (void)len;
	out_strn(o, "name", p->name, strnlen(p->name, sizeof(p->name)));
	out_str(o, "path", img_view_str(v, p->path_str));
	out_flags(o, "flags", p->flags, OUT_NAMES(flags));
	out_u64(o, "size", p->data_len);
}

const struct img_kind img_kind_plugin = {
    .name = "plugin",
    .about = "a plugin the process loaded, with the bytes it saved",
    .section = IMG_SEC_PLUGINS,
    .size = sizeof(struct img_plugin),
    .validate = validate,
    .describe = describe,
};
