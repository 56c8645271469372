/* Unit tests of the defaults a Slurm job gives stasis (src/cli/jobenv.c): the
 * port derived from the job id and its fallbacks, the run and checkpoint
 * directories, and that whatever the user set wins. */
#include "cli/cli.h"

#include "unit.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[PATH_MAX], rundir[PATH_MAX + 8], cwd[PATH_MAX];

static void clear_env(void)
{
	static const char *const names[] = {
	    "SLURM_JOB_ID",   "SLURM_SUBMIT_DIR", "STASIS_SLURM",     "STASIS_PORT",
	    "STASIS_RUN_DIR", "STASIS_CKPT_DIR",  "STASIS_COORD_HOST"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
}

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/stasis-jobenv-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(rundir, sizeof(rundir), "%s/run", tmp);
	ck_assert_int_eq(mkdir(rundir, 0700), 0);
	clear_env();
	/* A launch with no SLURM_SUBMIT_DIR makes its checkpoint directory in
	 * the current one: here, the test's, never the checkout make runs in. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmp), 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
	clear_env();
}

/* A socket listening on 127.0.0.1:port, or -1 if the port is taken. */
static int listen_on(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A job id whose first three ports are free now. */
static unsigned long free_job(void)
{
	for (unsigned long job = 4000000 + getpid() % 5000;; job++) {
		int fds[3], k, ok = 1;
		for (k = 0; k < 3; k++)
			ok &= (fds[k] = listen_on(cli_job_port(job, k))) >= 0;
		for (k = 0; k < 3; k++)
			if (fds[k] >= 0)
				close(fds[k]);
		if (ok)
			return job;
	}
}

static void defaults_for(unsigned long job, const char *cmd)
{
	char id[32];
	char *argv[] = {(char *)cmd, "prog", NULL};
	snprintf(id, sizeof(id), "%lu", job);
	setenv("SLURM_JOB_ID", id, 1);
	cli_job_defaults(2, argv);
}

static unsigned port_env(void)
{
	const char *p = getenv("STASIS_PORT");
	ck_assert_ptr_nonnull(p);
	return (unsigned)atoi(p);
}

START_TEST(test_port_range)
{
	ck_assert_uint_eq(cli_job_port(1, 0), 20001);
	ck_assert_uint_eq(cli_job_port(123456, 0), 23456);
	ck_assert_uint_eq(cli_job_port(123456, 2), 23458);
	ck_assert_uint_eq(cli_job_port(9999, 1), 20000); /* wraps inside the range */
}
END_TEST

START_TEST(test_outside_a_job_nothing)
{
	char *argv[] = {"launch", NULL};
	cli_job_defaults(1, argv);
	ck_assert_ptr_null(getenv("STASIS_PORT"));
	ck_assert_ptr_null(getenv("STASIS_RUN_DIR"));
	ck_assert_ptr_null(getenv("STASIS_CKPT_DIR"));
	setenv("SLURM_JOB_ID", "12x", 1); /* not a job id */
	cli_job_defaults(1, argv);
	ck_assert_ptr_null(getenv("STASIS_PORT"));
	setenv("SLURM_JOB_ID", "77", 1);
	setenv("STASIS_SLURM", "0", 1); /* turned off */
	cli_job_defaults(1, argv);
	ck_assert_ptr_null(getenv("STASIS_PORT"));
}
END_TEST

START_TEST(test_directories)
{
	char want[2 * PATH_MAX];
	struct stat st;
	setenv("SLURM_SUBMIT_DIR", tmp, 1);
	defaults_for(987654, "status");
	snprintf(want, sizeof(want), "/tmp/stasis-%u-slurm-987654", (unsigned)getuid());
	ck_assert_str_eq(getenv("STASIS_RUN_DIR"), want);
	snprintf(want, sizeof(want), "%s/stasis-ckpt-987654", tmp);
	ck_assert_str_eq(getenv("STASIS_CKPT_DIR"), want);
	ck_assert_int_eq(stat(want, &st), -1); /* only launch creates it */
	unsetenv("STASIS_CKPT_DIR");
	defaults_for(987654, "launch");
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(rmdir(want), 0);
}
END_TEST

START_TEST(test_launch_with_its_own_dir_creates_none)
{
	char want[2 * PATH_MAX];
	struct stat st;
	char *argv[] = {"launch", "--ckpt-dir", "/elsewhere", "--", "prog", NULL};
	setenv("SLURM_SUBMIT_DIR", tmp, 1);
	setenv("SLURM_JOB_ID", "55", 1);
	cli_job_defaults(5, argv);
	snprintf(want, sizeof(want), "%s/stasis-ckpt-55", tmp);
	ck_assert_int_eq(stat(want, &st), -1);
}
END_TEST

START_TEST(test_set_values_win)
{
	setenv("STASIS_PORT", "4321", 1);
	setenv("STASIS_RUN_DIR", rundir, 1);
	setenv("STASIS_CKPT_DIR", "/my/ckpt", 1);
	defaults_for(42, "launch");
	ck_assert_str_eq(getenv("STASIS_PORT"), "4321");
	ck_assert_str_eq(getenv("STASIS_RUN_DIR"), rundir);
	ck_assert_str_eq(getenv("STASIS_CKPT_DIR"), "/my/ckpt");
}
END_TEST

START_TEST(test_port_free_first)
{
	unsigned long job = free_job();
	setenv("STASIS_RUN_DIR", rundir, 1);
	defaults_for(job, "status");
	ck_assert_uint_eq(port_env(), cli_job_port(job, 0));
}
END_TEST

START_TEST(test_port_taken_by_another_program)
{
	unsigned long job = free_job();
	int other = listen_on(cli_job_port(job, 0));
	ck_assert_int_ge(other, 0);
	setenv("STASIS_RUN_DIR", rundir, 1);
	defaults_for(job, "launch");
	ck_assert_uint_eq(port_env(), cli_job_port(job, 1));
	close(other);
}
END_TEST

/* The job's coordinator fell back to the second port; the program on the
 * first has gone since: a later command still finds the coordinator. */
START_TEST(test_port_of_the_jobs_coordinator_first)
{
	char token[2 * PATH_MAX];
	unsigned long job = free_job();
	int coord = listen_on(cli_job_port(job, 1));
	ck_assert_int_ge(coord, 0);
	snprintf(token, sizeof(token), "%s/coord-%u.token", rundir, cli_job_port(job, 1));
	close(open(token, O_CREAT | O_WRONLY, 0600));
	setenv("STASIS_RUN_DIR", rundir, 1);
	defaults_for(job, "checkpoint");
	ck_assert_uint_eq(port_env(), cli_job_port(job, 1));
	/* its coordinator gone, the token left behind: the first port again */
	close(coord);
	unsetenv("STASIS_PORT");
	defaults_for(job, "launch");
	ck_assert_uint_eq(port_env(), cli_job_port(job, 0));
}
END_TEST

static char late_token[2 * PATH_MAX];

static void *write_token_late(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	close(open(late_token, O_CREAT | O_WRONLY, 0600));
	return NULL;
}

/* Two launches of a job step start at once: the job's coordinator, started by
 * the first, listens a moment before it writes its token. The second waits
 * for the token and takes that port (it took the next one and started a
 * coordinator of its own there: two computations, one checkpointed). */
START_TEST(test_port_of_a_coordinator_starting)
{
	pthread_t t;
	unsigned long job = free_job();
	int coord = listen_on(cli_job_port(job, 0));
	ck_assert_int_ge(coord, 0);
	snprintf(late_token, sizeof(late_token), "%s/coord-%u.token", rundir, cli_job_port(job, 0));
	ck_assert_int_eq(pthread_create(&t, NULL, write_token_late, NULL), 0);
	setenv("STASIS_RUN_DIR", rundir, 1);
	defaults_for(job, "launch");
	pthread_join(t, NULL);
	ck_assert_uint_eq(port_env(), cli_job_port(job, 0));
	close(coord);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jobenv");
	TCase *tc = tcase_create("jobenv");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_port_range);
	tcase_add_test(tc, test_outside_a_job_nothing);
	tcase_add_test(tc, test_directories);
	tcase_add_test(tc, test_launch_with_its_own_dir_creates_none);
	tcase_add_test(tc, test_set_values_win);
	tcase_add_test(tc, test_port_free_first);
	tcase_add_test(tc, test_port_taken_by_another_program);
	tcase_add_test(tc, test_port_of_the_jobs_coordinator_first);
	tcase_add_test(tc, test_port_of_a_coordinator_starting);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
