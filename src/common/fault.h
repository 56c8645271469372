/* Fault injection: numbered points at the writes, renames, fsyncs,
 * allocations and messages of the checkpoint and restart paths, which a test
 * makes fail through one environment variable (after CRIU's CRIU_FAULT and
 * SQLite's failing Nth call):
 *
 *   STASIS_FAULT=ITEM[,ITEM...]      ITEM = [gGEN:]POINT[:NTH][@PID][/stop]
 *
 * POINT is a point's name or number (below; `STASIS_FAULT=list stasis`
 * prints them), a prefix ending in '*' ("img-*"), or "all". The NTH time
 * (default 1) a process reaches a matching point, that point fails once,
 * with the point's errno, and the process logs it ("fault: injecting ...").
 * With gGEN, the item counts only while the process (a runtime, the
 * coordinator) works on checkpoint generation GEN, from its start: one
 * launch can fail generation 2 at one point and generation 3 at another.
 * Without it, the item counts from the start of the process (a forked
 * process goes on from its parent's counts). With @PID, only in the process
 * that sees itself as PID (a restored process: its PID in the image). With
 * /stop, the process stops there (SIGSTOP) instead of failing, for a test to
 * kill it (or something else) at that moment.
 *
 * STASIS_FAULT_LOG=FILE appends "PID GEN POINT" to FILE for every point
 * reached (a test counts the hits it can walk; it opens the file each time,
 * which a production run must not do).
 *
 * At a call site a point is one line, so that it moves with the code:
 *   if (fault_hit(FAULT_IMG_FSYNC) || fdatasync(fd) < 0) ...
 * fault_hit() returns 1 with errno set when the point must fail, else 0; it
 * allocates nothing and may run on the checkpoint path. The points are
 * append-only: a number never changes meaning.
 */
#ifndef STASIS_COMMON_FAULT_H
#define STASIS_COMMON_FAULT_H

#include <stdint.h>
#include <stdio.h>

enum fault_point {
	FAULT_NONE = 0,
	/* the image writer (image/image.c, chunk.c): runtime, stasis merge */
	FAULT_IMG_CREATE = 1,	 /* open of NAME.tmp: ENOSPC */
	FAULT_IMG_WRITE = 2,	 /* every write of the image: ENOSPC */
	FAULT_IMG_FSYNC = 3,	 /* fdatasync of the image: EIO */
	FAULT_IMG_CLOSE = 4,	 /* close of the image: EIO */
	FAULT_IMG_RENAME = 5,	 /* rename NAME.tmp -> NAME: EIO */
	FAULT_IMG_FSYNC_DIR = 6, /* fsync of its directory: EIO */
	/* the image reader: restart, inspect, merge */
	FAULT_IMG_OPEN = 7,  /* open of an image: EIO */
	FAULT_IMG_READ = 8,  /* every read of an image: EIO */
	FAULT_IMG_ALLOC = 9, /* section table and sections: ENOMEM */
	/* the runtime's checkpoint */
	FAULT_RT_ALLOC = 10, /* the checkpoint arena (rt_alloc): ENOMEM */
	FAULT_RT_SNAP = 11,  /* the buffer for shared pages copied at the stop: ENOMEM */
	FAULT_RT_FORK = 12,  /* the forked writer: EAGAIN (it writes in the process) */
	/* messages between every part (common/proto.c) */
	FAULT_MSG_SEND = 13, /* a message sent: EPIPE */
	FAULT_MSG_RECV = 14, /* a message received: ECONNRESET */
	/* the coordinator's image bookkeeping */
	FAULT_COORD_ALLOC = 15,	  /* its buffers (paths, errors, output): ENOMEM */
	FAULT_COORD_SEND = 16,	  /* a message to a peer: EPIPE (it drops the peer) */
	FAULT_SCRIPT_CREATE = 17, /* the restart script's temp file: ENOSPC */
	FAULT_SCRIPT_WRITE = 18,  /* its write: ENOSPC */
	FAULT_SCRIPT_FSYNC = 19,  /* its fsync: EIO */
	FAULT_SCRIPT_RENAME = 20, /* its rename: EIO */
	/* the restorer (restart) */
	FAULT_RST_ALLOC = 21, /* buffers filling memory: ENOMEM */
	FAULT_RST_CLONE = 22, /* creating a process (namespace init, clone3): EAGAIN */
	FAULT_RST_MMAP = 23,  /* premapping a memory region: ENOMEM */
	FAULT_RST_BLOB = 24,  /* in the blob, once the restorer is unmapped (fault_check) */
	/* the coordinator, once it listens, before it says so to launch or restart */
	FAULT_COORD_READY = 25, /* EIO: it exits without a word (/stop: never says it) */
	/* restorer */
	FAULT_RST_MAP_RUN = 26, /* mapping a run of an image file: ENOMEM (the rest is read) */
	FAULT_NPOINTS
};

enum fault_action { FAULT_FAIL = 1, FAULT_STOP = 2 };

/* 1 (errno set) when point p must fail now; 0 otherwise (after a stop). */
int fault_hit(enum fault_point p);
/* What point p must do now (enum fault_action), or 0, without doing it: for
 * a point that acts elsewhere (the freestanding blob). */
int fault_check(enum fault_point p);
/* The process now works on checkpoint generation gen (0: none): items gGEN
 * count from here. */
void fault_generation(uint32_t gen);
const char *fault_name(enum fault_point p);
/* Use spec instead of $STASIS_FAULT, counts from zero (unit tests); -1 if it
 * is malformed (then no point fails). */
int fault_configure(const char *spec);
/* One line per point: number, name, errno, where. */
void fault_list(FILE *f);
/* The STASIS_FAULT value is well formed (for the CLI to refuse a typo). 0 or
 * -1 with a message naming the bad item. */
int fault_check_env(char *err, size_t errlen);

#endif
