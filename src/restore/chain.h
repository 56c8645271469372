/* chain.c: incremental images. After rst_chain_load, img->chunks are pieces
 * of the stored chunks of the chain's files (img->chunk_src says which); read
 * them with rst_read_piece, given the files opened by rst_chain_open
 * (rst_chain_files(img) readers; none for an image without a parent). */
#ifndef STASIS_RESTORE_CHAIN_H
#define STASIS_RESTORE_CHAIN_H

#include "restore/load.h"

#include <stddef.h>
#include <stdint.h>

struct ZSTD_DCtx_s;
int rst_chain_load(struct rst_image *img, int depth, char *err, size_t errlen);
void rst_chain_free(struct rst_image *img);
uint32_t rst_chain_base_gen(const struct rst_image *img);
uint32_t rst_chain_files(const struct rst_image *img);
const char *rst_chain_path(const struct rst_image *img, uint32_t k); /* k < files */
/* which file holds piece i: 0 this image, k the k-th image below it */
uint32_t rst_piece_file(const struct rst_image *img, uint32_t i);
/* the parent's path (NULL for a full image), its generation and chain depth */
const char *rst_chain_parent(const struct rst_image *img, uint32_t *gen, uint32_t *depth);
/* the image's IMG_SEC_PARENT record, NULL for a full image */
const struct img_parent *rst_chain_record(const struct rst_image *img);
/* Whether piece i is stored raw and page-aligned, so that it can be mapped:
 * its file (as rst_piece_file) and the file offset of its first page. */
int rst_piece_raw(const struct rst_image *img, uint32_t i, uint32_t *file, uint64_t *off);
/* the stored chunk piece i is a part of (its checksum covers the whole) */
const struct img_chunk *rst_piece_whole(const struct rst_image *img, uint32_t i);
/* the reader of piece i's file, among those rst_chain_open gave */
struct img_reader *rst_piece_reader(struct rst_image *img, struct img_reader *readers, uint32_t i);
/* the files below the image, each checked to be the very file loaded (its
 * header checksum, device and inode) */
int rst_chain_open(const struct rst_image *img, struct img_reader *readers, char *err,
		   size_t errlen);
void rst_chain_close(const struct rst_image *img, struct img_reader *readers, uint32_t n);
/* whole_buf: IMG_CHUNK_PAGES pages, for pieces that are part of a chunk */
int rst_read_piece(struct rst_image *img, struct img_reader *readers, uint32_t i, void *dst,
		   struct ZSTD_DCtx_s *dctx, void *tmp, size_t tmpsize, void *whole_buf, char *err,
		   size_t errlen);

/* Pieces grouped by the stored chunk they are parts of: order gets the piece
 * indices (img->nchunks of them) grouped, starts where each group begins in
 * order; returns the number of groups. rst_read_group reads a group (its
 * stored chunk once, verified) into dst[k] for pieces[k] (NULL: skip it). */
uint32_t rst_piece_groups(const struct rst_image *img, uint32_t *order, uint32_t *starts);
int rst_read_group(struct rst_image *img, struct img_reader *readers, const uint32_t *pieces,
		   uint32_t n, void *const *dst, struct ZSTD_DCtx_s *dctx, void *tmp,
		   size_t tmpsize, void *whole_buf, char *err, size_t errlen);

#endif
