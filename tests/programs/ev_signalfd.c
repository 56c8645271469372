/* ev_signalfd: signalfds keep their masks and flags; signals pending for
 * them (a standard one and a queued real-time one with its value) are read
 * after the restarts; one with a full mask does not take the runtime's
 * checkpoint signal (the checkpoints work).
 *   ev_signalfd VERIFY_FILE
 */
#include "zdtm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>

static unsigned long long info_mask(int fd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	char *p = strstr(buf, "sigmask:");
	return p ? strtoull(p + 8, NULL, 16) : 0;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	sigset_t mask, all;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGRTMIN + 1);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK);
	int full = signalfd(-1, &all, 0);
	if (sfd < 0 || full < 0)
		zd_fail("signalfd: %s", strerror(errno));
	unsigned long long m0 = info_mask(sfd), full0 = info_mask(full);
	union sigval v = {.sival_int = 42};
	if (raise(SIGUSR1) < 0 || sigqueue(getpid(), SIGRTMIN + 1, v) < 0)
		zd_fail("raise: %s", strerror(errno));
	zd_ready();
	zd_wait();
	zd_check(info_mask(sfd) == m0 && m0 == ((1ull << (SIGUSR1 - 1)) | (1ull << SIGRTMIN)),
		 "mask %#llx, was %#llx", info_mask(sfd), m0);
	zd_check(info_mask(full) == full0, "full mask %#llx, was %#llx", info_mask(full), full0);
	zd_check(!(full0 & (1ull << (SIGRTMAX - 2 - 1))), "the checkpoint signal is in a mask");
	zd_check(fcntl(sfd, F_GETFL) & O_NONBLOCK, "SFD_NONBLOCK lost");
	struct signalfd_siginfo si[4];
	ssize_t n = read(sfd, si, sizeof(si));
	int got_usr1 = 0, got_rt = 0;
	for (int k = 0; n > 0 && k < n / (ssize_t)sizeof(si[0]); k++) {
		got_usr1 |= si[k].ssi_signo == (uint32_t)SIGUSR1;
		got_rt |= si[k].ssi_signo == (uint32_t)SIGRTMIN + 1 && si[k].ssi_int == 42;
	}
	zd_check(got_usr1 && got_rt, "pending signals read: SIGUSR1 %d, SIGRTMIN+1 with 42 %d",
		 got_usr1, got_rt);
	zd_check(read(sfd, si, sizeof(si)) < 0 && errno == EAGAIN, "more signals than sent");
	return zd_finish();
}
