/* plugin.c: plugins (stasis/plugin.h, docs/plugins.md): loaded from
 * $STASIS_PLUGINS when the runtime is, given every event of the process, their
 * saved bytes recorded in the image (IMG_SEC_PLUGINS), the name service and
 * the path map they call. Without plugins rt_nplugins is 0 and the runtime
 * calls nothing here but that test. */
#ifndef STASIS_RUNTIME_PLUGIN_H
#define STASIS_RUNTIME_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

extern int rt_nplugins;	    /* plugins loaded */
extern int rt_path_plugins; /* of them, those with a path callback (plugin_paths.c) */

/* Load every plugin of $STASIS_PLUGINS, in order: 0, or -1 with err set
 * (the file cannot be loaded, has no descriptor, another ABI, a bad name). */
int rt_plugins_load(char *err, size_t errlen);
/* START in a new process (forked: a forked child), EXIT at exit(). */
void rt_plugins_start(int forked);
/* CHECKPOINT for generation gen: 0, or -1 with err naming the plugin that
 * failed (the ones before it get RESUME). */
int rt_plugins_checkpoint(uint32_t gen, char *err, size_t errlen);
/* RESUME to every plugin whose CHECKPOINT ran; ok: the checkpoint succeeded. */
void rt_plugins_resume(uint32_t gen, int ok);
/* RESTART after a restart from generation gen: 0, or -1 with err. */
int rt_plugins_restart(uint32_t gen, char *err, size_t errlen);

/* The calling thread is the runtime's (the checkpoint thread): its paths
 * are never translated. */
void rt_plugins_runtime_thread(void);
/* The path a plugin's path callback gives for path (into buf), or path. */
const char *rt_plugin_path(const char *path, char *buf, size_t size);

/* The image's plugin records (IMG_SEC_PLUGINS), their paths in tab and their
 * saved bytes in files' data: 0, or -1 with err set. */
struct rt_strtab;
struct rt_files;
struct img_plugin;
int rt_plugins_dump(struct img_plugin **recs, uint32_t *n, struct rt_strtab *tab,
		    struct rt_files *files, char *err, size_t errlen);

#endif
