/* The checkpoint state machine (CKPT_BEGIN, barriers PREPARED, SUSPENDED,
 * DRAINED, WRITTEN, CKPT_RESULT), the restart barrier, and the restart script
 * of each generation. */
#include "common/fault.h"
#include "common/ckptfiles.h"
#include "common/io.h"
#include "common/log.h"
#include "common/proto.h"
#include "coordinator/coord_int.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A checkpoint's barriers in order: a connection's `barrier` is the position
 * (1-based) of the last one it reached, 0 for none. */
static const uint32_t stages[] = {BARRIER_PREPARED, BARRIER_SUSPENDED, BARRIER_DRAINED,
				  BARRIER_WRITTEN};

static uint32_t stage_pos(uint32_t id)
{
	for (uint32_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (stages[i] == id)
			return i + 1;
	return 0;
}

int ckpt_reached(const struct conn *k, uint32_t id)
{
	return k->barrier >= stage_pos(id);
}

int ckpt_stage_known(uint32_t id)
{
	return stage_pos(id) != 0;
}

void ckpt_count(struct conn *k, int sign)
{
	struct ckpt *ck = &k->c->ckpt;
	if (!ck->active || !k->member || k->state != CONN_READY)
		return;
	ck->nmem += sign;
	ck->nreached += sign * ckpt_reached(k, ck->stage);
	ck->nreported += sign * k->tcp_reported;
	ck->done += sign > 0 ? k->done : -k->done;
	ck->total += sign > 0 ? k->total : -k->total;
}

#define EXEC_WAIT_MS 2000 /* how long a checkpoint waits for an exec'ing process */
#define EXEC_POLL_MS 20
#define RETRY_MS 3000 /* how long a checkpoint starts again while processes come and go */
#define RETRY_POLL_MS 30

/* Processes that are between leaving (exec) and joining again, still expected. */
static int execs_pending(struct coord *c)
{
	long long now = now_ms();
	int n = 0;
	for (int i = 0; i < c->nexecs; i++)
		if (c->execs[i].deadline_ms > now)
			c->execs[n++] = c->execs[i];
	c->nexecs = n;
	return n;
}

void ckpt_exec_left(struct coord *c, uint32_t pid)
{
	if (c->nexecs < (int)(sizeof(c->execs) / sizeof(c->execs[0])))
		c->execs[c->nexecs++] = (typeof(c->execs[0])){pid, now_ms() + EXEC_WAIT_MS};
}

/* pid (0: any) left to exec and is expected back */
int ckpt_exec_pending(const struct coord *c, uint32_t pid)
{
	long long now = now_ms();
	for (int i = 0; i < c->nexecs; i++)
		if (c->execs[i].deadline_ms > now && (!pid || c->execs[i].pid == pid))
			return 1;
	return 0;
}

void ckpt_exec_joined(struct coord *c, uint32_t pid)
{
	for (int i = 0; i < c->nexecs; i++)
		if (c->execs[i].pid == pid)
			c->execs[i] = c->execs[--c->nexecs];
}

static int ckpt_begin(struct coord *c, uint32_t flags, uint64_t requester, char *err,
		      size_t errlen);
static void dequeue(struct coord *c);

static long long deferred_fired(struct loop *l, long long id, void *data)
{
	struct coord *c = data;
	char err[256];
	(void)l;
	(void)id;
	if (execs_pending(c))
		return EXEC_POLL_MS;
	c->defer_timer = 0;
	c->deferred.pending = 0;
	if (ckpt_begin(c, c->deferred.flags, c->deferred.requester, err, sizeof(err)) < 0) {
		struct conn *req =
		    c->deferred.requester ? conn_by_id(c, c->deferred.requester) : NULL;
		struct proto_ckpt_result r = {.status = 1, .gen = 0};
		if (req)
			conn_send(req, MSG_CKPT_RESULT, &r, sizeof(r), err, strlen(err));
		dequeue(c); /* it cannot begin either, but it says so */
	}
	return LOOP_NOMORE;
}

static void defer(struct coord *c, uint32_t flags, uint64_t requester, long long ms)
{
	c->deferred.pending = 1;
	c->deferred.flags = flags;
	c->deferred.requester = requester;
	c->defer_timer = loop_add_timer(c->loop, ms, deferred_fired, c);
}

int ckpt_busy(const struct coord *c)
{
	return c->ckpt.active || c->deferred.pending;
}

/* A client's request while a checkpoint runs (or is about to begin, or to
 * start again) waits for it: the client gets the result of a checkpoint that
 * began after it asked. One waits at a time. */
static int queue(struct coord *c, uint32_t flags, uint64_t requester, char *err, size_t errlen)
{
	if (c->queued.pending)
		return errf(err, errlen,
			    "checkpoint generation %u is running and another checkpoint waits to "
			    "begin after it: checkpoint again when they complete",
			    c->ckpt.active ? c->ckpt.gen : c->gen);
	c->queued.pending = 1;
	c->queued.flags = flags;
	c->queued.requester = requester;
	debug("a checkpoint asked for during generation %u begins after it", c->gen);
	return 0;
}

/* The checkpoint is over (not to be tried again): begin the one that waited,
 * unless its client has gone. */
static void dequeue(struct coord *c)
{
	if (!c->queued.pending || c->deferred.pending)
		return;
	c->queued.pending = 0;
	if (!conn_by_id(c, c->queued.requester))
		return;
	c->retry_until_ms = now_ms() + RETRY_MS;
	c->retries = 0;
	defer(c, c->queued.flags, c->queued.requester, 0);
}

/* A process is in the middle of an exec: start once it is back (or gone). */
int ckpt_start(struct coord *c, uint32_t flags, uint64_t requester, char *err, size_t errlen)
{
	if (ckpt_busy(c))
		return requester ? queue(c, flags, requester, err, errlen)
				 : errf(err, errlen, "checkpoint generation %u is still running",
					c->ckpt.active ? c->ckpt.gen : c->gen);
	c->retry_until_ms = now_ms() + RETRY_MS;
	c->retries = 0;
	if (!c->ckpt.active && execs_pending(c)) {
		defer(c, flags, requester, EXEC_POLL_MS);
		return 0;
	}
	return ckpt_begin(c, flags, requester, err, errlen);
}

/* The checkpoint failed only because a process was being born (forked or
 * spawned, not joined yet) or left (exited, exec'd) while it ran: the
 * computation changed under it, so it starts again, until RETRY_MS after the
 * request, and at least once (an attempt that wrote large images may alone
 * take longer). Returns 1 if it will. */
static int ckpt_retry(struct coord *c)
{
	struct ckpt *ck = &c->ckpt;
	if (!ck->failed || !ck->transient || (now_ms() >= c->retry_until_ms && c->retries))
		return 0;
	c->retries++;
	debug("checkpoint generation %u of %016llx starts again:\n%s", ck->gen,
	      (unsigned long long)c->comp_id, ck->errors.p ? ck->errors.p : "");
	defer(c, ck->flags, ck->requester, RETRY_POLL_MS);
	return 1;
}

static int ckpt_begin(struct coord *c, uint32_t flags, uint64_t requester, char *err, size_t errlen)
{
	struct ckpt *ck = &c->ckpt;
	if (ck->active)
		return errf(err, errlen,
			    "checkpoint generation %u is still running: try again when it "
			    "completes",
			    ck->gen);
	if (c->restarting)
		return errf(err, errlen,
			    "computation %016llx is restarting: try again once its %u "
			    "processes are back",
			    (unsigned long long)c->comp_id, c->restart_nprocs);
	if (!coord_nprocs(c))
		return errf(err, errlen,
			    "no process to checkpoint: start the program with 'stasis launch'");
	if (watch_refuse_abandoned(c, err, errlen) < 0)
		return -1;
	fault_generation(c->gen + 1);
	ckpt_free(ck); /* the last checkpoint's texts */
	*ck = (struct ckpt){.active = 1,
			    .gen = ++c->gen,
			    .flags = flags | (c->opts.no_compress ? CKPT_NO_COMPRESS : 0),
			    .stage = stages[0],
			    .requester = requester,
			    .start_ms = now_ms()};
	struct proto_ckpt_begin b = {.comp_id = c->comp_id, .gen = ck->gen, .flags = ck->flags};
	debug("checkpoint generation %u of %016llx begins", ck->gen,
	      (unsigned long long)c->comp_id);
	names_forget(c); /* the plugins' names of the last checkpoint */
	for (struct conn *k = c->conns; k; k = k->next) {
		if (k->state != CONN_READY || !conn_is_process(k))
			continue;
		k->member = 1;
		k->barrier = 0;
		k->wrote = 0;
		tcp_forget(k);
		k->keep_from = 0;
		free(k->image);
		k->image = NULL;
		k->done = k->total = 0;
		k->heard_ms = now_ms();
		ckpt_count(k, 1);
		conn_send(k, MSG_CKPT_BEGIN, &b, sizeof(b), c->ckpt_dir, strlen(c->ckpt_dir));
	}
	return 0;
}

/* <ckpt_dir>/stasis_restart_<comp_id>.sh: temp file, fsync, rename, fsync dir. */
static int script_text(struct coord *c, struct sbuf *s)
{
	int rc = sbuf_printf(s,
			     "#!/bin/sh\n"
			     "# Restart computation %016llx from checkpoint generation %u.\n"
			     "# Written by the stasis coordinator on port %u; arguments are "
			     "passed to 'stasis restart'.\n"
			     ": \"${STASIS_PORT:=%u}\"\nexport STASIS_PORT\n",
			     (unsigned long long)c->comp_id, c->ckpt.gen, c->port, c->port);
	if (strcmp(c->bind_addr, "127.0.0.1")) { /* restart would look on loopback, and start one */
		rc |= sbuf_printf(s, "[ -n \"$STASIS_COORD_HOST\" ] || STASIS_COORD_HOST=");
		rc |= sbuf_add_shell_quoted(s, c->bind_addr);
		rc |= sbuf_printf(s, "\nexport STASIS_COORD_HOST\n");
	}
	rc |= sbuf_add(s, "exec ", 5) | sbuf_add_shell_quoted(s, c->self_exe);
	rc |= sbuf_printf(s, " restart \"$@\"");
	for (char *p = c->ckpt.paths.p; p && *p; p = strchr(p, '\n') + 1) {
		char *nl = strchr(p, '\n');
		*nl = 0;
		rc |= sbuf_add(s, " \\\n\t", 3);
		rc |= sbuf_add_shell_quoted(s, p);
		*nl = '\n';
	}
	return rc | sbuf_add(s, "\n", 1);
}

/* The text into tmp, fsynced, renamed to path; *op says what failed. */
static int script_file(const struct sbuf *s, const char *tmp, const char *path, const char **op)
{
	int fd, rc = -1;
	unlink(tmp);
	*op = "create";
	fd = fault_hit(FAULT_SCRIPT_CREATE)
		 ? -1
		 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700);
	if (fd < 0)
		return -1;
	*op = "write";
	if (fchmod(fd, 0700) < 0 || fault_hit(FAULT_SCRIPT_WRITE) ||
	    write_full(fd, s->p, s->len) < 0)
		goto out;
	*op = "fsync";
	if (fault_hit(FAULT_SCRIPT_FSYNC) || fsync(fd) < 0)
		goto out;
	*op = "rename";
	rc = fault_hit(FAULT_SCRIPT_RENAME) ? -1 : rename(tmp, path);
out:;
	int saved = errno;
	close(fd);
	if (rc < 0)
		unlink(tmp);
	errno = saved;
	return rc;
}

