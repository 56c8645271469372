/* The description of each kind of record an image holds about a kernel
 * object (a descriptor's payload, a zombie, a lock, an IPC object ...): one
 * file per object in this folder (fd_unix.c, zombies.c ...), with its payload
 * struct in its header, `validate` (rst_load runs it on every record before a
 * restart or inspect uses any) and `describe` (how inspect prints it, as text
 * or JSON: out.c). Every kind is in one table (kinds.c), compiled into the
 * runtime, the restorer and inspect; the runtime's and the restorer's kinds
 * point at their description (runtime/fdkinds.h, restore/fdkinds.h).
 *
 * Each object then has three files of one name: its description here, its
 * save side in src/runtime/ and its restore side in src/restore/
 * (docs/design.md has the table). */
#ifndef STASIS_IMAGE_KINDS_KIND_H
#define STASIS_IMAGE_KINDS_KIND_H

#include "image/format.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The sections a record may point into, as loaded (restore/load.c). */
struct img_view {
	const char *path; /* the image, for messages */
	uint32_t pid;
	const char *strings;
	size_t strings_len;
	const struct img_file *files;
	uint32_t nfiles;
	const uint8_t *filedata;
	size_t filedata_len;
	const struct img_fd *fds;
	uint32_t nfds;
};
/* The string at off, "" if off is out of range. */
const char *img_view_str(const struct img_view *v, uint32_t off);
/* Whether off names a string of the table, not empty. */
int img_view_has_str(const struct img_view *v, uint32_t off);
/* The entry of descriptor fd, or NULL. */
const struct img_fd *img_view_fd(const struct img_view *v, int fd);
/* filedata[off, off + len) is in the section. */
int img_view_has_data(const struct img_view *v, uint64_t off, uint64_t len);

struct img_out;

struct img_kind {
	const char *name;  /* short, as inspect and messages say it: "unix", "zombie" */
	const char *about; /* what it is: "Unix domain socket" */
	uint32_t section;  /* IMG_SEC_FDS for a descriptor kind, else its records' section */
	uint32_t fd_type;  /* enum img_fd_type of a descriptor kind, 0 otherwise */
	uint32_t size;	   /* a record's size, or the least a descriptor's payload has */
	int payload;	   /* a descriptor kind with a record in IMG_SEC_FDX */
	/* Record i of its section (for a descriptor kind: of IMG_SEC_FDS, rec its
	 * payload or NULL) is consistent with the image: 0, or -1 with why
	 * (what is wrong, without the image's name). NULL: any record is. */
	int (*validate)(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
			char *why, size_t whylen);
	/* The record's fields (a descriptor's: its payload's) into o. */
	void (*describe)(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
			 struct img_out *o);
};

/* kinds.c: the kind of descriptor type t, or of the records of section s;
 * NULL if there is none. */
const struct img_kind *img_fd_kind(uint32_t t);
const struct img_kind *img_section_kind(uint32_t s);
/* The name of descriptor type t ("unix"), "unknown" if it has no kind. */
const char *img_fd_type_name(uint32_t t);
/* Every kind, NULL-terminated. */
extern const struct img_kind *const img_kinds[];

/* out.c: fields written as text (key=value, nested in braces and brackets)
 * or as JSON. An object or list opens with out_begin_* and ends with
 * out_end; key is NULL for a list's elements. */
struct img_out {
	FILE *f;
	int json;
	int depth;
	int count[16]; /* fields or elements written at each depth */
};
void out_init(struct img_out *o, FILE *f, int json);
void out_begin_object(struct img_out *o, const char *key);
void out_begin_list(struct img_out *o, const char *key);
void out_end(struct img_out *o, int list);
void out_u64(struct img_out *o, const char *key, uint64_t v);
void out_i64(struct img_out *o, const char *key, int64_t v);
void out_hex(struct img_out *o, const char *key, uint64_t v); /* JSON: a number */
void out_bool(struct img_out *o, const char *key, int v);
void out_null(struct img_out *o, const char *key);
void out_str(struct img_out *o, const char *key, const char *s);
void out_strn(struct img_out *o, const char *key, const char *s, size_t n);
/* Bytes as a string with escapes (text: the first 64 and how many). */
void out_bytes(struct img_out *o, const char *key, const void *p, size_t n);
/* A code by its name in names[] (n names), else its number. */
void out_enum(struct img_out *o, const char *key, uint32_t v, const char *const *names, size_t n);
/* Flag bits by their names (bit k: names[k]): a list; unknown bits by number. */
void out_flags(struct img_out *o, const char *key, uint64_t v, const char *const *names, size_t n);
#define OUT_NAMES(a) (a), (sizeof(a) / sizeof((a)[0]))

#endif
