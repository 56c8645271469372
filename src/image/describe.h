/* The records of the image's own sections (header, section table, process,
 * threads, signal actions, memory regions and chunks, descriptors, parent),
 * written field by field as text or JSON (kinds/kind.h, struct img_out) for
 * stasis inspect. A descriptor's own part, and the records of the sections
 * that describe kernel objects (zombies, locks, shares, IPC), are their
 * kinds' (kinds/). */
#ifndef STASIS_IMAGE_DESCRIBE_H
#define STASIS_IMAGE_DESCRIBE_H

#include "image/format.h"
#include "image/kinds/kind.h"

void img_describe_header(const struct img_header *h, struct img_out *o);
void img_describe_section(const struct img_section *s, struct img_out *o);
void img_describe_proc(const struct img_view *v, const struct img_proc *p, struct img_out *o);
void img_describe_thread(const struct img_thread *t, struct img_out *o);
/* sig: 1 to 64 */
void img_describe_sigaction(int sig, const struct img_sigaction *a, struct img_out *o);
void img_describe_vma(const struct img_view *v, const struct img_vma *m, struct img_out *o);
void img_describe_chunk(const struct img_chunk *c, struct img_out *o);
void img_describe_zero_run(const struct img_zero_run *z, struct img_out *o);
void img_describe_parent(const struct img_parent *p, struct img_out *o);
/* Descriptor entry i of v: its fields, and its kind's record under "record"
 * (payload: its IMG_SEC_FDX payload, NULL for a kind without one or a dup,
 * whose record is its lowest's). */
void img_describe_fd(const struct img_view *v, uint32_t i, const void *payload, uint32_t len,
		     struct img_out *o);

#endif