/* Some image was written on another host than this one. */
static int script_hosts(const struct ckpt *ck, const char *here)
{
	for (const char *p = ck->hostpaths.p; p && *p; p = strchr(p, '\n') + 1) {
		size_t n = strcspn(p, "\t");
		if (n && (n != strlen(here) || strncmp(p, here, n)))
			return 1;
	}
	return 0;
}

static const char multi_head[] =
    "#!/bin/sh\n"
    "# Restart computation %016llx from checkpoint generation %u on the hosts it ran\n"
    "# on: the part of this host (%s) here, each other host's over ssh\n"
    "# (${STASIS_SSH:-ssh} HOST), all held by the coordinator on %s:%u until\n"
    "# every part is back (--wait ${STASIS_WAIT:-60} s). --host-map OLD=NEW (any\n"
    "# number) restarts OLD's part on NEW; other arguments go to every 'stasis\n"
    "# restart'. Remote parts use the token file $STASIS_REMOTE_TOKEN_FILE, else\n"
    "# the coordinator's path. Written by the stasis coordinator.\n"
    ": \"${STASIS_PORT:=%u}\"\nexport STASIS_PORT\n"
    "here=$(hostname)\nmap=\nn=$#\n"
    "while [ \"$n\" -gt 0 ]; do\n"
    "\tcase $1 in\n"
    "\t--host-map) map=\"$map $2\"; shift 2; n=$((n - 2)); continue ;;\n"
    "\t--host-map=*) map=\"$map ${1#--host-map=}\"; shift; n=$((n - 1)); continue ;;\n"
    "\tesac\n"
    "\tset -- \"$@\" \"$1\"; shift; n=$((n - 1))\n"
    "done\n"
    "q() { for a; do printf \"'%%s' \" \"$(printf %%s \"$a\" | sed \"s/'/'\\\\\\\\''/g\")\"; done; "
    "}\n"
    "part() {\n"
    "\to=$1; h=$1; shift\n"
    "\tfor m in $map; do [ \"${m%%%%=*}\" = \"$o\" ] && h=${m#*=}; done\n"
    "\tset -- --coord-host \"$coord\" -p \"$STASIS_PORT\" --wait \"$wait\" \"$@\"\n"
    "\tif [ \"$h\" = \"$here\" ]; then \"$stasis\" restart \"$@\"\n"
    "\telse ${STASIS_SSH:-ssh} \"$h\" \"$(q \"$stasis\" restart --token-file \"$token\" \"$@\")\"; "
    "fi\n"
    "}\n";

