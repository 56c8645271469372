/* exec.c: exec keeps the runtime (the exec and posix_spawn wrappers put its
 * variables back into any environment they are given). */
#ifndef STASIS_RUNTIME_EXEC_H
#define STASIS_RUNTIME_EXEC_H

#include <stdint.h>

void rt_exec_init(void);
/* MSG_EXEC to the coordinator: 1 about to exec, 0 the exec failed,
 * EXEC_EXITING exiting while a checkpoint let it go on (leave.c) */
void rt_note_leave(uint32_t state);
/* The outside changed (a restart): $STASIS_EXTERNAL for programs exec'd now. */
void rt_exec_set_external(const char *list);

#endif
