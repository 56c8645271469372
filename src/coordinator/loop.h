/* A small event loop (in the manner of Redis ae.h): file events with separate
 * read and write callbacks, one-shot or repeating timers, and a hook run before
 * each sleep. Single-threaded; built on epoll.
 */
#ifndef STASIS_COORDINATOR_LOOP_H
#define STASIS_COORDINATOR_LOOP_H

#define LOOP_NONE 0
#define LOOP_READ 1
#define LOOP_WRITE 2

/* A timer callback returns the delay in ms before it runs again, or LOOP_NOMORE. */
#define LOOP_NOMORE (-1)

struct loop;
typedef void loop_file_fn(struct loop *l, int fd, void *data, int mask);
typedef long long loop_timer_fn(struct loop *l, long long id, void *data);
typedef void loop_hook_fn(struct loop *l, void *data);

/* Returns NULL with errno on failure. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for the events in mask, calling fn; 0 or -1 with errno. */
int loop_add_fd(struct loop *l, int fd, int mask, loop_file_fn *fn, void *data);
/* Stop watching the events in mask (the fd is not closed). */
void loop_del_fd(struct loop *l, int fd, int mask);
/* The events fd is watched for (LOOP_NONE if none). */
int loop_fd_mask(const struct loop *l, int fd);
/* The data of fd if it is watched for reading by fn, else NULL. */
void *loop_fd_data(const struct loop *l, int fd, loop_file_fn *fn);

/* Run fn after ms milliseconds; returns the timer id (> 0) or -1. */
long long loop_add_timer(struct loop *l, long long ms, loop_timer_fn *fn, void *data);
/* Cancel a timer; 0, or -1 if no such timer. */
int loop_del_timer(struct loop *l, long long id);

void loop_set_before_sleep(struct loop *l, loop_hook_fn *fn, void *data);

/* Wait for and run the due events once; wait at most timeout_ms (-1: until
 * something happens). Returns the number of events run, or -1 on error. */
int loop_process(struct loop *l, int timeout_ms);
/* Run until loop_stop(); 0, or -1 with errno if waiting failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
int loop_stopped(const struct loop *l);

#endif