/* The host of line p (n bytes) had a line before it. */
static int seen_before(const struct ckpt *ck, const char *p, size_t n)
{
	for (const char *q = ck->hostpaths.p; q < p; q = strchr(q, '\n') + 1)
		if (strcspn(q, "\t") == n && !strncmp(q, p, n))
			return 1;
	return 0;
}

/* The lines of hostpaths whose host is h, as quoted image arguments. */
static int add_images(struct sbuf *s, const struct ckpt *ck, const char *h, size_t hl)
{
	int rc = 0;
	for (const char *p = ck->hostpaths.p; p && *p; p = strchr(p, '\n') + 1) {
		size_t n = strcspn(p, "\t"), pl = strcspn(p + n + 1, "\n");
		char path[PATH_MAX];
		if (n != hl || strncmp(p, h, n) || pl >= sizeof(path))
			continue;
		memcpy(path, p + n + 1, pl);
		path[pl] = 0;
		rc |= sbuf_add(s, " \\\n\t", 4) | sbuf_add_shell_quoted(s, path);
	}
	return rc;
}

/* One part per host of the computation: the others first, in the background,
 * this host's last, in the foreground; the script ends with its status. */
static int script_multi(struct coord *c, struct sbuf *s, const char *here)
{
	const struct ckpt *ck = &c->ckpt;
	int rc = sbuf_printf(s, multi_head, (unsigned long long)c->comp_id, ck->gen, here,
			     c->bind_addr, c->port, c->port);
	rc |= sbuf_add(s, "stasis=", 7) | sbuf_add_shell_quoted(s, c->self_exe);
	rc |= sbuf_add(s, "\ncoord=", 7) | sbuf_add_shell_quoted(s, c->bind_addr);
	rc |= sbuf_printf(s, "\ntoken=${STASIS_REMOTE_TOKEN_FILE:-}\n[ -n \"$token\" ] || token=");
	rc |= sbuf_add_shell_quoted(s, c->token_path);
	rc |= sbuf_printf(s, "\nwait=${STASIS_WAIT:-60}\nrc=0\npids=\n");
	for (int local = 0; local < 2; local++)
		for (const char *p = ck->hostpaths.p; p && *p; p = strchr(p, '\n') + 1) {
			size_t n = strcspn(p, "\t");
			const char *h = n ? p : here;
			size_t hl = n ? n : strlen(here);
			int is_here = hl == strlen(here) && !strncmp(h, here, hl);
			if (is_here != local || seen_before(ck, p, n))
				continue;
			char host[sizeof(((struct proto_host *)0)->host)];
			snprintf(host, sizeof(host), "%.*s", (int)hl, h);
			rc |= sbuf_add(s, "part ", 5) | sbuf_add_shell_quoted(s, host);
			rc |= sbuf_printf(s, " \"$@\" --");
			rc |= add_images(s, ck, p, n);
			rc |=
			    sbuf_printf(s, "%s", local ? " || rc=$?\n" : " &\npids=\"$pids $!\"\n");
		}
	return rc | sbuf_printf(s, "for p in $pids; do wait \"$p\" || rc=$?; done\nexit $rc\n");
}

