/* POSIX timers (timer_create): read from /proc/self/timers with their values
 * at checkpoint, created again with the same IDs at restart
 * (prctl PR_TIMER_CREATE_RESTORE_IDS, Linux 6.15+). Interval timers
 * (setitimer/alarm) are in procinfo.c. */
#include "runtime/timers.h"
#include "runtime/arena.h"
#include "runtime/state.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#endif
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

/* "notify: KIND/WHO.ID": KIND signal, none or thread; WHO is "tid" for a
 * timer that signals one thread (SIGEV_THREAD_ID), "pid" for the process. */
static int parse_notify(const char *s, struct rt_timer *t)
{
	char kind[16], who[16];
	int id;
	if (sscanf(s, "%15[a-z]/%15[a-z].%d", kind, who, &id) != 3)
		return -1;
	t->notify = !strcmp(kind, "none") ? SIGEV_NONE : SIGEV_SIGNAL;
	if (!strcmp(who, "tid") || !strcmp(kind, "thread"))
		t->notify |= SIGEV_THREAD_ID;
	t->tid = id;
	return 0;
}

/* One "ID: n" block of /proc/self/timers. */
static int parse_block(char *line, char **save, struct rt_timer *t)
{
	unsigned long long val;
	memset(t, 0, sizeof(*t));
	if (sscanf(line, "ID: %d", &t->id) != 1)
		return -1;
	for (int i = 0; i < 3 && (line = strtok_r(NULL, "\n", save)); i++) {
		if (sscanf(line, "signal: %d/%llx", &t->signo, &val) == 2)
			t->value = val;
		else if (!strncmp(line, "notify: ", 8))
			parse_notify(line + 8, t);
		else
			sscanf(line, "ClockID: %d", &t->clock);
	}
	return 0;
}

int rt_dump_timers(char *err, size_t errlen)
{
	char *buf = rt_alloc(1 << 20);
	char *save = NULL;
	rt.ntimers = 0;
	if (!buf)
		return snprintf(err, errlen,
				"cannot read /proc/self/timers: out of checkpoint "
				"memory"),
		       -1;
	if (read_small_file("/proc/self/timers", buf, 1 << 20) < 0)
		return 0; /* no POSIX timers support: nothing to save */
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct rt_timer *t = &rt.timers[rt.ntimers];
		if (strncmp(l, "ID:", 3) || parse_block(l, &save, t) < 0)
			continue;
		if (rt.ntimers >= RT_MAX_TIMERS)
			return errf(err, errlen, "more than %d POSIX timers", RT_MAX_TIMERS);
		if (syscall(SYS_timer_gettime, t->id, &t->spec) < 0)
			return errf(err, errlen, "cannot read POSIX timer %d: %s", t->id,
				    strerror(errno));
		rt.ntimers++;
	}
	return 0;
}

static int create_one(const struct rt_timer *t)
{
	struct sigevent sev;
	int id = t->id;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = t->notify;
	sev.sigev_signo = t->signo;
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)t->value;
	sev._sigev_un._tid = t->tid;
	if (syscall(SYS_timer_create, t->clock, &sev, &id) < 0)
		return -1;
	if (id != t->id) {
		syscall(SYS_timer_delete, id);
		errno = EEXIST;
		return -1;
	}
	return syscall(SYS_timer_settime, id, 0, &t->spec, NULL);
}

void rt_restore_timers(void)
{
	if (!rt.ntimers)
		return;
	if (prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0) < 0) {
		warn("this kernel cannot recreate POSIX timers with their IDs (Linux 6.15+ "
		     "needed): %d timers lost",
		     rt.ntimers);
		return;
	}
	for (int i = 0; i < rt.ntimers; i++)
		if (create_one(&rt.timers[i]) < 0)
			warn("cannot recreate POSIX timer %d: %s", rt.timers[i].id,
			     strerror(errno));
	prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
}
