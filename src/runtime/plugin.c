/* Plugins (plugin.h, stasis/plugin.h): each is a shared library that
 * $STASIS_PLUGINS names and that exports one struct stasis_plugin. The
 * runtime dlopens them in its constructor, before it joins the coordinator,
 * and calls their events from ckpt.c. A plugin's saved bytes live in a
 * mapping of the runtime's: it is part of the process's memory, so the
 * restored process has them back, and they are also the plugin's record in
 * the image (for inspect, and checked by restart). */
#include "runtime/plugin.h"
#include "runtime/arena.h"
#include "runtime/ckpt.h"
#include "runtime/fd_file.h"
#include "runtime/libc.h"
#include "runtime/quiesce.h"
#include "runtime/state.h"
#include "runtime/strtab.h"
#include "image/kinds/plugins.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"
#include "stasis/plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RT_MAX_PLUGINS 16
#define NS_ANSWER_MS 10000  /* a publish's answer */
#define EXIT_WAIT_MS 120000 /* exit() waits this long at most for a RESUME due */

_Static_assert(STASIS_PLUGIN_SAVE_MAX == IMG_PLUGIN_DATA_MAX, "the image's limit is the API's");
_Static_assert(STASIS_PLUGIN_KEY_MAX == PROTO_KEY_LEN, "the key is the protocol's");
_Static_assert(STASIS_PLUGIN_VALUE_MAX == PROTO_VALUE_MAX, "the value is the protocol's");

struct rt_plugin {
	const struct stasis_plugin *p;
	char path[PATH_MAX];
	char name[32];
	void *saved; /* a mapping of its own, part of the image's memory */
	size_t saved_len, saved_cap;
	int has_saved;	/* stasis_plugin_save() in the last CHECKPOINT */
	int resume_due; /* its CHECKPOINT ran */
};

static struct rt_plugin plugins[RT_MAX_PLUGINS];
int rt_nplugins;
int rt_path_plugins;
/* A CHECKPOINT ran and its RESUME is not delivered yet: the generation, or 0
 * (a futex word: exit() waits for it, see plugins_exit). */
static int resume_pending;
static __thread uint32_t in_event; /* the event this thread is delivering */
static __thread struct rt_plugin *current;
static __thread int runtime_thread;

static const char *event_name(uint32_t e)
{
	static const char *const names[] = {[STASIS_EVENT_START] = "start",
					    [STASIS_EVENT_CHECKPOINT] = "checkpoint",
					    [STASIS_EVENT_RESUME] = "resume",
					    [STASIS_EVENT_RESTART] = "restart",
					    [STASIS_EVENT_EXIT] = "exit"};
	return e < sizeof(names) / sizeof(names[0]) && names[e] ? names[e] : "unknown";
}

static int check(struct rt_plugin *pl, void *h, char *err, size_t errlen)
{
	const struct stasis_plugin *d = dlsym(h, STASIS_PLUGIN_SYMBOL);
	if (!d)
		return errf(err, errlen,
			    "plugin %s exports no '%s': define `const struct stasis_plugin "
			    "stasis_plugin` (stasis/plugin.h)",
			    pl->path, STASIS_PLUGIN_SYMBOL);
	if (d->abi != STASIS_PLUGIN_ABI)
		return errf(err, errlen,
			    "plugin %s was built for plugin ABI %u, this runtime has ABI %u: "
			    "rebuild it against this Stasis's <stasis/plugin.h>",
			    pl->path, d->abi, STASIS_PLUGIN_ABI);
	if (!d->name || !d->name[0] || strlen(d->name) >= sizeof(pl->name))
		return errf(err, errlen, "plugin %s: its name must have 1 to %zu characters",
			    pl->path, sizeof(pl->name) - 1);
	for (int i = 0; i < rt_nplugins; i++)
		if (!strcmp(plugins[i].name, d->name))
			return errf(err, errlen, "plugin %s: another plugin (%s) is named %s too",
				    pl->path, plugins[i].path, d->name);
	pl->p = d;
	snprintf(pl->name, sizeof(pl->name), "%s", d->name);
	return 0;
}