static int write_script(struct coord *c, char *err, size_t errlen)
{
	char here[64];
	proto_host_name(here);
	char path[PATH_MAX + 64], tmp[PATH_MAX + 96];
	struct sbuf s = {0};
	const char *op;
	int rc = -1;
	snprintf(path, sizeof(path), "%s/stasis_restart_%016llx.sh", c->ckpt_dir,
		 (unsigned long long)c->comp_id);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if ((script_hosts(&c->ckpt, here) ? script_multi(c, &s, here) : script_text(c, &s)) < 0)
		errf(err, errlen, "cannot write the restart script %s: out of memory", path);
	else if (script_file(&s, tmp, path, &op) < 0)
		errf(err, errlen, "cannot %s the restart script %s: %s", op,
		     strcmp(op, "rename") ? tmp : path, strerror(errno));
	else
		rc = 0;
	int dfd = rc < 0 ? -1 : open(c->ckpt_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) { /* best effort: the images are durable, the script is a convenience */
		fsync(dfd);
		close(dfd);
	}
	sbuf_free(&s);
	return rc;
}

static void remember(struct coord *c, int ok)
{
	struct ckpt *ck = &c->ckpt;
	struct ckpt_outcome *last = ok ? &c->last_ok : &c->last_err;
	last->gen = ck->gen;
	last->at_ms = now_ms();
	last->wall_s = (long long)time(NULL);
	last->dur_ms = last->at_ms - ck->start_ms;
	last->bytes = ok ? ck->bytes : 0;
	if (ok) {
		sbuf_reset(&c->last_images);
		if (sbuf_add(&c->last_images, ck->paths.p, ck->paths.len) < 0)
			sbuf_reset(&c->last_images); /* out of memory: status lists none */
	}
	snprintf(last->text, sizeof(last->text), "%s", ok || !ck->errors.p ? "" : ck->errors.p);
	size_t n = strlen(last->text);
	while (n && last->text[n - 1] == '\n')
		last->text[--n] = 0;
}

