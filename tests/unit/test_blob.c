/* Unit tests of the restore blob (restore/blob/): run in a child on a plan
 * made here, it unmaps what the plan says, moves a region to its target with
 * its contents, sets the mm fields, and resumes the main thread where
 * rt_save_context saved it (runtime/context.S) with 1; a move that cannot be
 * made ends the child with status 1 and says so on the log fd. */
#include "restore/blob/abi.h"
#include "restore/blob/blob.h"

#include "unit.h"

#include <asm/prctl.h>
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PLAN_BYTES (64 * 1024)

extern const char stasis_blob_start[], stasis_blob_end[];
int rt_save_context(struct img_context *ctx) __attribute__((returns_twice));

/* What the child checks once the blob resumed it (globals: the resumed frame
 * must not trust its registers). */
static uint8_t *src, *dst, *gone;

/* The mm fields as they are (/proc/self/stat), so that PR_SET_MM_MAP
 * accepts them; no exe file, no auxv. */
static void mm_now(struct blob_mm_map *mm)
{
	char buf[2048];
	FILE *f = fopen("/proc/self/stat", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	unsigned long long v[52] = {0};
	char *p = strrchr(buf, ')') + 4; /* past the name and the state, a letter */
	for (int k = 4; k <= 51; k++)	 /* fields 4..51 */
		v[k] = strtoull(p, &p, 10);
	*mm = (struct blob_mm_map){.start_code = v[26],
				   .end_code = v[27],
				   .start_stack = v[28],
				   .start_data = v[45],
				   .end_data = v[46],
				   .start_brk = v[47],
				   .brk = (uint64_t)syscall(SYS_brk, 0),
				   .arg_start = v[48],
				   .arg_end = v[49],
				   .env_start = v[50],
				   .env_end = v[51],
				   .exe_fd = ~0u};
}

static void *at(struct blob_plan *p, uint64_t off)
{
	return (char *)p + off;
}

/* A plan for one move (src to dst, 2 pages) and one unmap (gone). */
static struct blob_plan *make_plan(uint8_t *area, size_t code, int log_fd, struct img_context **ctx)
{
	struct blob_plan *p = (void *)(area + code);
	memset(p, 0, sizeof(*p));
	p->log_fd = log_fd;
	p->close_from = 1000;
	p->unmap_off = sizeof(*p);
	p->special_off = p->unmap_off + sizeof(struct blob_range);
	p->moves_off = p->special_off + sizeof(struct blob_move);
	p->threads_off = p->moves_off + sizeof(struct blob_move);
	p->nunmap = 1;
	*(struct blob_range *)at(p, p->unmap_off) = (struct blob_range){(uint64_t)gone, PAGE};
	p->nmoves = 1;
	*(struct blob_move *)at(p, p->moves_off) =
	    (struct blob_move){(uint64_t)src, (uint64_t)dst, 2 * PAGE};
	p->nthreads = 1;
	struct blob_thread *t = at(p, p->threads_off);
	*t = (struct blob_thread){.tid = getpid(), .main = 1};
	syscall(SYS_arch_prctl, ARCH_GET_FS, &t->fs_base);
	mm_now(&p->mm);
	*ctx = &t->ctx;
	return p;
}

/* In the child: the blob runs the plan and resumes here; the exit status
 * says what was found. */
static void child(int log_fd, int break_move)
{
	size_t code = (stasis_blob_end - stasis_blob_start + PAGE - 1) & ~(size_t)(PAGE - 1);
	size_t len = code + PLAN_BYTES + BLOB_THREAD_STACK;
	uint8_t *area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gone = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || src == MAP_FAILED || dst == MAP_FAILED || gone == MAP_FAILED)
		_exit(20);
	munmap(dst, 2 * PAGE); /* a free address: the move's target */
	memset(src, 0x5a, PAGE);
	memset(src + PAGE, 0xa5, PAGE);
	memcpy(area, stasis_blob_start, stasis_blob_end - stasis_blob_start);
	if (mprotect(area, code, PROT_READ | PROT_EXEC) < 0)
		_exit(21);
	struct img_context *ctx;
	struct blob_plan *p = make_plan(area, code, log_fd, &ctx);
	if (break_move)
		munmap(src, 2 * PAGE); /* nothing to move there */
	if (rt_save_context(ctx) == 0)
		((blob_entry_fn)(void *)area)(p, (uint64_t)(area + len));
	/* resumed by the blob */
	unsigned char v;
	if (dst[0] != 0x5a || dst[PAGE] != 0xa5 || dst[2 * PAGE - 1] != 0xa5)
		_exit(30);
	if (mincore(src, PAGE, &v) == 0 || mincore(gone, PAGE, &v) == 0)
		_exit(31); /* still mapped */
	_exit(0);
}

/* The child is PID 1 of a PID namespace of its own: a blob that fails
 * signals PID 1 (BLOB_ABORT_SIGNAL, to end a restart as a whole), which must
 * be the child itself here, never this host's init. */
static void in_own_pid_ns(int log_fd, int break_move)
{
	int st;
	if (unshare(CLONE_NEWPID) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0) {
		dprintf(log_fd, "cannot create a PID namespace: %s", strerror(errno));
		_exit(22);
	}
	pid_t pid = fork();
	if (pid == 0)
		child(log_fd, break_move);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		_exit(23);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static int run(int break_move, char *log, size_t size)
{
	int fds[2], st;
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		in_own_pid_ns(fds[1], break_move);
	}
	close(fds[1]);
	size_t got = 0;
	for (ssize_t n; got < size - 1 && (n = read(fds[0], log + got, size - 1 - got)) > 0;)
		got += n; /* until the child is gone: the blob writes in pieces */
	log[got] = 0;
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "the child ended by signal %d: %s", WTERMSIG(st), log);
	return WEXITSTATUS(st);
}

START_TEST(test_blob_moves_and_resumes)
{
	char log[512];
	ck_assert_int_eq(run(0, log, sizeof(log)), 0);
	ck_assert_str_eq(log, "");
}
END_TEST

START_TEST(test_blob_fails_cleanly)
{
	char log[512];
	ck_assert_int_eq(run(1, log, sizeof(log)), 1);
	ck_assert_ptr_nonnull(strstr(log, "stasis: error: cannot move a memory region at 0x"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("blob");
	tcase_add_test(tc, test_blob_moves_and_resumes);
	tcase_add_test(tc, test_blob_fails_cleanly);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