static int load_one(const char *path, char *err, size_t errlen)
{
	if (rt_nplugins == RT_MAX_PLUGINS)
		return errf(err, errlen, "more than %d plugins in STASIS_PLUGINS", RT_MAX_PLUGINS);
	struct rt_plugin *pl = &plugins[rt_nplugins];
	snprintf(pl->path, sizeof(pl->path), "%s", path);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return errf(err, errlen,
			    "cannot load plugin %s: %s; check the path given to --plugin "
			    "(STASIS_PLUGINS)",
			    path, dlerror());
	if (check(pl, h, err, errlen) < 0) {
		dlclose(h);
		return -1;
	}
	rt_nplugins++;
	rt_path_plugins += !!pl->p->path;
	return 0;
}

int rt_plugins_load(char *err, size_t errlen)
{
	const char *list = secure_getenv("STASIS_PLUGINS");
	char path[PATH_MAX];
	while (list && *list) {
		size_t n = strcspn(list, ":");
		if (n >= sizeof(path))
			return errf(err, errlen, "a path in STASIS_PLUGINS is too long");
		memcpy(path, list, n);
		path[n] = 0;
		list += n + (list[n] == ':');
		if (n && load_one(path, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* The plugin's event: 0, or -1 with err naming it and saying its message. */
static int deliver(struct rt_plugin *pl, const struct stasis_event *ev, char *err, size_t errlen)
{
	char msg[400] = "";
	if (!pl->p->event)
		return 0;
	uint32_t outer = in_event;
	struct rt_plugin *outer_pl = current;
	in_event = ev->event;
	current = pl;
	int rc = pl->p->event(ev, msg, sizeof(msg));
	in_event = outer;
	current = outer_pl;
	if (rc == 0)
		return 0;
	msg[sizeof(msg) - 1] = 0;
	return errf(err, errlen, "pid %d: plugin %s failed its %s event: %s", getpid(), pl->name,
		    event_name(ev->event), msg[0] ? msg : "it gave no message");
}

/* An event whose failure is only told. */
static void deliver_all(const struct stasis_event *ev)
{
	char err[512];
	for (int i = 0; i < rt_nplugins; i++)
		if (deliver(&plugins[i], ev, err, sizeof(err)) < 0)
			warn("%s", err);
}

static void resume_settled(void)
{
	__atomic_store_n(&resume_pending, 0, __ATOMIC_RELEASE);
	rt_futex_wake(&resume_pending);
}

/* The checkpoint thread delivers RESUME once the program's threads run again:
 * a thread that calls exit() meanwhile waits for it, so that every plugin sees
 * RESUME before EXIT (else the process could end before its RESUME, or give
 * EXIT while RESUME runs). Not the checkpoint thread itself (a plugin calling
 * exit() in an event), nor a writer forked from it. */
static void wait_for_resume(void)
{
	long long until = now_ms() + EXIT_WAIT_MS;
	int gen;
	while (!runtime_thread && (gen = __atomic_load_n(&resume_pending, __ATOMIC_ACQUIRE))) {
		long long left = until - now_ms();
		if (left <= 0) {
			warn("pid %d: exit() waited %d s for the plugins' RESUME event of "
			     "checkpoint "
			     "generation %d, which did not come: the plugins get EXIT without it",
			     getpid(), EXIT_WAIT_MS / 1000, gen);
			return;
		}
		rt_futex_wait_ms(&resume_pending, gen, left > 1000 ? 1000 : (int)left);
	}
}

static void plugins_exit(void)
{
	wait_for_resume();
	struct stasis_event ev = {.event = STASIS_EVENT_EXIT, .generation = rt.committed_gen};
	deliver_all(&ev);
}

void rt_plugins_start(int forked)
{
	struct stasis_event ev = {
	    .event = STASIS_EVENT_START, .generation = rt.committed_gen, .forked = forked};
	if (!rt_nplugins)
		return;
	if (forked) /* its parent's RESUME is not the child's */
		__atomic_store_n(&resume_pending, 0, __ATOMIC_RELEASE);
	if (!forked) /* a forked child inherits the registration */
		atexit(plugins_exit);
	deliver_all(&ev);
}

int rt_plugins_checkpoint(uint32_t gen, char *err, size_t errlen)
{
	struct stasis_event ev = {.event = STASIS_EVENT_CHECKPOINT, .generation = gen};
	__atomic_store_n(&resume_pending, gen ? (int)gen : 1, __ATOMIC_RELEASE);
	for (int i = 0; i < rt_nplugins; i++) {
		plugins[i].has_saved = 0;
		plugins[i].saved_len = 0;
		plugins[i].resume_due = 1;
		if (deliver(&plugins[i], &ev, err, errlen) < 0) {
			size_t len = strlen(err);
			snprintf(err + len, errlen - len, "; the program goes on");
			return -1;
		}
	}
	return 0;
}

void rt_plugins_resume(uint32_t gen, int ok)
{
	struct stasis_event ev = {.event = STASIS_EVENT_RESUME, .generation = gen, .ok = ok};
	char err[512];
	for (int i = 0; i < rt_nplugins; i++) {
		if (!plugins[i].resume_due)
			continue;
		plugins[i].resume_due = 0;
		if (deliver(&plugins[i], &ev, err, sizeof(err)) < 0)
			warn("%s", err);
	}
	resume_settled();
}

int rt_plugins_restart(uint32_t gen, char *err, size_t errlen)
{
	struct stasis_event ev = {.event = STASIS_EVENT_RESTART, .generation = gen};
	resume_settled(); /* a thread held in exit() goes on after RESTART */
	for (int i = 0; i < rt_nplugins; i++) {
		plugins[i].resume_due = 0;
		if (deliver(&plugins[i], &ev, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void rt_plugins_runtime_thread(void)
{
	runtime_thread = 1;
}

const char *rt_plugin_path(const char *path, char *buf, size_t size)
{
	if (!path || runtime_thread || in_event)
		return path;
	for (int i = 0; i < rt_nplugins; i++) {
		const char *to = plugins[i].p->path ? plugins[i].p->path(path, buf, size) : NULL;
		if (to)
			return to;
	}
	return path;
}

int rt_plugins_dump(struct img_plugin **recs, uint32_t *n, struct rt_strtab *tab,
		    struct rt_files *files, char *err, size_t errlen)
{
	*n = 0;
	*recs = NULL;
	if (!rt_nplugins)
		return 0;
	struct img_plugin *r = rt_alloc(rt_nplugins * sizeof(*r));
	if (!r)
		return errf(err, errlen, "out of checkpoint memory");
	memset(r, 0, rt_nplugins * sizeof(*r));
	for (int i = 0; i < rt_nplugins; i++) {
		const struct rt_plugin *pl = &plugins[i];
		memcpy(r[i].name, pl->name, sizeof(r[i].name));
		r[i].path_str = rt_str_add(tab, pl->path);
		r[i].flags = pl->has_saved ? IMG_PLUGIN_SAVED : 0;
		r[i].data_off = files->data_len;
		r[i].data_len = pl->saved_len;
		uint8_t *room = rt_filedata_room(files, pl->saved_len);
		if (!r[i].path_str || !room)
			return errf(err, errlen, "out of checkpoint memory for plugin %s",
				    pl->name);
		memcpy(room, pl->saved, pl->saved_len);
		files->data_len += pl->saved_len;
	}
	*recs = r;
	*n = rt_nplugins;
	return 0;
}

static struct rt_plugin *plugin_of(const struct stasis_plugin *self)
{
	for (int i = 0; i < rt_nplugins; i++)
		if (plugins[i].p == self)
			return &plugins[i];
	return NULL;
}

EXPORT int stasis_plugin_save(const struct stasis_plugin *self, const void *buf, size_t len)
{
	struct rt_plugin *pl = plugin_of(self);
	if (!pl || pl != current || in_event != STASIS_EVENT_CHECKPOINT ||
	    len > STASIS_PLUGIN_SAVE_MAX || (len && !buf))
		return errno = EINVAL, -1;
	if (len > pl->saved_cap) {
		size_t cap = (len + 4095) & ~(size_t)4095;
		void *m =
		    mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return errno = ENOMEM, -1;
		if (pl->saved)
			munmap(pl->saved, pl->saved_cap);
		pl->saved = m;
		pl->saved_cap = cap;
	}
	if (len)
		memcpy(pl->saved, buf, len);
	pl->saved_len = len;
	pl->has_saved = 1;
	return 0;
}

EXPORT const void *stasis_plugin_load(const struct stasis_plugin *self, size_t *len)
{
	struct rt_plugin *pl = plugin_of(self);
	*len = 0;
	if (!pl || pl != current || in_event != STASIS_EVENT_RESTART)
		return errno = EINVAL, NULL;
	if (!pl->has_saved)
		return errno = ENOENT, NULL;
	*len = pl->saved_len;
	return pl->saved_len ? pl->saved : "";
}

EXPORT const char *stasis_plugin_path_map(void)
{
	return in_event == STASIS_EVENT_RESTART ? rt.restart.path_map : "";
}

/* The name service is the checkpoint thread's: it owns the coordinator's
 * connection, and runs CHECKPOINT, RESUME and RESTART. */
static int ns_key(const char *key, struct proto_kv *kv)
{
	if (in_event != STASIS_EVENT_CHECKPOINT && in_event != STASIS_EVENT_RESUME &&
	    in_event != STASIS_EVENT_RESTART)
		return errno = EPERM, -1;
	if (!key || !key[0] || strlen(key) >= sizeof(kv->key) || rt.coord_fd < 0)
		return errno = EINVAL, -1;
	memset(kv, 0, sizeof(*kv));
	memcpy(kv->key, key, strlen(key));
	return 0;
}

/* The coordinator's answer about kv's key: 0 with m and its value in buf,
 * or -1 with errno (ETIMEDOUT, ECONNRESET: the coordinator is gone). */
static int ns_answer(const struct proto_kv *kv, struct proto_msg *m, uint8_t *buf, size_t size,
		     int timeout_ms, struct proto_kv *ans)
{
	for (;;) {
		int rc = rt_coord_wait_ms(MSG_KV_ANSWER, m, buf, size, timeout_ms);
		if (rc == RT_COORD_TIMEOUT)
			return errno = ETIMEDOUT, -1;
		if (rc == RT_COORD_LOST)
			rt.coord_lost = 1; /* the checkpoint thread joins again */
		if (rc) /* or KILL: the checkpoint thread ends the process after the event */
			return errno = ECONNRESET, -1;
		if (m->hdr.len < sizeof(*ans))
			continue;
		memcpy(ans, m->payload, sizeof(*ans));
		if (!strncmp(ans->key, kv->key, sizeof(kv->key)) &&
		    ans->len == m->hdr.len - sizeof(*ans))
			return 0;
	}
}

static uint8_t ns_buf[PATH_MAX + 4096];

EXPORT int stasis_plugin_publish(const char *key, const void *value, size_t len)
{
	struct proto_kv kv, ans;
	struct proto_msg m;
	if (ns_key(key, &kv) < 0)
		return -1;
	if (len > STASIS_PLUGIN_VALUE_MAX || (len && !value))
		return errno = EMSGSIZE, -1;
	kv.len = len;
	if (proto_send(rt.coord_fd, MSG_KV_PUBLISH, &kv, sizeof(kv), value, len) < 0 ||
	    ns_answer(&kv, &m, ns_buf, sizeof(ns_buf), NS_ANSWER_MS, &ans) < 0)
		return -1;
	return ans.status ? (errno = ans.status, -1) : 0;
}

EXPORT long stasis_plugin_lookup(const char *key, void *buf, size_t size, int timeout_ms)
{
	struct proto_kv kv, ans;
	struct proto_msg m;
	if (ns_key(key, &kv) < 0)
		return -1;
	if (proto_send(rt.coord_fd, MSG_KV_LOOKUP, &kv, sizeof(kv), NULL, 0) < 0 ||
	    ns_answer(&kv, &m, ns_buf, sizeof(ns_buf), timeout_ms, &ans) < 0)
		return -1;
	if (ans.status)
		return errno = ans.status, -1;
	if (ans.len > size)
		return errno = EMSGSIZE, -1;
	memcpy(buf, m.payload + sizeof(ans), ans.len);
	return ans.len;
}
