/* The processes of one checkpoint, restarted together (struct rst_set), what
 * restart was asked for (struct rst_options), and the objects several of them
 * hold (struct rst_obj, objs.c). Descriptors the restorers need sit at fixed
 * numbers from `base` up, above every process's own:
 *   base+0..2          restart's stdin, stdout, stderr
 *   base+3+i           process i's coordinator connection
 *   base+3+n+i         process i's image file
 *   base+3+2n+2k, +1   the two ends of shared object k (struct rst_obj)
 * and `top` (= base+3+2n+2*nobjs) is where every process's restorer
 * descriptors start. */
#ifndef STASIS_RESTORE_SET_H
#define STASIS_RESTORE_SET_H

#include "common/proto.h"
#include "restore/load.h"

#include <limits.h>
#include <stdint.h>

/* What restart was asked for (cli/cmd_restart.c): the same for every process. */
struct rst_options {
	int map_images;	   /* map raw chunks from the image file (--no-map: 0; mapimg.c) */
	int verify_mapped; /* checksum mapped chunks (--no-verify: 0; fill.c) */
	int debug_pause;   /* each process stops before it goes on (--debug-pause) */
	/* restart itself verifies the mapped chunks once the processes exist, and
	 * they leave them unread (verify.c rst_verify_prepare) */
	int verify_deferred;
	/* vm.max_map_count, read once, so that the restorers and verify.c plan
	 * the same mappings (mapimg.c rst_map_budget) */
	long max_map_count;
};

/* One process's connection to the coordinator (spawn.c rst_join). */
struct rst_conn {
	uint16_t port;
	int part;     /* the image is of one host's part of its generation (HELLO_PART) */
	int coord_fd; /* socket joined to the coordinator (rst_join) */
	struct proto_welcome welcome;
	char ckpt_dir[PATH_MAX];
	int joined; /* the coordinator welcomed it (set by restart: gate.c) */
	/* where restart runs, read before it enters its namespaces (its /proc is
	 * the namespace's then) */
	struct proto_host where;
};

/* An object several processes of the set hold (a pipe, a socket pair, shared
 * memory, ...): created once, by the nearest common ancestor of its holders
 * (-1: PID 1) before it forks, at two fixed descriptor numbers every holder
 * inherits; each holder then takes its end with rst_obj_fd (objs.c). */
struct rst_set;
struct rst_obj;
typedef int (*rst_obj_create_fn)(const struct rst_set *set, const struct rst_obj *o, int fd[2]);
struct rst_obj {
	uint32_t kind; /* enum img_fd_type (or a module's own key space) */
	uint64_t ino, dev;
	int creator;
	rst_obj_create_fn create; /* fills fd[0], fd[1] (-1 if unused), O_CLOEXEC */
	uint32_t capacity;
	const uint8_t *data; /* e.g. bytes in flight */
	uint64_t len;
	const void *priv; /* the module's own description */
	/* made by restart itself before it joins the coordinator (a socket with a
	 * port of its own: fd_inet.c rst_inet_bind_ports), at early_fd, which
	 * rst_set_layout moves to the object's number: nobody creates it again */
	int early, early_fd;
};

struct rst_set {
	int n;
	int part;   /* the images are one host's part of their generation (n < nprocs) */
	int wait_s; /* how long the other parts may take to come back (restart --wait) */
	struct rst_image *img;
	struct rst_conn *conn; /* per process */
	struct rst_options opt;
	int *parent; /* index of the parent in the set, or -1 */
	int nobjs;
	struct rst_obj *objs; /* at base+3+2n+2k and +1 */
	int base, top;
	int host_proc; /* the host's /proc (for a process's host PID), at a number >= top */
	/* restart joins the processes once PID 1 runs (it started the
	 * coordinator: gate.c); conn[] is then memory shared with them */
	int (*join)(struct rst_set *set);
	int gate, gate_open; /* gate.c's pipe, at numbers >= top; -1: none */
};

#endif
