/* exec keeps the runtime: a program that clears or rebuilds its environment
 * before exec (clearenv, execve with its own envp, posix_spawn) still starts the
 * new program under Stasis. The variables the runtime was started with are
 * remembered at load time and put back into any environment an exec is given. */
#include "runtime/rt.h"
#include "common/proto.h"

#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_ENV 2048 /* pointers on the caller's stack; a larger env is left alone */
#define MAX_ARGS 1024

extern char **environ;

static const char *const kept_names[] = {
    "LD_PRELOAD",
    "STASIS_RUNTIME",
    "STASIS_PORT",
    "STASIS_CKPT_DIR",
    "STASIS_NO_COMPRESS",
    "STASIS_RUN_DIR",
    "STASIS_LOG",
    "STASIS_SIGNAL",
    "STASIS_COORD_HOST",
    "STASIS_NO_FORK",
    "STASIS_EXTERNAL",
    "STASIS_TTY", /* the computation's own terminal (launch's pty), see fd_tty.c
		   */
    "STASIS_TOKEN_FILE",
};
#define NKEPT (sizeof(kept_names) / sizeof(kept_names[0]))
static char *kept[NKEPT]; /* "NAME=value" as at load time, or NULL */

static struct {
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[], char *const[]);
} real;

static void resolve(void)
{
	real.execve = dlsym(RTLD_NEXT, "execve");
	real.execvpe = dlsym(RTLD_NEXT, "execvpe");
	real.posix_spawn = dlsym(RTLD_NEXT, "posix_spawn");
	real.posix_spawnp = dlsym(RTLD_NEXT, "posix_spawnp");
}

void rt_exec_init(void)
{
	resolve();
	for (size_t i = 0; i < NKEPT; i++) {
		const char *v = secure_getenv(kept_names[i]);
		if (v && asprintf(&kept[i], "%s=%s", kept_names[i], v) < 0)
			kept[i] = NULL;
	}
}

static int has_name(char *const *envp, int n, const char *name)
{
	size_t len = strlen(name);
	for (int i = 0; i < n; i++)
		if (!strncmp(envp[i], name, len) && envp[i][len] == '=')
			return 1;
	return 0;
}

/* out: envp with every kept variable the program dropped put back. LD_PRELOAD
 * that lost the runtime gets the runtime's entry instead. */
static char **fix_env(char *const *envp, char **out, int cap)
{
	int n = 0;
	if (!kept[0] || !kept[1] || !envp) /* not started by stasis launch */
		return (char **)envp;
	for (; envp[n] && n < cap - (int)NKEPT - 1; n++)
		out[n] = envp[n];
	if (envp[n])
		return (char **)envp; /* too large to rebuild: leave it alone */
	for (int i = 0; i < n; i++)
		if (!strncmp(out[i], "LD_PRELOAD=", 11) && !strstr(out[i], "libstasis.so"))
			out[i] = kept[0];
	for (size_t k = 0; k < NKEPT; k++)
		if (kept[k] && !has_name(out, n, kept_names[k]))
			out[n++] = kept[k];
	out[n] = NULL;
	return out;
}

#define REAL(name) (real.name ? real.name : (resolve(), real.name))

/* Tell the coordinator that this process is about to exec (its connection
 * closes, the new program joins again): a checkpoint waits for it meanwhile. */
static void notify(uint32_t state)
{
	/* a vfork child shares its parent's memory and connection: not its to use */
	if (rt.enabled && rt.coord_fd >= 0 && getpid() == rt.pid)
		proto_send(rt.coord_fd, MSG_EXEC, &state, sizeof(state), NULL, 0);
}

static int exec_done(int rc)
{
	int saved = errno;
	notify(0); /* still here: the exec failed */
	errno = saved;
	return rc;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	char *env[MAX_ENV];
	notify(1);
	return exec_done(REAL(execve)(path, argv, fix_env(envp, env, MAX_ENV)));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char *env[MAX_ENV];
	notify(1);
	return exec_done(REAL(execvpe)(file, argv, fix_env(envp, env, MAX_ENV)));
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
	char *env[MAX_ENV];
	return REAL(posix_spawn)(pid, path, fa, attr, argv, fix_env(envp, env, MAX_ENV));
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	char *env[MAX_ENV];
	return REAL(posix_spawnp)(pid, file, fa, attr, argv, fix_env(envp, env, MAX_ENV));
}
