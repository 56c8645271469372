/* exec keeps the runtime: a program that clears or rebuilds its environment
 * before exec (clearenv, execve with its own envp, posix_spawn) still starts the
 * new program under Stasis. The variables the runtime was started with are
 * remembered at load time and put back into any environment an exec is given. */
#include "runtime/exec.h"
#include "runtime/outside.h"
#include "runtime/state.h"
#include "runtime/libc.h"
#include "common/proto.h"

#include <limits.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ENV 2048 /* pointers on the caller's stack; a larger env is left alone */
#define MAX_ARGS 1024

extern char **environ;

/* STASIS_TTY names the computation's own terminal (launch's pty), see fd_tty.c.
 * STASIS_PORT, STASIS_EXTERNAL and STASIS_COMP_ID describe the runtime's state,
 * not a choice of the program's: exec passes the runtime's values even where
 * the environment holds others (a restart may use another coordinator port,
 * and the outside changes; the computation id must reach the new program, or
 * it would join as a new computation). */
#define PORT 2
#define EXTERNAL 10
#define COMP_ID 12
static const char *const kept_names[] = {
    "LD_PRELOAD",
    "STASIS_RUNTIME",
    [PORT] = "STASIS_PORT",
    "STASIS_CKPT_DIR",
    "STASIS_NO_COMPRESS",
    "STASIS_RUN_DIR",
    "STASIS_LOG",
    "STASIS_SIGNAL",
    "STASIS_COORD_HOST",
    "STASIS_NO_FORK",
    [EXTERNAL] = "STASIS_EXTERNAL",
    "STASIS_TTY",
    [COMP_ID] = "STASIS_COMP_ID",
    "STASIS_TOKEN_FILE",
    "STASIS_PLUGINS",
};
#define NKEPT (sizeof(kept_names) / sizeof(kept_names[0]))
static char *kept[NKEPT]; /* "NAME=value" as at load time, or NULL */

void rt_exec_init(void)
{
	for (size_t i = 0; i < NKEPT; i++) {
		const char *v = secure_getenv(kept_names[i]);
		if (v && asprintf(&kept[i], "%s=%s", kept_names[i], v) < 0)
			kept[i] = NULL;
	}
}

/* The outside changed (a restart). */
void rt_exec_set_external(const char *list)
{
	static char entry[sizeof("STASIS_EXTERNAL=") + 256 * 42];
	snprintf(entry, sizeof(entry), "STASIS_EXTERNAL=%s", list);
	kept[EXTERNAL] = entry; /* the old one is not freed: no malloc here */
}

static int is_var(const char *entry, size_t k)
{
	size_t len = strlen(kept_names[k]);
	return !strncmp(entry, kept_names[k], len) && entry[len] == '=';
}

static int has_var(char *const *envp, int n, size_t k)
{
	for (int i = 0; i < n; i++)
		if (is_var(envp[i], k))
			return 1;
	return 0;
}

/* An environment rebuilt for exec, on the caller's stack. */
struct env_fix {
	char *env[MAX_ENV];
	char preload[2 * PATH_MAX + 16];
};

/* LD_PRELOAD=VALUE that lost the runtime: the runtime's entry, then VALUE
 * (the program's own libraries stay preloaded). */
static char *preload_with_runtime(const char *entry, struct env_fix *f)
{
	const char *own = entry + 11, *v = kept[0] + 11, *lib = strstr(v, "libstasis.so");
	if (!lib)
		return kept[0];
	const char *start = lib, *end = lib + strcspn(lib, ": ");
	while (start > v && start[-1] != ':' && start[-1] != ' ')
		start--;
	int n = snprintf(f->preload, sizeof(f->preload), "LD_PRELOAD=%.*s%s%s", (int)(end - start),
			 start, *own ? ":" : "", own);
	return n < (int)sizeof(f->preload) ? f->preload : kept[0];
}

/* f->env: envp with every kept variable the program dropped put back, and
 * the runtime put back into an LD_PRELOAD that lost it. */
