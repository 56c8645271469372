/* procstate: the process's own state across checkpoint/restart.
 *
 *   procstate VERIFY_FILE [ARGS...]     (creates procstate.dir in the cwd)
 *
 * The working directory (a directory made at run time, relative names
 * resolve in it), the umask, RLIMIT_NOFILE lowered at run time, an
 * environment variable set at run time, /proc/self/cmdline (ARGS with spaces
 * in them), /proc/self/exe and comm.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>

static ssize_t read_file(const char *name, char *buf, size_t size)
{
	int fd = open(name, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size);
	close(fd);
	return n;
}

static char cwd0[PATH_MAX], exe0[PATH_MAX], cmdline0[4096], comm0[64];
static ssize_t cmdlen0;
static struct rlimit rl0;

static void take(void)
{
	mkdir("procstate.dir", 0755);
	close(open("procstate.dir/inner", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	if (chdir("procstate.dir") < 0 || !getcwd(cwd0, sizeof(cwd0)))
		zd_fail("procstate.dir: %s", strerror(errno));
	umask(027);
	getrlimit(RLIMIT_NOFILE, &rl0);
	rl0.rlim_cur = 200;
	setrlimit(RLIMIT_NOFILE, &rl0);
	setenv("ZDTM_RUNTIME_VAR", "value set at run time", 1);
	ssize_t n = readlink("/proc/self/exe", exe0, sizeof(exe0) - 1);
	exe0[n > 0 ? n : 0] = 0;
	cmdlen0 = read_file("/proc/self/cmdline", cmdline0, sizeof(cmdline0));
	read_file("/proc/self/comm", comm0, sizeof(comm0) - 1);
}

static void check_cwd_umask_limits_env(void)
{
	char cwd1[PATH_MAX];
	zd_check(getcwd(cwd1, sizeof(cwd1)) && !strcmp(cwd0, cwd1), "cwd '%s', want '%s'", cwd1,
		 cwd0);
	zd_check(access("inner", F_OK) == 0, "relative path in the cwd does not resolve");
	mode_t um = umask(022);
	zd_check(um == 027, "umask %03o, want 027", um);
	struct rlimit rl1;
	getrlimit(RLIMIT_NOFILE, &rl1);
	zd_check(rl1.rlim_cur == 200 && rl1.rlim_max == rl0.rlim_max,
		 "RLIMIT_NOFILE %lu/%lu, want 200/%lu", (unsigned long)rl1.rlim_cur,
		 (unsigned long)rl1.rlim_max, (unsigned long)rl0.rlim_max);
	const char *ev = getenv("ZDTM_RUNTIME_VAR");
	zd_check(ev && !strcmp(ev, "value set at run time"), "ZDTM_RUNTIME_VAR is '%s'",
		 ev ? ev : "(unset)");
}

static void check_proc_self(void)
{
	char cmdline1[4096], exe1[PATH_MAX], comm1[64] = "";
	ssize_t cmdlen1 = read_file("/proc/self/cmdline", cmdline1, sizeof(cmdline1));
	zd_check(cmdlen1 == cmdlen0 && !memcmp(cmdline0, cmdline1, cmdlen0),
		 "/proc/self/cmdline changed ('%s...', %zd bytes, was %zd)", cmdline1, cmdlen1,
		 cmdlen0);
	ssize_t n = readlink("/proc/self/exe", exe1, sizeof(exe1) - 1);
	exe1[n > 0 ? n : 0] = 0;
	zd_check(!strcmp(exe0, exe1), "/proc/self/exe is '%s', was '%s'", exe1, exe0);
	read_file("/proc/self/comm", comm1, sizeof(comm1) - 1);
	comm0[strcspn(comm0, "\n")] = comm1[strcspn(comm1, "\n")] = 0;
	zd_check(!strcmp(comm0, comm1), "/proc/self/comm is '%s', was '%s'", comm1, comm0);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	take();
	zd_ready();
	zd_wait();
	check_cwd_umask_limits_env();
	check_proc_self();
	return zd_finish();
}
