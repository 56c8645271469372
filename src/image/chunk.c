/* Memory chunks of an image: each is sampled and compressed when that pays
 * ("prepared"), then written at the end of the file with its checksum. Alone,
 * the writer's thread does both in turn. With a pipe (img_writer_pipe), a
 * helper thread prepares chunks while the writer's thread queues and writes
 * them, in the order they were given: on two cores, compression runs beside
 * the copy into the page cache.
 *
 * A raw chunk is checksummed when it is written, by the thread that writes it:
 * memory the checkpoint itself touches (the runtime's own data) may change
 * between preparing and writing, and the checksum must be of the bytes in the
 * file. A compressed chunk's checksum is of its compressed bytes, which no one
 * changes. */
#include "image/image.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <zstd.h>

enum { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

#define SAMPLE (64 * 1024)
#define SKIP_AFTER_SAMPLE 16 /* chunks stored raw after an incompressible sample */

/* futex(2) by hand: glibc's syscall() sets errno, and the helper shares the
 * writer thread's TLS (it has none of its own). */
static long futex_op(uint32_t *word, int op, uint32_t val)
{
	long ret;
	register long timeout __asm__("r10") = 0;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_futex), "D"(word), "S"((long)op), "d"((long)val),
			   "r"(timeout)
			 : "rcx", "r11", "memory");
	return ret;
}

static void futex_wait(uint32_t *word, uint32_t seen)
{
	futex_op(word, FUTEX_WAIT_PRIVATE, seen);
}

static void bump_and_wake(uint32_t *word)
{
	__atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
	futex_op(word, FUTEX_WAKE_PRIVATE, INT_MAX);
}

/* Compressing a sample first keeps incompressible memory (already compressed or
 * encrypted data, random numbers) at the disk's speed; after an incompressible
 * sample the next chunks are stored raw without trying: so are its neighbours. */
