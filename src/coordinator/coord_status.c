/* The reply to CMD_STATUS: the coordinator, its computation, the checkpoint
 * in progress, the last that succeeded (images, bytes, duration) and the last
 * that failed, its processes; as text or as one JSON object
 * (docs/protocol.md). */
#include "coordinator/coord_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *state_name(const struct coord *c)
{
	if (c->ckpt.active)
		return "checkpointing";
	return c->restarting ? "restarting" : "idle";
}

/* the image paths of the last checkpoint, as a JSON array */
static int json_images(struct sbuf *s, const struct sbuf *paths)
{
	int rc = sbuf_add(s, "[", 1);
	const char *sep = "";
	for (const char *p = paths->p; p && *p && rc == 0;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char path[4096];
		snprintf(path, sizeof(path), "%.*s", (int)n, p);
		rc |= sbuf_add(s, sep, strlen(sep)) | sbuf_add_json_string(s, path);
		sep = ", ";
		p += n + (nl != NULL);
	}
	return rc | sbuf_add(s, "]", 1);
}

/* , "KEY": {"gen", "age", "time", "duration_ms", "text"[, "bytes", "images"]} or null */
static int json_last(struct sbuf *s, const char *key, const struct ckpt_outcome *l,
		     const struct sbuf *images)
{
	if (!l->gen)
		return sbuf_printf(s, ", \"%s\": null", key);
	int rc = sbuf_printf(s,
			     ", \"%s\": {\"gen\": %u, \"age\": %lld, \"time\": %lld, "
			     "\"duration_ms\": %lld, \"text\": ",
			     key, l->gen, (now_ms() - l->at_ms) / 1000, l->wall_s, l->dur_ms);
	rc |= sbuf_add_json_string(s, l->text);
	if (images) {
		rc |=
		    sbuf_printf(s, ", \"bytes\": %llu, \"images\": ", (unsigned long long)l->bytes);
		rc |= json_images(s, images);
	}
	return rc | sbuf_add(s, "}", 1);
}

/* , "checkpoint": {"gen", "elapsed_ms", "bytes_done", "bytes_total", "nprocs"} or null */
static int json_running(struct coord *c, struct sbuf *s)
{
	if (!c->ckpt.active)
		return sbuf_printf(s, ", \"checkpoint\": null");
	struct proto_progress p = ckpt_progress(c);
	return sbuf_printf(s,
			   ", \"checkpoint\": {\"gen\": %u, \"elapsed_ms\": %lld, \"bytes_done\": "
			   "%llu, \"bytes_total\": %llu, \"nprocs\": %u, \"queued\": %d}",
			   c->ckpt.gen, now_ms() - c->ckpt.start_ms, (unsigned long long)p.done,
			   (unsigned long long)p.total, p.nprocs, c->queued.pending);
}

static int json_procs(struct coord *c, struct sbuf *s)
{
	int rc = sbuf_printf(s, ", \"nprocs\": %d, \"procs\": [", coord_nprocs(c));
	const char *sep = "";
	for (struct conn *k = c->conns; k; k = k->next) {
		if (k->state != CONN_READY || !conn_is_process(k))
			continue;
		rc |= sbuf_printf(s, "%s{\"pid\": %u, \"name\": ", sep, k->pid);
		rc |= sbuf_add_json_string(s, k->name);
		rc |=
		    sbuf_printf(s, ", \"restored\": %s}", /* waits for the others of its restart */
				k->barrier == BARRIER_RESTARTED ? "true" : "false");
		sep = ", ";
	}
	return rc | sbuf_add(s, "]", 1);
}

