/* signalfd at restart: a new one with the saved mask. */
#include "restore/fd_evutil.h"
#include "restore/fdkinds.h"
#include "restore/set.h"
#include "image/kinds/fd_signalfd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>

static int open_signalfd(const struct rst_set *set, int i, const struct img_fd *d,
			 const struct img_fdx *x)
{
	(void)set, (void)i;
	const struct img_signalfd *p = rst_fdx_payload(x);
	sigset_t mask;
	sigemptyset(&mask);
	for (int sig = 1; sig <= 64; sig++)
		if (p->sigmask & (1ull << (sig - 1)))
			sigaddset(&mask, sig);
	return signalfd(-1, &mask, SFD_CLOEXEC | (d->open_flags & O_NONBLOCK));
}

const struct rst_fd_kind rst_fd_signalfd = {.type = IMG_FD_SIGNALFD, .open = open_signalfd};