static void report(struct coord *c, int ok)
{
	struct ckpt *ck = &c->ckpt;
	struct proto_ckpt_result r = {.status = ok ? 0 : 1, .gen = ck->gen};
	static char why[] = "the coordinator ran out of memory recording why\n";
	static struct sbuf nomem = {.p = why, .len = sizeof(why) - 1};
	const struct sbuf *text = ok ? &ck->paths : ck->errors.len ? &ck->errors : &nomem;
	struct conn *req = ck->requester ? conn_by_id(c, ck->requester) : NULL;
	remember(c, ok);
	if (ok && (ck->flags & CKPT_KILL)) {
		/* answered once every process is gone: a restart right after it must not
		   find the computation still running */
		struct sbuf res = {0};
		if (sbuf_add(&res, &r, sizeof(r)) < 0 || sbuf_add(&res, text->p, text->len) < 0)
			res.len = 0;
		if (req && !res.len)
			conn_send(req, MSG_CKPT_RESULT, &r, sizeof(r), text->p, text->len);
		kill_after_checkpoint(c, res.len ? req : NULL, res.p, res.len);
		sbuf_free(&res);
	} else if (req) {
		conn_send(req, MSG_CKPT_RESULT, &r, sizeof(r), text->p, text->len);
	}
	if (ok && !req)
		log_msg(NULL, "checkpoint generation %u of %016llx written", ck->gen,
			(unsigned long long)c->comp_id);
	else if (!ok)
		warn("checkpoint generation %u of %016llx failed:\n%s", ck->gen,
		     (unsigned long long)c->comp_id, text->p ? text->p : "");
}

/* A failed generation keeps no file: the images other processes wrote are an
 * incomplete set that restart would refuse, and a process that died while
 * writing left its temp file (or a forked writer is finishing it: without
 * its temp file its rename fails). */
void ckpt_remove_generation(struct coord *c, uint32_t gen)
{
	struct ckpt *ck = &c->ckpt;
	for (char *p = ck->paths.p, *nl; p && *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		*nl = 0;
		unlink(p);
		*nl = '\n';
	}
	ckpt_remove_generation_in(c->ckpt_dir, c->comp_id, gen);
}

