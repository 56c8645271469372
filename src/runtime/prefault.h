/* prefault.c: after a restart, the memory mapped from the image populated
 * ahead of the program: planned with its threads held, run once released. */
#ifndef STASIS_RUNTIME_PREFAULT_H
#define STASIS_RUNTIME_PREFAULT_H

void rt_prefault_plan(void);
void rt_prefault_run(void);

#endif
