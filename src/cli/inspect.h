/* stasis inspect's output, shared by the view of one image (cmd_inspect.c)
 * and of a whole checkpoint directory (inspect_dir.c): blocks of records
 * printed by their kinds' and image/describe.h's printers, as text (a heading
 * and a line per record) or as JSON (a list of objects). */
#ifndef STASIS_CLI_INSPECT_H
#define STASIS_CLI_INSPECT_H

#include "image/kinds/kind.h"
#include "restore/load.h"

#include <stdint.h>

/* A block of n records: a list under key in JSON, "\nTITLE (n)" in text. */
void insp_begin_block(struct img_out *o, const char *key, const char *title, uint32_t n);
void insp_end_block(struct img_out *o);
/* One record of a block: an object in JSON, an indented line in text. */
void insp_begin_record(struct img_out *o);
void insp_end_record(struct img_out *o);
/* A record of its own: an object under key in JSON, "\nTITLE" and a line in
 * text; ends with insp_end_record. */
void insp_begin_single(struct img_out *o, const char *key, const char *title);
/* The n records at recs of section s, each by the section's kind. */
void insp_kind_block(const struct img_view *v, uint32_t s, const char *key, const char *title,
		     const void *recs, uint32_t n, struct img_out *o);
/* The threads of img ("threads"), and its descriptors with their kinds'
 * records ("fds"). */
void insp_threads(const struct rst_image *img, const char *title, struct img_out *o);
void insp_fds(const struct rst_image *img, const char *title, struct img_out *o);

/* inspect_dir.c: stasis inspect --dir DIR [VIEW]: views is a set of
 * INSP_* bits. 0, or 1 after saying why. */
enum { INSP_PS = 1, INSP_THREADS = 2, INSP_FDS = 4, INSP_MEM = 8, INSP_IPC = 16, INSP_ALL = 31 };
int cli_inspect_dir(const char *dir, unsigned views, int json);

#endif