int status_json(struct coord *c, struct sbuf *s)
{
	int rc =
	    sbuf_printf(s, "{\"port\": %u, \"pid\": %d, \"comp_id\": \"%016llx\", \"gen\": %u, ",
			c->port, (int)getpid(), (unsigned long long)c->comp_id, c->gen);
	rc |= sbuf_printf(s, "\"state\": \"%s\", \"interval\": %u, \"timeout\": %u, \"ckpt_dir\": ",
			  state_name(c), c->interval, c->timeout_ms / 1000);
	rc |= sbuf_add_json_string(s, c->ckpt_dir);
	rc |= sbuf_add(s, ", \"log\": ", 9);
	rc |= c->log_path[0] ? sbuf_add_json_string(s, c->log_path) : sbuf_add(s, "null", 4);
	rc |= json_running(c, s);
	rc |= json_last(s, "last_ok", &c->last_ok, &c->last_images);
	rc |= json_last(s, "last_error", &c->last_err, NULL);
	rc |= json_procs(c, s);
	return rc | sbuf_add(s, "}\n", 2);
}

/* 1536 B, 2.0 KiB, 3.5 MiB, 1.2 GiB */
static const char *human_bytes(uint64_t b, char *buf, size_t size)
{
	static const char *unit[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = -1;
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}

/* "generation G at 2026-12-04 23:14:12 (S s ago), in D s" */
static int text_when(struct sbuf *s, const struct ckpt_outcome *l)
{
	char when[32] = "?";
	struct tm tm;
	time_t t = (time_t)l->wall_s;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	return sbuf_printf(s, "generation %u at %s (%lld s ago), in %.1f s", l->gen, when,
			   (now_ms() - l->at_ms) / 1000, (double)l->dur_ms / 1000);
}

static int text_last(struct coord *c, struct sbuf *s)
{
	char b[32];
	int rc = 0;
	if (c->last_ok.gen) {
		rc |= sbuf_printf(s, "last success:   ");
		rc |= text_when(s, &c->last_ok);
		rc |=
		    sbuf_printf(s, ", %s of images\n", human_bytes(c->last_ok.bytes, b, sizeof(b)));
		for (const char *p = c->last_images.p; p && *p && rc == 0;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			rc |= sbuf_printf(s, "  %.*s\n", (int)n, p);
			p += n + (nl != NULL);
		}
	}
	if (c->last_err.gen) {
		rc |= sbuf_printf(s, "last error:     ");
		rc |= text_when(s, &c->last_err);
		rc |=
		    sbuf_printf(s, "%s%s\n", c->last_err.text[0] ? ":\n  " : "", c->last_err.text);
	}
	return rc;
}

static int text_running(struct coord *c, struct sbuf *s)
{
	char done[32], total[32];
	if (!c->ckpt.active)
		return 0;
	struct proto_progress p = ckpt_progress(c);
	return sbuf_printf(
	    s, "in progress:    generation %u for %.1f s, %s of %s written (%u processes)\n",
	    c->ckpt.gen, (double)(now_ms() - c->ckpt.start_ms) / 1000,
	    human_bytes(p.done, done, sizeof(done)), human_bytes(p.total, total, sizeof(total)),
	    p.nprocs);
}

int status_text(struct coord *c, struct sbuf *s)
{
	int rc = sbuf_printf(s, "coordinator:    %s:%u (pid %d)\n", c->bind_addr, c->port,
			     (int)getpid());
	if (c->comp_id)
		rc |= sbuf_printf(s, "computation:    %016llx, generation %u\n",
				  (unsigned long long)c->comp_id, c->gen);
	else
		rc |= sbuf_printf(s, "computation:    none yet\n");
	rc |= sbuf_printf(s, "state:          %s\n", state_name(c));
	if (c->interval)
		rc |= sbuf_printf(s, "interval:       every %u s\n", c->interval);
	else
		rc |= sbuf_printf(s, "interval:       off\n");
	rc |= text_running(c, s);
	rc |= text_last(c, s);
	if (c->log_path[0])
		rc |= sbuf_printf(s, "log:            %s\n", c->log_path);
	rc |= sbuf_printf(s, "checkpoint dir: %s\nprocesses:      %d\n", c->ckpt_dir,
			  coord_nprocs(c));
	for (struct conn *k = c->conns; k; k = k->next)
		if (k->state == CONN_READY && conn_is_process(k))
			rc |= sbuf_printf(s, "  %8u  %s\n", k->pid, k->name);
	return rc;
}