static int compressible(struct img_writer *w, const struct img_pipe_slot *s, struct ZSTD_CCtx_s *c)
{
	if (s->len <= 2 * SAMPLE)
		return 1;
	/* only chunks after the sampled one: with a helper, older ones may come later */
	uint64_t skip_until = __atomic_load_n(&w->skip_until, __ATOMIC_RELAXED);
	if (s->seq < skip_until && s->seq + SKIP_AFTER_SAMPLE > skip_until)
		return 0;
	size_t n = ZSTD_compressCCtx(c, s->zbuf, w->zbuf_size, s->mem, SAMPLE, w->level);
	if (!ZSTD_isError(n) && n < SAMPLE - SAMPLE / 16)
		return 1;
	uint64_t until = s->seq + SKIP_AFTER_SAMPLE,
		 old = __atomic_load_n(&w->skip_until, __ATOMIC_RELAXED);
	while (old < until && !__atomic_compare_exchange_n(&w->skip_until, &old, until, 0,
							   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return 0;
}

/* Sample and compress one chunk: on either thread, with its own zstd context
 * (c is NULL when the writer does not compress). */
static void prepare(struct img_writer *w, struct img_pipe_slot *s, struct ZSTD_CCtx_s *c)
{
	s->zlen = 0;
	if (c && s->zbuf && compressible(w, s, c)) {
		size_t n = ZSTD_compressCCtx(c, s->zbuf, w->zbuf_size, s->mem, s->len, w->level);
		/* store raw when compression gains less than 1/16 */
		if (!ZSTD_isError(n) && n < s->len - s->len / 16) {
			s->zlen = n;
			s->sum = img_sum(s->zbuf, n);
		}
	}
}

/* Append a prepared chunk and describe it in its img_chunk. */
static int store(struct img_writer *w, const struct img_pipe_slot *s)
{
	struct img_chunk *out = s->out;
	memset(out, 0, sizeof(*out));
	out->vaddr = s->vaddr;
	out->npages = s->len / IMG_PAGE;
	w->raw_bytes += s->len;
	if (s->zlen) {
		out->sum = s->sum;
		out->comp = IMG_COMP_ZSTD;
		out->offset = w->off;
		out->stored_size = s->zlen;
		w->stored_bytes += s->zlen;
		w->hdr.flags |= IMG_F_COMPRESSED;
		return img_write_at_end(w, s->zbuf, s->zlen);
	}
	/* raw chunks are page-aligned: restart maps them from the file */
	w->off = (w->off + IMG_PAGE - 1) & ~(uint64_t)(IMG_PAGE - 1);
	out->comp = IMG_COMP_NONE;
	out->offset = w->off;
	out->stored_size = s->len;
	out->sum = img_sum(s->mem, s->len);
	w->stored_bytes += s->len;
	return img_write_at_end(w, s->mem, s->len);
}

/* The oldest queued chunk nobody prepares yet, now ours; NULL when none. */
static struct img_pipe_slot *claim(struct img_pipe *p)
{
	uint64_t head = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE);
	for (uint64_t i = __atomic_load_n(&p->tail, __ATOMIC_ACQUIRE); i < head; i++) {
		struct img_pipe_slot *s = &p->slot[i % IMG_PIPE_SLOTS];
		uint32_t queued = SLOT_QUEUED;
		if (__atomic_compare_exchange_n(&s->state, &queued, SLOT_BUSY, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return s;
	}
	return NULL;
}

static void prepared(struct img_pipe *p, struct img_pipe_slot *s)
{
	__atomic_store_n(&s->state, SLOT_DONE, __ATOMIC_RELEASE);
	bump_and_wake(&p->done);
}

/* Write the oldest queued chunk; while the helper still prepares it, prepare
 * the next ones here rather than wait. */
static int write_oldest(struct img_writer *w)
{
	struct img_pipe *p = w->pipe;
	struct img_pipe_slot *s = &p->slot[p->tail % IMG_PIPE_SLOTS];
	for (;;) {
		uint32_t seen = __atomic_load_n(&p->done, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SLOT_DONE)
			break;
		struct img_pipe_slot *mine = claim(p);
		if (mine) {
			prepare(w, mine, w->cctx);
			prepared(p, mine);
		} else {
			futex_wait(&p->done, seen);
		}
	}
	int rc = store(w, s);
	__atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_RELAXED);
	__atomic_store_n(&p->tail, p->tail + 1, __ATOMIC_RELEASE);
	return rc;
}

static int queue(struct img_writer *w, struct img_pipe_slot *from)
{
	struct img_pipe *p = w->pipe;
	if (p->head - p->tail == IMG_PIPE_SLOTS && write_oldest(w) < 0)
		return -1;
	struct img_pipe_slot *s = &p->slot[p->head % IMG_PIPE_SLOTS];
	s->mem = from->mem;
	s->out = from->out;
	s->len = from->len;
	s->vaddr = from->vaddr;
	s->seq = from->seq;
	__atomic_store_n(&s->state, SLOT_QUEUED, __ATOMIC_RELEASE);
	__atomic_store_n(&p->head, p->head + 1, __ATOMIC_RELEASE);
	bump_and_wake(&p->queued);
	/* write what is ready without waiting: the disk gets the bytes early */
	while (p->tail < p->head && __atomic_load_n(&p->slot[p->tail % IMG_PIPE_SLOTS].state,
						    __ATOMIC_ACQUIRE) == SLOT_DONE)
		if (write_oldest(w) < 0)
			return -1;
	return 0;
}

int img_write_chunk(struct img_writer *w, const void *mem, uint32_t npages, uint64_t vaddr,
		    struct img_chunk *out)
{
	struct img_pipe_slot s = {
	    .mem = mem,
	    .out = out,
	    .zbuf = w->zbuf,
	    .len = (size_t)npages * IMG_PAGE,
	    .vaddr = vaddr,
	    .seq = w->nchunks++,
	};
	if (w->pipe)
		return queue(w, &s);
	prepare(w, &s, w->cctx);
	return store(w, &s);
}

int img_writer_flush(struct img_writer *w)
{
	while (w->pipe && w->pipe->tail < w->pipe->head)
		if (write_oldest(w) < 0)
			return -1;
	return 0;
}

void img_writer_pipe(struct img_writer *w, struct img_pipe *p)
{
	w->pipe = p;
}

void img_pipe_helper(struct img_writer *w)
{
	struct img_pipe *p = w->pipe;
	for (;;) {
		uint32_t seen = __atomic_load_n(&p->queued, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
			return;
		struct img_pipe_slot *s = claim(p);
		if (!s) {
			futex_wait(&p->queued, seen);
			continue;
		}
		prepare(w, s, p->cctx);
		prepared(p, s);
	}
}

void img_pipe_stop(struct img_writer *w)
{
	__atomic_store_n(&w->pipe->stop, 1, __ATOMIC_RELEASE);
	bump_and_wake(&w->pipe->queued);
}
