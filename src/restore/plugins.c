/* Plugins at restart (plugins.h). */
#include "restore/plugins.h"
#include "restore/load.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int rst_plugins_check(const struct rst_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < img->nplugins; i++) {
		const struct img_plugin *p = &img->plugins[i];
		const char *path = rst_str(img, p->path_str);
		if (access(path, R_OK) < 0)
			return errf(
			    err, errlen,
			    "%s: plugin %.*s was loaded from %s, which cannot be read now "
			    "(%s): put the plugin back there, or give --path-map OLD=NEW if "
			    "it moved",
			    img->r.path, (int)sizeof(p->name), p->name, path, strerror(errno));
	}
	return 0;
}
