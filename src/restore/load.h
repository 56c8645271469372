/* load.c: an image loaded for restart (or inspect): every section's checksum
 * and every index is checked when it is loaded, before anything is created,
 * so that a bad image changes nothing. */
#ifndef STASIS_RESTORE_LOAD_H
#define STASIS_RESTORE_LOAD_H

#include "image/image.h"
#include "image/kinds/kind.h"
#include "image/kinds/sysv.h"
#include "image/kinds/locks.h"
#include "image/kinds/shares.h"
#include "image/kinds/zombies.h"
#include "image/kinds/members.h"
#include "image/kinds/origin.h"
#include "image/kinds/plugins.h"

#include <stddef.h>
#include <stdint.h>

struct rst_image {
	struct img_reader r;
	struct img_proc *proc;
	struct img_thread *threads;
	struct img_sigaction *sigact;
	struct img_vma *vmas;
	struct img_chunk *chunks;
	struct img_fd *fds;
	struct img_file *files;
	uint8_t *file_state; /* per file: RST_FILE_* of this restorer process (fd_file.c) */
	char *strings;
	uint8_t *filedata;
	uint8_t *fdx;		    /* IMG_SEC_FDX, NULL in images without one */
	struct img_zombie *zombies; /* IMG_SEC_ZOMBIES, NULL in images without one */
	uint32_t nzombies;
	struct img_lock *locks; /* IMG_SEC_LOCKS, NULL in images without one */
	uint32_t nlocks;
	struct img_share *shares; /* IMG_SEC_SHARES, NULL in images without one */
	uint32_t nshares;
	struct img_ipc *ipc; /* IMG_SEC_IPC, NULL in images without one */
	uint32_t nipc;
	struct img_member *members; /* IMG_SEC_MEMBERS, NULL in images without one */
	uint32_t nmembers;
	struct img_origin *origin;  /* IMG_SEC_ORIGIN, NULL in images without one */
	uint32_t norigin;	    /* 1 with one */
	struct img_plugin *plugins; /* IMG_SEC_PLUGINS, NULL in images without one */
	uint32_t nplugins;
	struct img_zero_run *zero; /* IMG_SEC_ZERO, NULL in images without one */
	uint32_t nzero;
	uint32_t nthreads, nvmas, nchunks, nfds, nfiles;
	size_t strings_len, filedata_len, fdx_len;
	struct rst_chain *chain;   /* chain.c: an incremental image's parents, else NULL */
	struct rst_src *chunk_src; /* chain.c: where each chunk's pages are, else NULL */
};

/* Open, verify every checksum of the metadata and every index; an
 * incremental image's parents are loaded and its chunks resolved (chain.c). */
int rst_load(struct rst_image *img, const char *path, char *err, size_t errlen);
int rst_load_depth(struct rst_image *img, const char *path, int depth, char *err, size_t errlen);
void rst_free(struct rst_image *img);
const char *rst_str(const struct rst_image *img, uint32_t off);
/* The sections the kinds' records point into (image/kinds/kind.h). */
struct img_view rst_view(const struct rst_image *img);
/* The IMG_SEC_FDX record of a descriptor of a kind that has one (checked by
 * rst_load: in range, of the descriptor's type); its payload follows the
 * header. */
const struct img_fdx *rst_fdx(const struct rst_image *img, const struct img_fd *d);
static inline const void *rst_fdx_payload(const struct img_fdx *x)
{
	return x + 1;
}

#endif