/* The generation succeeded: each process's images below the generation it
 * named (MSG_RETAIN: the previous good one, or its incremental chain) go,
 * before anyone hears of the success. <image minus _g<gen>.stasis>_g<k>.stasis */
static void retain(struct coord *c)
{
	char tail[32], old[PATH_MAX + 32];
	snprintf(tail, sizeof(tail), "_g%u.stasis", c->ckpt.gen);
	size_t t = strlen(tail);
	for (struct conn *k = c->conns; k; k = k->next) {
		size_t n = k->image ? strlen(k->image) : 0;
		if (!k->member || !k->keep_from || n < t || strcmp(k->image + n - t, tail))
			continue;
		for (uint32_t g = k->keep_from > 40 ? k->keep_from - 40 : 1; g < k->keep_from;
		     g++) {
			snprintf(old, sizeof(old), "%.*s_g%u.stasis", (int)(n - t), k->image, g);
			unlink(old);
		}
	}
}

static void ckpt_finish(struct coord *c)
{
	struct ckpt *ck = &c->ckpt;
	char err[PATH_MAX + 128];
	int ok = !ck->failed && ck->paths.len;
	if (!ck->failed && !ck->paths.len)
		sbuf_printf(&ck->errors, "no process wrote an image\n");
	if (ok)
		sbuf_sort_lines(&ck->paths); /* arrival order is not meaningful */
	fds_release(c);			     /* a full descriptor table does not fail it */
	if (ok && write_script(c, err, sizeof(err)) < 0) {
		sbuf_printf(&ck->errors, "%s\n", err);
		ok = 0;
	}
	/* a failed checkpoint keeps no image: those written are an incomplete set
	 * that restart would refuse. The coordinator removes what it can see on its
	 * host; each process removes its own on its host when the WRITTEN pass says
	 * ABORT (also before a retry: a new generation) */
	if (ok)
		retain(c);
	else
		ckpt_remove_generation(c, ck->gen);
	fds_reserve(c);
	if (ok || !ckpt_retry(c))
		report(c, ok);
	struct proto_barrier pass = {
	    .id = BARRIER_WRITTEN, .nprocs = ck->nmem, .flags = ok ? 0 : BARRIER_F_ABORT};
	int send = !ok || !(ck->flags & CKPT_KILL); /* else report() sent KILL */
	for (struct conn *k = c->conns; k; k = k->next) {
		if (!k->member)
			continue;
		if (k->state == CONN_READY && send)
			conn_send(k, MSG_BARRIER, &pass, sizeof(pass), NULL, 0);
		k->member = 0; /* a closed one too: it leaves no checkpoint */
		k->barrier = 0;
		tcp_forget(k);
	}
	ck->active = 0;
	ck->nmem = ck->nreached = ck->nreported = ck->ndead = 0;
	ck->done = ck->total = 0;
	sbuf_reset(&ck->paths);
	sbuf_reset(&ck->errors);
	fault_generation(0);
	sbuf_reset(&ck->hostpaths);
	dequeue(c);
}

static void member_gone(struct coord *c, struct conn *k);

/* Pass the current barrier, or finish, once every live member has reached it. */
void ckpt_advance(struct coord *c)
{
	struct ckpt *ck = &c->ckpt;
	for (struct conn *k = c->conns; ck->active && ck->ndead && k; k = k->next)
		if (k->member && k->state == CONN_DEAD)
			member_gone(c, k); /* closed in this pass of the loop: its failure
					      goes with the pass (ABORT) */
	/* the others may wait for the report of one gone */
	tcp_check_reports(c);
	if (!ck->active || ck->nreached < ck->nmem)
		return;
	if (ck->nmem == 0 || ck->stage == BARRIER_WRITTEN)
		return ckpt_finish(c);
	if (ck->stage == BARRIER_DRAINED)
		members_send(c); /* for the images, before they are written */
	struct proto_barrier pass = {
	    .id = ck->stage, .nprocs = ck->nmem, .flags = ck->failed ? BARRIER_F_ABORT : 0};
	pass_send(c, &pass);
	long long now = now_ms();
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->member && k->state == CONN_READY)
			k->heard_ms = now; /* asked for the next barrier from now */
	ck->stage = stages[stage_pos(ck->stage)];
	ck->nreached = 0; /* every member is at the stage passed */
}