static char **fix_env(char *const *envp, struct env_fix *f)
{
	static const size_t state[] = {PORT, EXTERNAL, COMP_ID};
	static char comp_entry[sizeof("STASIS_COMP_ID=") + 16], port_entry[32];
	char **out = f->env;
	const int cap = MAX_ENV;
	int n = 0;
	if (!kept[0] || !kept[1] || !envp) /* not started by stasis launch */
		return (char **)envp;
	if (rt.comp_id) {
		snprintf(comp_entry, sizeof(comp_entry), "STASIS_COMP_ID=%016llx",
			 (unsigned long long)rt.comp_id);
		kept[COMP_ID] = comp_entry;
	}
	if (rt.port) {
		snprintf(port_entry, sizeof(port_entry), "STASIS_PORT=%u", rt.port);
		kept[PORT] = port_entry;
	}
	for (; envp[n] && n < cap - (int)NKEPT - 1; n++)
		out[n] = envp[n];
	if (envp[n])
		return (char **)envp; /* too large to rebuild: leave it alone */
	for (int i = 0; i < n; i++) {
		if (!strncmp(out[i], "LD_PRELOAD=", 11) && !strstr(out[i], "libstasis.so"))
			out[i] = preload_with_runtime(out[i], f);
		for (size_t k = 0; k < sizeof(state) / sizeof(state[0]); k++)
			if (is_var(out[i], state[k]) && kept[state[k]])
				out[i] = kept[state[k]];
	}
	for (size_t k = 0; k < NKEPT; k++)
		if (kept[k] && !has_var(out, n, k))
			out[n++] = kept[k];
	out[n] = NULL;
	return out;
}

/* Tell the coordinator that this process is about to exec (its connection
 * closes, the new program joins again): a checkpoint waits for it meanwhile.
 * Also used by leave.c (state EXEC_EXITING). */
void rt_note_leave(uint32_t state)
{
	/* a vfork child shares its parent's memory and connection: not its to use */
	if (rt.enabled && rt.coord_fd >= 0 && getpid() == rt.pid)
		proto_send(rt.coord_fd, MSG_EXEC, &state, sizeof(state), NULL, 0);
}

/* The new program joins again (the coordinator waits for it), unless it
 * cannot (outside.c): then this process leaves the computation. */
static int exec_begin(const char *file, int search)
{
	int joins = rt.enabled && !rt_exec_leaves(file, search);
	if (joins)
		rt_note_leave(1);
	return joins;
}

static int exec_done(int rc, int joined)
{
	int saved = errno;
	if (joined)
		rt_note_leave(0); /* still here: the exec failed */
	errno = saved;
	return rc;
}

/* ssh runs the relay instead, `stasis-ssh --ssh FILE ARGV...`, so that a
 * command it starts on another host joins the computation (src/ssh/ssh.h):
 * 1 with *file and *argv replaced, 0 to exec as asked. */
struct ssh_fix {
	char *argv[MAX_ARGS + 3];
};

static int ssh_redirect(const char **file, char *const **argv, struct ssh_fix *s)
{
	const char *relay = rt.enabled ? rt_ssh_relay() : NULL, *base = strrchr(*file, '/');
	if (!relay || !*argv || strcmp(base ? base + 1 : *file, "ssh"))
		return 0;
	int n = 0;
	s->argv[n++] = (char *)relay;
	s->argv[n++] = "--ssh";
	s->argv[n++] = (char *)*file;
	for (int i = 0; (*argv)[i]; i++)
		if (n == MAX_ARGS + 2)
			return 0; /* too many to copy: ssh as it is */
		else
			s->argv[n++] = (*argv)[i];
	s->argv[n] = NULL;
	*file = relay;
	*argv = s->argv;
	return 1;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct env_fix f;
	struct ssh_fix s;
	ssh_redirect(&path, &argv, &s);
	int joins = exec_begin(path, 0);
	return exec_done(REAL(execve)(path, argv, fix_env(envp, &f)), joins);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct env_fix f;
	struct ssh_fix s;
	if (ssh_redirect(&file, &argv, &s))
		return execve(file, argv, envp);
	int joins = exec_begin(file, 1);
	return exec_done(REAL(execvpe)(file, argv, fix_env(envp, &f)), joins);
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* Gather the variable arguments of execl/execlp/execle; -1 (E2BIG) if too many. */
static int gather(const char *arg0, va_list ap, char **argv)
{
	int n = 0;
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		if (n == MAX_ARGS - 1) {
			errno = E2BIG;
			return -1;
		}
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
	return n;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	va_start(ap, arg);
	int n = gather(arg, ap, argv);
	va_end(ap);
	return n < 0 ? -1 : execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	va_start(ap, arg);
	int n = gather(arg, ap, argv);
	va_end(ap);
	return n < 0 ? -1 : execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	va_start(ap, arg);
	int n = gather(arg, ap, argv);
	char *const *envp = n < 0 ? NULL : va_arg(ap, char *const *);
	va_end(ap);
	return n < 0 ? -1 : execve(path, argv, envp);
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct env_fix f;
	struct ssh_fix s;
	ssh_redirect(&path, &argv, &s);
	return REAL(posix_spawn)(pid, path, fa, attr, argv, fix_env(envp, &f));
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct env_fix f;
	struct ssh_fix s;
	if (ssh_redirect(&file, &argv, &s))
		return posix_spawn(pid, file, fa, attr, argv, envp);
	return REAL(posix_spawnp)(pid, file, fa, attr, argv, fix_env(envp, &f));
}
