/* A process that ends while a checkpoint has let it go on (a forked writer
 * still writes its image) says so first: leaving on purpose is not being
 * killed, and the checkpoint starts again without it (docs/protocol.md,
 * EXEC). exit() runs the destructor below, _exit() and _Exit() come here. A
 * raw exit_group system call or a fatal signal says nothing: to the
 * coordinator that is a process killed during the checkpoint. */
#include "runtime/exec.h"
#include "runtime/state.h"
#include "runtime/libc.h"
#include "common/proto.h"

#include <sys/syscall.h>
#include <unistd.h>

static void leaving(void)
{
	if (__atomic_load_n(&rt.let_go, __ATOMIC_ACQUIRE))
		rt_note_leave(EXEC_EXITING);
}

__attribute__((destructor)) static void exiting(void)
{
	leaving();
}

EXPORT void _exit(int status)
{
	leaving();
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT void _Exit(int status)
{
	_exit(status);
}