void ckpt_on_barrier(struct conn *k, const struct proto_barrier *b)
{
	struct ckpt *ck = &k->c->ckpt;
	char why[96];
	if (!ck->active || !k->member || b->id != ck->stage || k->barrier >= stage_pos(b->id) ||
	    (b->id == BARRIER_DRAINED && !k->tcp_reported)) {
		snprintf(why, sizeof(why), "barrier %u out of sequence (checkpoint %s, stage %u)",
			 b->id, ck->active ? "running" : "idle", ck->stage);
		return conn_drop(k, why);
	}
	ckpt_count(k, -1);
	k->barrier = stage_pos(b->id);
	ckpt_count(k, 1);
	ckpt_advance(k->c);
}

void ckpt_on_image(struct conn *k, const struct proto_msg *m)
{
	struct ckpt *ck = &k->c->ckpt;
	const char *path = (const char *)m->payload + sizeof(struct proto_image_done);
	size_t len = m->hdr.len - sizeof(struct proto_image_done);
	if (!ck->active || !k->member || memchr(path, '\n', len) || memchr(path, 0, len))
		return conn_drop(k, "unexpected or malformed image notice");
	k->wrote = 1;
	struct proto_image_done d;
	memcpy(&d, m->payload, sizeof(d));
	ck->bytes += d.size;
	free(k->image);
	k->image = strndup(path, len);
	if (!k->image || sbuf_add(&ck->paths, path, len) < 0 || sbuf_add(&ck->paths, "\n", 1) < 0 ||
	    sbuf_printf(&ck->hostpaths, "%s\t%.*s\n", k->host, (int)len, path) < 0)
		ckpt_fail(k->c,
			  "the coordinator ran out of memory recording the image of process "
			  "%u (%s)",
			  k->pid, k->name);
}

void ckpt_on_retain(struct conn *k, const struct proto_msg *m)
{
	if (k->c->ckpt.active && k->member)
		memcpy(&k->keep_from, m->payload, sizeof(k->keep_from));
}

void ckpt_on_error(struct conn *k, const struct proto_msg *m)
{
	struct ckpt *ck = &k->c->ckpt;
	if (!ck->active || !k->member)
		return conn_drop(k, "checkpoint error outside a checkpoint");
	ck->failed = 1;
	ck->transient = 0; /* a process refused: trying again would not help */
	sbuf_printf(&ck->errors, "process %u (%s): %.*s\n", k->pid, k->name, (int)m->hdr.len,
		    (const char *)m->payload);
}

/* A writer's progress: the sum over every process goes to the control client
 * that asked for the checkpoint (the CLI shows it on a terminal). */
struct proto_progress ckpt_progress(const struct coord *c)
{
	const struct ckpt *ck = &c->ckpt;
	return (struct proto_progress){.done = ck->done, .total = ck->total, .nprocs = ck->nmem};
}

void ckpt_on_progress(struct conn *k, const struct proto_msg *m)
{
	struct coord *c = k->c;
	struct ckpt *ck = &c->ckpt;
	struct proto_progress p;
	if (!ck->active || !k->member)
		return; /* late: the checkpoint is over */
	memcpy(&p, m->payload, sizeof(p));
	ckpt_count(k, -1);
	k->done = p.done;
	k->total = p.total;
	ckpt_count(k, 1);
	struct proto_progress sum = ckpt_progress(c);
	struct conn *req = ck->requester ? conn_by_id(c, ck->requester) : NULL;
	if (req && !conn_is_process(req))
		conn_send(req, MSG_PROGRESS, &sum, sizeof(sum), NULL, 0);
}

/* pid takes part in the running checkpoint (one that joined after it began
 * is not in it). */
static int is_member(const struct coord *c, const struct conn *parent, uint32_t pid)
{
	for (const struct conn *o = conn_of_pid(c, pid); o; o = o->pid_next)
		if (o->member && o->state == CONN_READY && conn_is_process(o) && o->pid == pid &&
		    same_host(parent, o))
			return 1;
	return 0;
}

/* A failure that trying again would not cure. */
void ckpt_fail(struct coord *c, const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->ckpt.failed = 1;
	c->ckpt.transient = 0;
	sbuf_printf(&c->ckpt.errors, "%s\n", line);
}

