/* The sharing pass's files in the run directory (shares_pub.h). */
#include "runtime/shares_pub.h"
#include "runtime/arena.h"
#include "runtime/state.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_ENTRIES 65536
#define LIST_MAGIC 0x53464f32u	 /* "2OFS": a sorted list, with the process's parent */
#define ANSWER_MAGIC 0x53464132u /* "2AFS": the union's answer */

/* What every file of the pass begins with. */
struct pub_head {
	uint32_t magic, pid; /* the process the file is of (or for) */
	uint64_t comp_id;
	uint32_t gen, n;   /* entries that follow */
	uint64_t stamp_ns; /* CLOCK_MONOTONIC when written: after this checkpoint began */
	uint32_t ppid;	   /* a list: the process's parent */
	uint32_t status;   /* an answer: enum rt_answer */
};

/* An answer that says why the pass failed carries this instead of entries. */
struct pub_why {
	char text[320];
};

static uint64_t began_ns;
static char list_path[PATH_MAX]; /* ours, removed once DRAINED passes */
static uint32_t *answered;	 /* the processes we answered (arena) */
static uint32_t nanswered, answered_cap;

void rt_pub_begin(void)
{
	began_ns = (uint64_t)now_ns();
}

static int pub_path(const char *what, uint32_t pid, char *buf, size_t size)
{
	char name[96];
	snprintf(name, sizeof(name), "%s-%016llx-%u", what, (unsigned long long)rt.comp_id, pid);
	return proto_run_file(rt.port, name, buf, size);
}

/* head and body as path, whole or not at all: 0 or -1. */
static int write_whole(const char *path, const struct pub_head *h, const void *body, size_t len)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && write_full(fd, h, sizeof(*h)) == 0 && write_full(fd, body, len) == 0 &&
	    close(fd) == 0 && rename(tmp, path) == 0)
		return 0;
	if (fd >= 0)
		unlink(tmp);
	return -1;
}

void rt_pub_list(uint32_t pid, uint32_t ppid, const struct rt_fdesc *v, uint32_t n)
{
	struct pub_head h = {LIST_MAGIC, pid, rt.comp_id, rt.gen, n, (uint64_t)now_ns(), ppid, 0};
	if (pub_path("fdorder", pid, list_path, sizeof(list_path)) < 0 ||
	    write_whole(list_path, &h, v, (size_t)n * sizeof(*v)) < 0)
		list_path[0] = 0;
}

/* The head of pid's file of the kind magic, if it is one of this checkpoint's:
 * its descriptor (the caller closes it), or -1. */
static int open_pub(const char *what, uint32_t magic, uint32_t pid, struct pub_head *h)
{
	char path[PATH_MAX];
	if (pub_path(what, pid, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (read_full(fd, h, sizeof(*h)) == sizeof(*h) && h->magic == magic && h->pid == pid &&
	    h->comp_id == rt.comp_id && h->gen == rt.gen && h->n <= MAX_ENTRIES &&
	    h->stamp_ns >= began_ns)
		return fd;
	close(fd);
	return -1;
}

/* A list as fd_order.c makes it: each entry's run starts at or before it, in order. */
static int valid_list(const struct rt_fdesc *v, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (v[k].first > k || (k && v[k].first < v[k - 1].first))
			return 0;
	return 1;
}

int rt_pub_read_list(uint32_t pid, struct rt_fdesc **v, uint32_t max, uint32_t *ppid)
{
	struct pub_head h;
	int fd = open_pub("fdorder", LIST_MAGIC, pid, &h);
	if (fd < 0)
		return -1;
	int ok = *v ? h.n <= max : (*v = rt_alloc((h.n ? h.n : 1) * sizeof(**v))) != NULL;
	size_t want = (size_t)h.n * sizeof(**v);
	ok = ok && read_full(fd, *v, want) == (ssize_t)want && valid_list(*v, h.n);
	close(fd);
	*ppid = h.ppid;
	return ok ? (int)h.n : -1;
}

static void note_answered(uint32_t pid)
{
	if (nanswered == answered_cap) {
		uint32_t cap = answered_cap ? 2 * answered_cap : 64;
		uint32_t *grown = rt_alloc(cap * sizeof(*grown));
		if (!grown)
			return;
		memcpy(grown, answered, nanswered * sizeof(*grown));
		answered = grown;
		answered_cap = cap;
	}
	answered[nanswered++] = pid;
}

void rt_pub_answer(uint32_t pid, enum rt_answer status, const struct fu_out *out, uint32_t n,
		   const char *why)
{
	char path[PATH_MAX];
	struct pub_why w = {""};
	struct pub_head h = {ANSWER_MAGIC,	 pid, rt.comp_id, rt.gen, 0,
			     (uint64_t)now_ns(), 0,   status};
	if (status == RT_ANSWER_OK)
		h.n = n;
	else if (why)
		snprintf(w.text, sizeof(w.text), "%s", why);
	if (pub_path("fdshare", pid, path, sizeof(path)) < 0)
		return;
	note_answered(pid);
	if (status == RT_ANSWER_OK)
		write_whole(path, &h, out, (size_t)n * sizeof(*out));
	else
		write_whole(path, &h, &w, sizeof(w));
}

int rt_pub_read_answer(uint32_t pid, struct fu_out *out, uint32_t n, enum rt_answer *status,
		       char *why, size_t whylen)
{
	struct pub_head h;
	struct pub_why w;
	int fd = open_pub("fdshare", ANSWER_MAGIC, pid, &h);
	if (fd < 0)
		return 0;
	*status = h.status;
	int rc = -1;
	if (h.status == RT_ANSWER_OK && h.n == n) {
		size_t want = (size_t)n * sizeof(*out);
		rc = read_full(fd, out, want) == (ssize_t)want ? 1 : -1;
	} else if (h.status == RT_ANSWER_FAILED && read_full(fd, &w, sizeof(w)) == sizeof(w)) {
		w.text[sizeof(w.text) - 1] = 0;
		snprintf(why, whylen, "%s", w.text);
		rc = 1;
	}
	close(fd);
	return rc;
}

static void remove_pub(const char *what, uint32_t pid)
{
	char path[PATH_MAX];
	if (pub_path(what, pid, path, sizeof(path)) == 0)
		unlink(path);
}

void rt_pub_done(uint32_t self)
{
	remove_pub("fdshare", self); /* if the answer came after we stopped waiting */
	if (list_path[0])
		unlink(list_path);
	list_path[0] = 0;
	for (uint32_t k = 0; k < nanswered; k++)
		remove_pub("fdshare", answered[k]);
	nanswered = answered_cap = 0;
	answered = NULL;
}
