/* Defaults taken from a batch job's environment (docs/slurm.md).
 *
 * Inside a Slurm job (SLURM_JOB_ID set), every stasis command of the job
 * agrees on the coordinator's port, the run directory that holds its token,
 * and the checkpoint directory without being told: `stasis launch` in the job
 * script or in an srun step, `stasis checkpoint` in the script's signal trap,
 * `stasis restart` in the requeued run, which keeps its SLURM_JOB_ID. Each is
 * only a default, put in the environment before the command runs: a variable
 * already set, or an option, wins; STASIS_SLURM=0 turns them all off.
 *
 *   STASIS_RUN_DIR   /tmp/stasis-UID-slurm-JOBID (one per job: its token files)
 *   STASIS_CKPT_DIR  $SLURM_SUBMIT_DIR/stasis-ckpt-JOBID (launch creates it)
 *   STASIS_PORT      JOB_PORT_BASE + JOBID % JOB_PORT_SPAN; if something else
 *                    listens there, the next of JOB_PORT_TRIES ports in the
 *                    range. A port of the range whose token is in the job's run
 *                    directory and that is in use is the job's coordinator, and
 *                    is chosen first, so that a later command finds the port
 *                    an earlier one fell back to. A port in use without a
 *                    token is another program's only once none came for 2 s
 *                    (a coordinator writes it just after it listens).
 */
#include "cli/cli.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOB_TOKEN_WAIT_MS 2000 /* for the token of a coordinator that listens */

static int unset(const char *name)
{
	const char *v = getenv(name);
	return !v || !*v;
}

/* SLURM_JOB_ID as a number, or 0 when there is none (or it is not one). */
static unsigned long job_id(void)
{
	const char *s = getenv("SLURM_JOB_ID"), *off = getenv("STASIS_SLURM");
	char *end;
	if (!s || *s < '0' || *s > '9' || (off && !strcmp(off, "0")))
		return 0;
	errno = 0;
	unsigned long id = strtoul(s, &end, 10);
	return errno || *end ? 0 : id;
}

uint16_t cli_job_port(unsigned long job, unsigned attempt)
{
	return (uint16_t)(JOB_PORT_BASE + (job + attempt) % JOB_PORT_SPAN);
}

/* Nothing listens on 127.0.0.1:port (bound as the coordinator binds). */
static int port_free(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
	if (fd < 0)
		return 1; /* cannot tell: let the coordinator say */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != EADDRINUSE;
	close(fd);
	return ok;
}

static int token_here(uint16_t port)
{
	char path[PATH_MAX];
	return proto_token_path(port, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

/* port is in use and has no token: a coordinator of the job that is starting
 * listens a moment before it writes its token (and the launches of a job step
 * start at once: one that took the next port started a coordinator of its
 * own there, a second computation). 1 once the token is there (or the port is
 * free again), 0 if neither by `until`: another program's. */
static int coordinator_starting(uint16_t port, long long until)
{
	for (;;) {
		if (token_here(port) || port_free(port))
			return 1;
		if (now_ms() >= until)
			return 0;
		usleep(10000);
	}
}

static uint16_t pick_port(unsigned long job)
{
	unsigned k;
	long long until = now_ms() + JOB_TOKEN_WAIT_MS; /* for all ports together */
	for (k = 0; k < JOB_PORT_TRIES; k++)
		if (token_here(cli_job_port(job, k)) && !port_free(cli_job_port(job, k)))
			return cli_job_port(job, k);
	for (k = 0; k < JOB_PORT_TRIES; k++)
		if (port_free(cli_job_port(job, k)) ||
		    coordinator_starting(cli_job_port(job, k), until))
			return cli_job_port(job, k);
	warn("Slurm job %lu: ports %u to %u are all in use by other programs: set STASIS_PORT "
	     "to a free port (docs/slurm.md)",
	     job, cli_job_port(job, 0), cli_job_port(job, JOB_PORT_TRIES - 1));
	return cli_job_port(job, 0);
}

static void set_env(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_env(const char *name, const char *fmt, ...)
{
	char v[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v))
		die("Slurm job default for %s is too long: set %s yourself", name, name);
	setenv(name, v, 1);
}

/* launch's own --ckpt-dir, which the default must not create a directory beside */
static int has_ckpt_dir_option(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--ckpt-dir"))
			return 1;
	return 0;
}

static void ckpt_dir_default(unsigned long job, int argc, char **argv)
{
	const char *submit = getenv("SLURM_SUBMIT_DIR");
	char cwd[PATH_MAX];
	if (!submit || !*submit)
		submit = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
	set_env("STASIS_CKPT_DIR", "%s/stasis-ckpt-%lu", submit, job);
	const char *dir = getenv("STASIS_CKPT_DIR");
	if (strcmp(argv[0], "launch") || has_ckpt_dir_option(argc, argv))
		return;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		warn("cannot create the checkpoint directory %s of Slurm job %lu: %s (set "
		     "STASIS_CKPT_DIR, or give --ckpt-dir)",
		     dir, job, strerror(errno));
}

void cli_job_defaults(int argc, char **argv)
{
	unsigned long job = job_id();
	if (!job)
		return;
	if (unset("STASIS_RUN_DIR"))
		set_env("STASIS_RUN_DIR", "/tmp/stasis-%u-slurm-%lu", (unsigned)getuid(), job);
	if (unset("STASIS_CKPT_DIR"))
		ckpt_dir_default(job, argc, argv);
	if (unset("STASIS_PORT"))
		set_env("STASIS_PORT", "%u", pick_port(job));
	debug("Slurm job %lu: port %s, run directory %s, checkpoints in %s", job,
	      getenv("STASIS_PORT"), getenv("STASIS_RUN_DIR"), getenv("STASIS_CKPT_DIR"));
}
