/* ckpt.c: the runtime's entry: it joins the coordinator at load time and runs
 * the checkpoint thread, which follows the coordinator's phases. */
#ifndef STASIS_RUNTIME_CKPT_H
#define STASIS_RUNTIME_CKPT_H

#include <stddef.h>
#include <stdint.h>

int rt_start_ckpt_thread(void);
/* A new process (fork, clone) joins as a process of its own. */
void rt_forked_child(void);

/* The next message of `type` from the coordinator on the checkpoint thread
 * (a CKPT_RESULT meanwhile is handled, others are kept for the checkpoint
 * thread's loop, in order): 0, RT_COORD_KILLED (KILL, now or before) or
 * RT_COORD_LOST (also: more came meanwhile than can be kept). */
#define RT_COORD_KILLED 1
#define RT_COORD_LOST (-2)
struct proto_msg;
int rt_coord_wait(uint16_t type, struct proto_msg *m, void *buf, size_t size);
/* The same within timeout_ms: RT_COORD_TIMEOUT after it. */
#define RT_COORD_TIMEOUT (-3)
int rt_coord_wait_ms(uint16_t type, struct proto_msg *m, void *buf, size_t size, int timeout_ms);

#endif
