/* Stasis plugin interface: a shared library that the runtime loads into
 * every process of a computation (`stasis launch --plugin LIB.so`, or
 * $STASIS_PLUGINS, colon-separated) and that receives the checkpoint's
 * events. docs/plugins.md and stasis-plugin(3) describe it whole; in short:
 *
 *   #include <stasis/plugin.h>
 *   static int event(const struct stasis_event *ev, char *err, size_t errlen)
 *   {
 *       if (ev->event == STASIS_EVENT_RESTART)
 *           ...;
 *       return 0;   // or -1 with a message in err: fails the event
 *   }
 *   const struct stasis_plugin stasis_plugin = {
 *       .abi = STASIS_PLUGIN_ABI, .name = "example", .event = event,
 *   };
 *
 * Build it with `cc -shared -fPIC`; the functions below are the runtime's,
 * resolved when the runtime loads the plugin (nothing to link).
 *
 * Events, in this order in each process (docs/plugins.md, "Events"):
 *   START       the process starts (the runtime's constructor, before main;
 *               a forked child, in fork before it returns), on that thread.
 *   CHECKPOINT  a checkpoint begins: every thread of the program still runs,
 *               none is stopped yet; the checkpoint thread. Blocking work is
 *               allowed (the coordinator's --timeout bounds it).
 *               stasis_plugin_save() is called here.
 *   RESUME      the checkpoint is over and the program runs on; ev->ok says
 *               whether it succeeded. After every CHECKPOINT of a process
 *               that goes on (not after `checkpoint --kill`).
 *   RESTART     the process was restarted from an image: every descriptor and
 *               every byte of memory is back, the program's threads are still
 *               held, every process of the restart is at this point or
 *               before the barrier that follows; the checkpoint thread.
 *               stasis_plugin_load() is called here.
 *   EXIT        the process calls exit() (atexit; not for _exit or a signal);
 *               after the RESUME of a checkpoint whose CHECKPOINT ran (exit()
 *               waits for it, 120 s at most).
 *
 * A plugin returns 0, or -1 with a message in err. A failed CHECKPOINT fails
 * the checkpoint (the message names the plugin; the previous checkpoint
 * stays); a failed RESTART ends the restarted process, which fails the
 * restart; failures of the other events are printed.
 */
#ifndef STASIS_PLUGIN_H
#define STASIS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

/* Bumped with any incompatible change of this header: the runtime refuses a
 * plugin built for another (the error names the plugin). */
#define STASIS_PLUGIN_ABI 1

/* The most bytes a plugin may save in one checkpoint (stasis_plugin_save). */
#define STASIS_PLUGIN_SAVE_MAX (1u << 20)
/* The longest key and value of the name service. */
#define STASIS_PLUGIN_KEY_MAX 64
#define STASIS_PLUGIN_VALUE_MAX 1024

enum stasis_event_type {
	STASIS_EVENT_START = 1,
	STASIS_EVENT_CHECKPOINT = 2,
	STASIS_EVENT_RESUME = 3,
	STASIS_EVENT_RESTART = 4,
	STASIS_EVENT_EXIT = 5,
};

struct stasis_event {
	uint32_t event;	     /* enum stasis_event_type */
	uint32_t generation; /* CHECKPOINT, RESUME: the checkpoint's; RESTART: the image's */
	int ok;		     /* RESUME: 1 if the checkpoint succeeded, 0 if it failed */
	int forked;	     /* START: 1 in a forked child (its parent's state is there) */
};

struct stasis_plugin {
	uint32_t abi;	  /* STASIS_PLUGIN_ABI */
	const char *name; /* short, unique: messages and the image's record use it */
	/* Every event; NULL: none wanted. */
	int (*event)(const struct stasis_event *ev, char *err, size_t errlen);
	/* Optional path translation (pathvirt): the path the program's open,
	 * openat, fopen, stat, lstat, fstatat, access, opendir, mkdir and unlink
	 * use instead of `path` (a relative path is given as it is), written into
	 * buf (size bytes); return buf, or NULL to leave path alone. Called on the
	 * program's threads, from any of those calls: it must not call them
	 * itself, nor allocate. */
	const char *(*path)(const char *path, char *buf, size_t size);
};

/* The symbol the runtime looks up in each plugin. */
#define STASIS_PLUGIN_SYMBOL "stasis_plugin"

/* CHECKPOINT event only: keep len bytes (at most STASIS_PLUGIN_SAVE_MAX) in
 * the image, in this plugin's record; a second call replaces the first.
 * 0, or -1 with errno (EINVAL: too long or not in that event; ENOMEM). */
int stasis_plugin_save(const struct stasis_plugin *self, const void *buf, size_t len);
/* RESTART event only: the bytes saved at the checkpoint this process was
 * restarted from, exactly; NULL with *len 0 when none were saved. */
const void *stasis_plugin_load(const struct stasis_plugin *self, size_t *len);

/* The computation's name service (the coordinator's), in the CHECKPOINT,
 * RESUME and RESTART events only. A key is a string of at most
 * STASIS_PLUGIN_KEY_MAX - 1 bytes, scoped to the computation; a value at
 * most STASIS_PLUGIN_VALUE_MAX bytes. A name lives until the computation's
 * next checkpoint begins (published at restart: until the restart ends).
 * Publishing a key twice fails (EEXIST). 0, or -1 with errno. */
int stasis_plugin_publish(const char *key, const void *value, size_t len);
/* The value of key into buf (size bytes): waits until some process of the
 * computation publishes it, timeout_ms at most (ETIMEDOUT). Its length, or
 * -1 with errno (EMSGSIZE: buf too small). */
long stasis_plugin_lookup(const char *key, void *buf, size_t size, int timeout_ms);

/* RESTART event only: the path map `stasis restart --path-map OLD=NEW` was
 * given, as "OLD=NEW" lines separated by '\n' ("" when none). The restorer
 * already reopened the files under the new prefixes. */
const char *stasis_plugin_path_map(void);

#endif
