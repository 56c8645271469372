/* ckpt.c: the runtime's entry: it joins the coordinator at load time and runs
 * the checkpoint thread, which follows the coordinator's phases. */
#ifndef STASIS_RUNTIME_CKPT_H
#define STASIS_RUNTIME_CKPT_H

int rt_start_ckpt_thread(void);
/* A new process (fork, clone) joins as a process of its own. */
void rt_forked_child(void);

#endif