/* pid is a process this checkpoint gave up on (its failure is said already) */
static int is_accounted(const struct coord *c, const struct conn *parent, uint32_t pid)
{
	for (const struct conn *o = conn_of_pid(c, pid); o; o = o->pid_next)
		if (o->state == CONN_READY && o->pid == pid && same_host(parent, o) &&
		    conn_is_process(o) && o->abandoned)
			return 1;
	return 0;
}

/* A failure that may be gone at the next attempt; one that is not (a process
 * refused) wins. */
static void mark_transient(struct ckpt *ck)
{
	if (!ck->failed)
		ck->transient = 1;
	ck->failed = 1;
}

/* Every live child of a process must be a process of the computation (zombies
 * are recorded in their parent's image, not listed): one that is not would be
 * missing after a restart. One that was just born joins in a moment (the
 * checkpoint then starts again); one that never joins fails it, saying which. */
void ckpt_on_children(struct conn *k, const struct proto_msg *m)
{
	struct ckpt *ck = &k->c->ckpt;
	if (!ck->active || !k->member)
		return;
	for (uint32_t i = 0; i < m->hdr.len / 4; i++) {
		uint32_t pid;
		memcpy(&pid, m->payload + 4 * i, 4);
		if (is_member(k->c, k, pid) || is_accounted(k->c, k, pid))
			continue;
		mark_transient(ck);
		sbuf_printf(&ck->errors,
			    "process %u (%s): its child process %u did not join the computation "
			    "within %d s: its runtime could not join the coordinator, it "
			    "shares its parent's memory or descriptor table (clone with "
			    "CLONE_VM or CLONE_FILES), or it was made by a clone system call "
			    "the runtime cannot see (inline assembly); not supported: start "
			    "it with fork(), or outside the computation (stasis "
			    "nocheckpoint)\n",
			    k->pid, k->name, pid, RETRY_MS / 1000);
	}
}

/* Member k has gone: what that does to the checkpoint. */
static void member_gone(struct coord *c, struct conn *k)
{
	if (!k->wrote && ckpt_reached(k, BARRIER_SUSPENDED) && !k->execing && !k->exiting &&
	    peer_runs(k->pid, k->name))
		ckpt_fail(c,
			  "process %u (%s) lost its connection to the coordinator during the "
			  "checkpoint, before its image was written: it goes on, and joins the "
			  "computation again",
			  k->pid, k->name);
	else if (!k->wrote && ckpt_reached(k, BARRIER_SUSPENDED) && !k->execing && !k->exiting)
		ckpt_fail(c, /* it had stopped for us, and did not say it leaves */
			  "process %u (%s) ended during the checkpoint, before its image was "
			  "written (killed by a signal)",
			  k->pid, k->name);
	else if (!k->wrote) { /* it exited or exec'd: the next attempt goes without it */
		mark_transient(&c->ckpt);
		sbuf_printf(&c->ckpt.errors,
			    "process %u (%s) disconnected before writing its image\n", k->pid,
			    k->name);
	}
	k->member = 0;
	c->ckpt.ndead--; /* counted when it closed (conn_drop) */
}

/* k has gone (it is no longer in the connection list). */
void ckpt_proc_left(struct conn *k)
{
	struct coord *c = k->c;
	if (c->ckpt.active && k->member) {
		member_gone(c, k);
		ckpt_advance(c);
	}
}

/* BARRIER_RESTARTED passes once restart_nprocs processes have reached it. */
void restart_on_barrier(struct conn *k)
{
	struct coord *c = k->c;
	k->barrier = BARRIER_RESTARTED;
	if (!k->restarted)
		c->nrestarted++;
	k->restarted = 1;
	if (c->restarting && c->nrestarted < c->restart_nprocs)
		return;
	struct proto_barrier pass = {.id = BARRIER_RESTARTED, .nprocs = c->nrestarted};
	for (struct conn *p = c->conns; p; p = p->next) {
		if (p->state != CONN_READY || !p->restarted)
			continue;
		conn_send(p, MSG_BARRIER, &pass, sizeof(pass), NULL, 0);
		p->barrier = 0;
		p->restarted = 0;
	}
	c->nrestarted = 0;
	c->restarting = 0;
	names_forget(c); /* every connection is made again */
	restart_done(c);
}

void ckpt_free(struct ckpt *ck)
{
	sbuf_free(&ck->paths);
	sbuf_free(&ck->errors);
	sbuf_free(&ck->hostpaths);
}
