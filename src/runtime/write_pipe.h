/* write_pipe.c: bare helper threads (a clone sharing everything, every
 * signal blocked, the creator's TLS, which it must not touch): rt_helper_start
 * runs fn(arg) on one (-1 if none could be made), rt_helper_join waits until
 * it is gone. One compresses chunks while memory is written (when the writer
 * compresses; STASIS_WRITE_THREADS=1: never); rt_pipe_end stops it and
 * writes what it left: 0, or -1 with errno. */
#ifndef STASIS_RUNTIME_WRITE_PIPE_H
#define STASIS_RUNTIME_WRITE_PIPE_H

#include <stdint.h>

struct img_writer;
struct rt_helper {
	uint32_t ctid;
	int running;
	long tid;
};
int rt_helper_start(struct rt_helper *h, void (*fn)(void *), void *arg);
void rt_helper_join(struct rt_helper *h);
int rt_one_thread(void); /* STASIS_WRITE_THREADS=1: no helper (compression, snap.c's copy) */
void rt_pipe_start(struct img_writer *w, struct rt_helper *h);
int rt_pipe_end(struct img_writer *w, struct rt_helper *h);
/* fn(arg) on a helper thread with a private copy of the descriptor table, for
 * files the checkpoint thread opens while the program's threads run. */
int rt_run_private_files(void (*fn)(void *), void *arg);

#endif
