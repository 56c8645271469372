/* write.c: the image of this process. rt_capture takes, while every process
 * of the checkpoint is stopped, what the others could change once they run;
 * rt_write_image then writes the image, or with may_fork starts a child (a
 * copy-on-write snapshot) that writes the memory while the caller releases
 * the threads, and rt_image_wait collects its result. */
#ifndef STASIS_RUNTIME_WRITE_H
#define STASIS_RUNTIME_WRITE_H

#include <stddef.h>
#include <stdint.h>

struct rt_image_job {
	int restarted; /* rt_write_image returned in a restarted process */
	int forked;
	int pid, result_fd;
	int rc;
	uint64_t size;
	uint64_t header_sum; /* of the image written */
};

struct image_parts;
/* Descriptors, queues in flight, SysV objects, memory regions and a copy of
 * the shared pages (unless live: nobody runs before the images are written);
 * NULL with err set on failure. */
struct image_parts *rt_capture(int live, char *err, size_t errlen);
/* 0: written, or being written by a forked child (job->forked), or returning
 * in a restarted process (job->restarted); -1 with err set. */
int rt_write_image(struct image_parts *p, const char *path, int compress, int incremental,
		   int may_fork, struct rt_image_job *job, char *err, size_t errlen);
int rt_image_wait(struct rt_image_job *job, char *err, size_t errlen);
struct img_writer;
/* What failed writing w's image (w->failed, errno) into err: the file, and
 * for a full disk its directory, the space free there and the bytes the
 * image needs. */
void rt_image_error(const struct img_writer *w, char *err, size_t errlen);

#endif
