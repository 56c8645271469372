/* The restart handoff: what the restorer writes into the restarted process's
 * runtime (struct rt_state's `restart`, at the address the image records in
 * img_proc.runtime_info) before the blob swaps the address space; the
 * runtime reads it once its threads are back (runtime/ckpt.c). Shared by the
 * restorer and the runtime, like the blob's plan (blob.h): stdint only.
 *
 * The runtime fills `version` and `size` when it is loaded, so that they are
 * in every image it writes; the restorer writes nothing unless both are its
 * own (restore/spawn.c): a restorer of another build refuses the image
 * instead of writing its layout into the runtime's memory. */
#ifndef STASIS_RESTORE_BLOB_RESTART_INFO_H
#define STASIS_RESTORE_BLOB_RESTART_INFO_H

#include <stdint.h>

#define RT_RESTART_VERSION 3		       /* bumped with any change of the struct */
#define RT_RESTART_MAGIC 0x5453524154534552ull /* "RESTARTS" */
#define RT_MAX_MAPPED 64		       /* ranges in rt_restart_info.mapped */
#define RT_RESTART_PATH 4096		       /* bytes of ckpt_dir (PATH_MAX) */

struct rt_restart_info {
	uint32_t version;   /* RT_RESTART_VERSION of the runtime that wrote the image */
	uint32_t size;	    /* sizeof(struct rt_restart_info), likewise */
	uint64_t magic;	    /* RT_RESTART_MAGIC once the restorer wrote the rest */
	uint64_t blob_addr; /* the restore blob's area, to unmap */
	uint64_t blob_len;
	uint64_t comp_id;
	uint32_t gen;
	uint32_t flags;	      /* enum proto_ckpt_flags defaults */
	uint32_t port;	      /* the coordinator of the restarted computation */
	uint32_t debug_pause; /* stop (SIGSTOP) before the program goes on */
	char ckpt_dir[RT_RESTART_PATH];
	/* address ranges (a superset) the restorer mapped from image files
	 * (restore/mapimg.c), for the madvise wrapper in runtime/mapped.c */
	uint32_t nmapped;
	uint32_t base_gen; /* the full image the restarted image's chain begins with */
	uint64_t mapped[RT_MAX_MAPPED][2];
	/* the pipes and sockets among restart's own stdin, stdout and stderr:
	 * the computation's outside from now on (runtime/fds.c) */
	uint32_t nouter;
	uint32_t reserved2;
	struct {
		uint64_t dev, ino;
	} outer[3];
	/* `restart --path-map OLD=NEW` lines, '\n'-separated, NUL-terminated:
	 * for plugins (stasis_plugin_path_map) */
	char path_map[RT_RESTART_PATH];
};

#endif
