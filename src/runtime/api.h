/* The program's side of its checkpoints (stasis.h), as the checkpoint sees it:
 * critical sections. */
#ifndef STASIS_RUNTIME_API_H
#define STASIS_RUNTIME_API_H

/* A checkpoint closes the gate of critical sections and waits for the open
 * ones (0, or -1 with ETIMEDOUT after RT_SUSPEND_TIMEOUT s); rt_release_all
 * opens it again. */
int rt_crit_close(void);
void rt_crit_open(void);
/* In a forked child: the forking thread's sections are its only ones. */
void rt_crit_forked(void);

#endif
