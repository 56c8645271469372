/* The blocks inspect prints (inspect.h). */
#include "cli/inspect.h"
#include "image/describe.h"

#include <stdio.h>

/* A block of records: a list in JSON, a heading and a line each in text. */
void insp_begin_block(struct img_out *o, const char *key, const char *title, uint32_t n)
{
	if (o->json)
		out_begin_list(o, key);
	else
		printf("\n%s (%u)\n", title, n);
}

void insp_begin_record(struct img_out *o)
{
	if (!o->json) {
		fputs("  ", stdout);
		o->count[o->depth] = 0;
		return;
	}
	out_begin_object(o, NULL);
}

void insp_end_record(struct img_out *o)
{
	if (o->json)
		out_end(o, 0);
	else
		putchar('\n');
}

void insp_end_block(struct img_out *o)
{
	if (o->json)
		out_end(o, 1);
}

/* A record of its own: an object in JSON, a heading and a line in text. */
void insp_begin_single(struct img_out *o, const char *key, const char *title)
{
	if (o->json) {
		out_begin_object(o, key);
		return;
	}
	printf("\n%s\n", title);
	insp_begin_record(o);
}

/* The records of section s (n of them at recs), by the section's kind. */
void insp_kind_block(const struct img_view *v, uint32_t s, const char *key, const char *title,
		     const void *recs, uint32_t n, struct img_out *o)
{
	const struct img_kind *k = img_section_kind(s);
	insp_begin_block(o, key, title, n);
	for (uint32_t i = 0; i < n; i++) {
		insp_begin_record(o);
		k->describe(v, i, (const uint8_t *)recs + (size_t)i * k->size, k->size, o);
		insp_end_record(o);
	}
	insp_end_block(o);
}

void insp_threads(const struct rst_image *img, const char *title, struct img_out *o)
{
	insp_begin_block(o, "threads", title, img->nthreads);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *t = &img->threads[i];
		insp_begin_record(o);
		img_describe_thread(t, o);
		out_bool(o, "main", t->flags & IMG_THREAD_MAIN);
		out_bool(o, "checkpoint_thread", t->flags & IMG_THREAD_CKPT);
		insp_end_record(o);
	}
	insp_end_block(o);
}

void insp_fds(const struct rst_image *img, const char *title, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	insp_begin_block(o, "fds", title, img->nfds);
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fdx *x = img->fds[i].share < 0 ? rst_fdx(img, &img->fds[i]) : NULL;
		insp_begin_record(o);
		img_describe_fd(&v, i, x ? rst_fdx_payload(x) : NULL, x ? x->len : 0, o);
		insp_end_record(o);
	}
	insp_end_block(o);
}
