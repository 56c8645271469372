#include "coordinator/loop.h"
#include "common/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct file_ev {
	int mask;
	loop_file_fn *rfn, *wfn;
	void *data;
};

struct timer {
	long long id; /* 0 once deleted; freed after the timer pass */
	long long when;
	loop_timer_fn *fn;
	void *data;
	struct timer *next;
};

struct loop {
	int epfd;
	int stop;
	struct file_ev *files;
	int nfiles;
	struct timer *timers;
	long long next_timer_id;
	loop_hook_fn *before_sleep;
	void *before_sleep_data;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int saved = errno;
		free(l);
		errno = saved;
		return NULL;
	}
	l->next_timer_id = 1;
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->timers) {
		struct timer *t = l->timers;
		l->timers = t->next;
		free(t);
	}
	close(l->epfd);
	free(l->files);
	free(l);
}

static int grow_files(struct loop *l, int fd)
{
	if (fd < l->nfiles)
		return 0;
	int n = l->nfiles ? l->nfiles : 64;
	while (n <= fd)
		n *= 2;
	struct file_ev *f = realloc(l->files, n * sizeof(*f));
	if (!f)
		return -1;
	memset(f + l->nfiles, 0, (n - l->nfiles) * sizeof(*f));
	l->files = f;
	l->nfiles = n;
	return 0;
}

static int epoll_update(struct loop *l, int fd, int old_mask, int mask)
{
	struct epoll_event ev = {.data.fd = fd};
	if (mask & LOOP_READ)
		ev.events |= EPOLLIN;
	if (mask & LOOP_WRITE)
		ev.events |= EPOLLOUT;
	if (mask == LOOP_NONE)
		return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev);
	return epoll_ctl(l->epfd, old_mask == LOOP_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

int loop_add_fd(struct loop *l, int fd, int mask, loop_file_fn *fn, void *data)
{
	if (fd < 0 || grow_files(l, fd) < 0) {
		errno = fd < 0 ? EBADF : ENOMEM;
		return -1;
	}
	struct file_ev *f = &l->files[fd];
	if (epoll_update(l, fd, f->mask, f->mask | mask) < 0)
		return -1;
	f->mask |= mask;
	if (mask & LOOP_READ)
		f->rfn = fn;
	if (mask & LOOP_WRITE)
		f->wfn = fn;
	f->data = data;
	return 0;
}

void loop_del_fd(struct loop *l, int fd, int mask)
{
	if (fd < 0 || fd >= l->nfiles || !(l->files[fd].mask & mask))
		return;
	struct file_ev *f = &l->files[fd];
	epoll_update(l, fd, f->mask, f->mask & ~mask);
	f->mask &= ~mask;
}

int loop_fd_mask(const struct loop *l, int fd)
{
	return fd >= 0 && fd < l->nfiles ? l->files[fd].mask : LOOP_NONE;
}

void *loop_fd_data(const struct loop *l, int fd, loop_file_fn *fn)
{
	if (fd < 0 || fd >= l->nfiles || !(l->files[fd].mask & LOOP_READ) || l->files[fd].rfn != fn)
		return NULL;
	return l->files[fd].data;
}

long long loop_add_timer(struct loop *l, long long ms, loop_timer_fn *fn, void *data)
{
	struct timer *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->id = l->next_timer_id++;
	t->when = now_ms() + ms;
	t->fn = fn;
	t->data = data;
	t->next = l->timers;
	l->timers = t;
	return t->id;
}

int loop_del_timer(struct loop *l, long long id)
{
	for (struct timer *t = l->timers; t; t = t->next)
		if (t->id == id && id > 0) {
			t->id = 0;
			return 0;
		}
	return -1;
}

void loop_set_before_sleep(struct loop *l, loop_hook_fn *fn, void *data)
{
	l->before_sleep = fn;
	l->before_sleep_data = data;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

int loop_stopped(const struct loop *l)
{
	return l->stop;
}

/* Milliseconds until the nearest live timer, capped by timeout_ms (-1: none). */
static int wait_ms(const struct loop *l, int timeout_ms)
{
	long long now = now_ms(), best = timeout_ms;
	for (const struct timer *t = l->timers; t; t = t->next) {
		if (!t->id)
			continue;
		long long d = t->when > now ? t->when - now : 0;
		if (best < 0 || d < best)
			best = d;
	}
	return (int)best;
}

static void sweep_timers(struct loop *l)
{
	struct timer **p = &l->timers;
	while (*p) {
		struct timer *t = *p;
		if (t->id) {
			p = &t->next;
			continue;
		}
		*p = t->next;
		free(t);
	}
}

static int run_timers(struct loop *l)
{
	long long max_id = l->next_timer_id - 1, now = now_ms();
	int ran = 0;
	for (struct timer *t = l->timers; t; t = t->next) {
		if (!t->id || t->id > max_id || t->when > now)
			continue;
		long long again = t->fn(l, t->id, t->data);
		ran++;
		if (!t->id)
			continue; /* deleted itself */
		if (again < 0)
			t->id = 0;
		else
			t->when = now_ms() + again;
	}
	sweep_timers(l);
	return ran;
}

static void run_file(struct loop *l, const struct epoll_event *ev)
{
	int fd = ev->data.fd;
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP) && l->files[fd].mask & LOOP_READ)
		l->files[fd].rfn(l, fd, l->files[fd].data, LOOP_READ);
	/* the read callback may have closed fd and unregistered it */
	if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP) && l->files[fd].mask & LOOP_WRITE)
		l->files[fd].wfn(l, fd, l->files[fd].data, LOOP_WRITE);
}

int loop_process(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	if (l->before_sleep)
		l->before_sleep(l, l->before_sleep_data);
	if (l->stop)
		return 0;
	int n = epoll_wait(l->epfd, evs, 64, wait_ms(l, timeout_ms));
	if (n < 0 && errno != EINTR)
		return -1;
	for (int i = 0; i < n; i++)
		run_file(l, &evs[i]);
	return (n > 0 ? n : 0) + run_timers(l);
}

int loop_run(struct loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (loop_process(l, -1) < 0)
			return -1;
	return 0;
}
