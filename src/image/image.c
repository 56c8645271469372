#include "image/image.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

uint64_t img_sum(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

/* ---- writer ---- */

int img_writer_open(struct img_writer *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	if (strlen(path) >= sizeof(w->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(w->path, path);
	snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", path);
	unlink(w->tmp);
	w->failed = "create";
	w->fd = fault_hit(FAULT_IMG_CREATE)
		    ? -1
		    : open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return -1;
	w->fd = fd_move_above(w->fd, 3);
	if (w->fd < 0)
		return -1;
	w->off = sizeof(struct img_header);
	return 0;
}

void img_writer_compress(struct img_writer *w, struct ZSTD_CCtx_s *cctx, void *zbuf,
			 size_t zbuf_size, int level)
{
	w->cctx = cctx;
	w->zbuf = zbuf;
	w->zbuf_size = zbuf_size;
	w->level = level;
}

/* Dirty pages are only written back at the final fdatasync (the machine's
 * dirty_background threshold is gigabytes): starting the writeback of every
 * IMG_WRITEBACK_WINDOW bytes as soon as they are written lets the disk work
 * while the next ones are stored, so the final fdatasync finds little left.
 * Not waiting for it keeps the writer at memory speed (waiting measured
 * slower). Errors are ignored here: fdatasync reports them. */
#define IMG_WRITEBACK_WINDOW (8u << 20)

static void start_writeback(struct img_writer *w)
{
	if (w->off - w->flushed < IMG_WRITEBACK_WINDOW)
		return;
	sync_file_range(w->fd, w->flushed, w->off - w->flushed, SYNC_FILE_RANGE_WRITE);
	w->flushed = w->off;
}

int img_write_at_end(struct img_writer *w, const void *data, size_t len)
{
	w->failed = "write";
	if (fault_hit(FAULT_IMG_WRITE) || pwrite_full(w->fd, data, len, w->off) < 0)
		return -1;
	w->off += len;
	start_writeback(w);
	return 0;
}

int img_write_section(struct img_writer *w, uint32_t type, uint32_t flags, const void *data,
		      size_t size)
{
	if (img_writer_flush(w) < 0)
		return -1;
	if (w->nsec >= IMG_MAX_SECTIONS) {
		errno = ENOSPC;
		return -1;
	}
	w->off = (w->off + 7) & ~7ull;
	struct img_section *s = &w->sec[w->nsec++];
	s->type = type;
	s->flags = flags;
	s->offset = w->off;
	s->size = size;
	s->sum = img_sum(data, size);
	return img_write_at_end(w, data, size);
}

static int fsync_dir_of(struct img_writer *w)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", w->path);
	w->failed = "fsync the directory of";
	int dfd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	int rc = fault_hit(FAULT_IMG_FSYNC_DIR) ? -1 : fsync(dfd);
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

int img_writer_finish(struct img_writer *w)
{
	struct img_header *h = &w->hdr;
	struct timespec ts;
	if (img_writer_flush(w) < 0)
		goto fail;
	w->off = (w->off + 7) & ~7ull;
	memcpy(h->magic, IMG_MAGIC, 8);
	h->version = IMG_VERSION;
	h->header_size = sizeof(*h);
	h->nsections = w->nsec;
	h->table_off = w->off;
	h->table_sum = img_sum(w->sec, w->nsec * sizeof(w->sec[0]));
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	h->file_size = w->off + w->nsec * sizeof(w->sec[0]) + sizeof(struct img_trailer);
	h->header_sum = img_sum(h, offsetof(struct img_header, header_sum));
	struct img_trailer t = {.file_size = h->file_size, .header_sum = h->header_sum};
	memcpy(t.magic, IMG_TRAILER_MAGIC, 8);
	if (img_write_at_end(w, w->sec, w->nsec * sizeof(w->sec[0])) < 0 ||
	    img_write_at_end(w, &t, sizeof(t)) < 0)
		goto fail;
	if (fault_hit(FAULT_IMG_WRITE) || pwrite_full(w->fd, h, sizeof(*h), 0) < 0)
		goto fail;
	w->failed = "fsync";
	if (fault_hit(FAULT_IMG_FSYNC) || fdatasync(w->fd) < 0)
		goto fail;
	w->failed = "close";
	int closed = close(w->fd);
	w->fd = -1;
	if (fault_hit(FAULT_IMG_CLOSE) || closed < 0)
		goto fail;
	w->failed = "rename";
	if (fault_hit(FAULT_IMG_RENAME) || rename(w->tmp, w->path) < 0)
		goto fail;
	if (fsync_dir_of(w) < 0) { /* renamed, but not durable: no image of this generation */
		int saved = errno;
		unlink(w->path);
		errno = saved;
		return -1;
	}
	w->failed = NULL;
	return 0;
fail:
	img_writer_abort(w);
	return -1;
}

void img_writer_abort(struct img_writer *w)
{
	int saved = errno;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	unlink(w->tmp);
	errno = saved;
}

/* ---- reader ---- */

/* len bytes at off, or -1 with errno (EIO for a file shorter than that: it
 * changed since it was opened) */
int img_pread(struct img_reader *r, void *buf, size_t len, uint64_t off)
{
	ssize_t n = fault_hit(FAULT_IMG_READ) ? -1 : pread_full(r->fd, buf, len, off);
	if (n >= 0 && (size_t)n != len)
		errno = EIO;
	return n >= 0 && (size_t)n == len ? 0 : -1;
}

static int check_header(struct img_reader *r, char *err, size_t errlen)
{
	struct img_header *h = &r->hdr;
	const char *p = r->path;
	if (memcmp(h->magic, IMG_MAGIC, 8))
		return errf(err, errlen, "%s is not a stasis image (bad magic at offset 0)", p);
	if (h->version < IMG_VERSION_MIN || h->version > IMG_VERSION)
		return errf(err, errlen,
			    "%s has image format version %u; this stasis reads versions %u to %u",
			    p, h->version, IMG_VERSION_MIN, IMG_VERSION);
	if (h->header_sum != img_sum(h, offsetof(struct img_header, header_sum)))
		return errf(err, errlen, "%s is corrupt: header checksum mismatch (bytes 0-127)",
			    p);
	if (h->header_size != sizeof(*h))
		return errf(err, errlen, "%s is corrupt: header size %u", p, h->header_size);
	if (h->file_size != r->file_size)
		return errf(err, errlen,
			    "%s is truncated or extended: header says %llu bytes, file has %llu", p,
			    (unsigned long long)h->file_size, (unsigned long long)r->file_size);
	if (h->nsections > IMG_MAX_SECTIONS ||
	    h->table_off + (uint64_t)h->nsections * sizeof(struct img_section) +
		    sizeof(struct img_trailer) !=
		h->file_size)
		return errf(err, errlen,
			    "%s is corrupt: bad section table (offset %llu, %u entries)", p,
			    (unsigned long long)h->table_off, h->nsections);
	return 0;
}

static int check_trailer(struct img_reader *r, char *err, size_t errlen)
{
	struct img_trailer t;
	uint64_t off = r->file_size - sizeof(t);
	if (img_pread(r, &t, sizeof(t), off) < 0)
		return errf(err, errlen, "cannot read the trailer of %s: %s", r->path,
			    strerror(errno));
	if (memcmp(t.magic, IMG_TRAILER_MAGIC, 8) || t.file_size != r->file_size ||
	    t.header_sum != r->hdr.header_sum || t.reserved)
		return errf(err, errlen, "%s is corrupt: bad trailer at offset %llu", r->path,
			    (unsigned long long)off);
	return 0;
}

static int load_table(struct img_reader *r, char *err, size_t errlen)
{
	size_t n = r->hdr.nsections * sizeof(struct img_section);
	r->sec = fault_hit(FAULT_IMG_ALLOC) ? NULL : malloc(n ? n : 1);
	if (!r->sec)
		return errf(err, errlen, "cannot read the section table of %s: %s", r->path,
			    strerror(errno));
	if (img_pread(r, r->sec, n, r->hdr.table_off) < 0)
		return errf(err, errlen, "cannot read the section table of %s: %s", r->path,
			    strerror(errno));
	if (img_sum(r->sec, n) != r->hdr.table_sum)
		return errf(err, errlen, "%s is corrupt: section table checksum mismatch at %llu",
			    r->path, (unsigned long long)r->hdr.table_off);
	for (uint32_t i = 0; i < r->hdr.nsections; i++) {
		const struct img_section *s = &r->sec[i];
		if (s->offset > r->hdr.table_off || s->size > r->hdr.table_off - s->offset)
			return errf(err, errlen, "%s is corrupt: section %s out of bounds", r->path,
				    img_section_name(s->type));
	}
	return 0;
}

int img_open(struct img_reader *r, const char *path, char *err, size_t errlen)
{
	struct stat st;
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->fd = fault_hit(FAULT_IMG_OPEN) ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return errf(err, errlen, "cannot open image %s: %s", path, strerror(errno));
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errf(err, errlen, "%s is not a regular file", path);
		goto out;
	}
	r->file_size = st.st_size;
	if (r->file_size < sizeof(r->hdr) + sizeof(struct img_trailer)) {
		errf(err, errlen, "%s is not a stasis image or is truncated (%llu bytes)", path,
		     (unsigned long long)r->file_size);
		goto out;
	}
	if (img_pread(r, &r->hdr, sizeof(r->hdr), 0) < 0) {
		errf(err, errlen, "cannot read the header of %s: %s", path, strerror(errno));
		goto out;
	}
	if (check_header(r, err, errlen) < 0 || check_trailer(r, err, errlen) < 0 ||
	    load_table(r, err, errlen) < 0)
		goto out;
	return 0;
out:
	img_close(r);
	return -1;
}

void img_close(struct img_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->sec);
	r->sec = NULL;
}

const struct img_section *img_find(const struct img_reader *r, uint32_t type)
{
	for (uint32_t i = 0; i < r->hdr.nsections; i++)
		if (r->sec[i].type == type)
			return &r->sec[i];
	return NULL;
}

void *img_load(struct img_reader *r, uint32_t type, size_t elem, size_t *size, int optional,
	       char *err, size_t errlen)
{
	const struct img_section *s = img_find(r, type);
	*size = 0;
	if (!s) {
		if (!optional)
			errf(err, errlen, "%s is corrupt: section %s is missing", r->path,
			     img_section_name(type));
		return NULL;
	}
	if (elem && s->size % elem) {
		errf(err, errlen, "%s is corrupt: section %s has size %llu, not a multiple of %zu",
		     r->path, img_section_name(type), (unsigned long long)s->size, elem);
		return NULL;
	}
	void *buf = fault_hit(FAULT_IMG_ALLOC) ? NULL : malloc(s->size ? s->size : 1);
	if (!buf || img_pread(r, buf, s->size, s->offset) < 0) {
		errf(err, errlen, "cannot read section %s of %s (offset %llu, %llu bytes): %s",
		     img_section_name(type), r->path, (unsigned long long)s->offset,
		     (unsigned long long)s->size, strerror(errno));
		free(buf);
		return NULL;
	}
	if (img_sum(buf, s->size) != s->sum) {
		errf(err, errlen,
		     "%s is corrupt: section %s (offset %llu, %llu bytes) fails its checksum",
		     r->path, img_section_name(type), (unsigned long long)s->offset,
		     (unsigned long long)s->size);
		free(buf);
		return NULL;
	}
	*size = s->size;
	return buf;
}

int img_read_chunk(struct img_reader *r, const struct img_chunk *c, void *dst,
		   struct ZSTD_DCtx_s *dctx, void *tmp, size_t tmpsize, char *err, size_t errlen)
{
	size_t len = (size_t)c->npages * IMG_PAGE;
	unsigned long long off = c->offset;
	if (c->offset > r->hdr.table_off || c->stored_size > r->hdr.table_off - c->offset)
		return errf(err, errlen, "%s is corrupt: memory chunk at %llu out of bounds",
			    r->path, off);
	if (c->comp == IMG_COMP_NONE) {
		if (c->stored_size != len)
			return errf(err, errlen,
				    "%s is corrupt: memory chunk at offset %llu (address %#llx) "
				    "has %llu bytes for %zu",
				    r->path, off, (unsigned long long)c->vaddr,
				    (unsigned long long)c->stored_size, len);
		if (img_pread(r, dst, len, c->offset) < 0)
			return errf(err, errlen,
				    "cannot read the memory chunk at offset %llu of %s: %s", off,
				    r->path, strerror(errno));
		if (img_sum(dst, len) != c->sum)
			return errf(err, errlen,
				    "%s is corrupt: memory chunk at offset %llu (address %#llx) "
				    "fails its checksum",
				    r->path, off, (unsigned long long)c->vaddr);
		return 0;
	}
	if (c->comp != IMG_COMP_ZSTD || !dctx || c->stored_size > tmpsize)
		return errf(err, errlen, "%s: unsupported memory chunk at offset %llu", r->path,
			    off);
	if (img_pread(r, tmp, c->stored_size, c->offset) < 0)
		return errf(err, errlen, "cannot read the memory chunk at offset %llu of %s: %s",
			    off, r->path, strerror(errno));
	if (img_sum(tmp, c->stored_size) != c->sum)
		return errf(
		    err, errlen,
		    "%s is corrupt: memory chunk at offset %llu (address %#llx) fails its checksum",
		    r->path, off, (unsigned long long)c->vaddr);
	size_t n = ZSTD_decompressDCtx(dctx, dst, len, tmp, c->stored_size);
	if (ZSTD_isError(n) || n != len)
		return errf(err, errlen,
			    "%s is corrupt: memory chunk at offset %llu does not decompress",
			    r->path, off);
	return 0;
}

#define NAME(tab, i) ((i) < sizeof(tab) / sizeof(tab[0]) && tab[i] ? tab[i] : "unknown")

const char *img_section_name(uint32_t type)
{
	static const char *const names[] = {
	    [IMG_SEC_PROC] = "proc",	     [IMG_SEC_THREADS] = "threads",
	    [IMG_SEC_SIGACT] = "sigact",     [IMG_SEC_VMAS] = "vmas",
	    [IMG_SEC_CHUNKS] = "chunks",     [IMG_SEC_FDS] = "fds",
	    [IMG_SEC_STRINGS] = "strings",   [IMG_SEC_FILEDATA] = "filedata",
	    [IMG_SEC_FILES] = "files",	     [IMG_SEC_TIMERS] = "timers",
	    [IMG_SEC_SIGQUEUE] = "sigqueue", [IMG_SEC_FDX] = "fdx",
	    [IMG_SEC_IPC] = "ipc",	     [IMG_SEC_TTY] = "tty",
	    [IMG_SEC_PARENT] = "parent",     [IMG_SEC_ZOMBIES] = "zombies",
	    [IMG_SEC_LOCKS] = "locks",	     [IMG_SEC_SHARES] = "shares",
	    [IMG_SEC_MEMBERS] = "members",   [IMG_SEC_ORIGIN] = "origin",
	    [IMG_SEC_PLUGINS] = "plugins",   [IMG_SEC_ZERO] = "zeropages",
	};
	return NAME(names, type);
}

uint32_t img_vma_special(const char *name)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} special[] = {
	    {"[vdso]", IMG_VMA_VDSO},
	    {"[vvar]", IMG_VMA_VVAR},
	    {"[vvar_vclock]", IMG_VMA_VVAR_VCLOCK},
	    {"[vsyscall]", IMG_VMA_VSYSCALL},
	};
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (!strcmp(name, special[i].name))
			return special[i].kind;
	return 0;
}

const char *img_vma_kind_name(uint32_t kind)
{
	static const char *const names[] = {
	    [IMG_VMA_ANON] = "anon",
	    [IMG_VMA_FILE_PRIVATE] = "file-private",
	    [IMG_VMA_FILE_SHARED] = "file-shared",
	    [IMG_VMA_SHMEM] = "shmem",
	    [IMG_VMA_VDSO] = "vdso",
	    [IMG_VMA_VVAR] = "vvar",
	    [IMG_VMA_VVAR_VCLOCK] = "vvar_vclock",
	    [IMG_VMA_VSYSCALL] = "vsyscall",
	    [IMG_VMA_STACK] = "stack",
	    [IMG_VMA_HEAP] = "heap",
	    [IMG_VMA_SKIP] = "runtime-scratch",
	};
	return NAME(names, kind);
}
