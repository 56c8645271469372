/* The CLI's side of the coordinator: ports, starting one on demand, and
 * one-shot control commands. */
#include "cli/cli.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

uint16_t cli_parse_port(const char *s)
{
	uint16_t p = s ? proto_parse_port(s) : proto_default_port();
	if (!p) {
		log_msg("error", "invalid %s '%s': expected a number from 1 to 65535",
			s ? "port" : "$STASIS_PORT", s ? s : getenv("STASIS_PORT"));
		exit(2);
	}
	return p;
}

void cli_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int cli_absolute(const char *path, char *out, size_t size)
{
	char cwd[PATH_MAX];
	int n;
	if (path[0] == '/')
		n = snprintf(out, size, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, size, "%s/%s", cwd, path);
	else
		return error("cannot read the current directory for %s: %s", path, strerror(errno));
	return n < (int)size ? 0 : error("path %s is too long", path);
}

uint16_t cli_parse_port_or_any(const char *s)
{
	return strcmp(s, "0") ? cli_parse_port(s) : 0;
}

unsigned cli_parse_seconds(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || *s == '-' || v > UINT_MAX / 1000) {
		log_msg("error", "invalid %s '%s': expected a number of seconds (0 to %u)", what, s,
			UINT_MAX / 1000);
		exit(2);
	}
	return (unsigned)v;
}

long cli_env_interval(void)
{
	const char *v = getenv("STASIS_INTERVAL");
	return v && *v ? (long)cli_parse_seconds(v, "$STASIS_INTERVAL") : -1;
}

int cli_coord_opt(const char *opt, const char *arg)
{
	char abs[PATH_MAX];
	if (!strcmp(opt, "--coord-host")) {
		if (!*arg)
			die("--coord-host needs a host name or address");
		setenv("STASIS_COORD_HOST", arg, 1);
		return 1;
	}
	if (!strcmp(opt, "--token-file")) {
		if (!realpath(arg, abs))
			die("token file %s: %s", arg, strerror(errno));
		setenv("STASIS_TOKEN_FILE", abs, 1);
		return 1;
	}
	return 0;
}

int cli_coord_remote(void)
{
	return proto_coord_remote();
}

int cli_coord_host_given(void)
{
	const char *h = getenv("STASIS_COORD_HOST");
	return h && *h && strcmp(h, "127.0.0.1") && strcmp(h, "localhost") && strcmp(h, "::1");
}

static const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0)
		die("cannot read /proc/self/exe: %s", strerror(errno));
	path[n] = 0;
	return path;
}

const char *cli_self_dir(void)
{
	static char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", self_exe());
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = 0;
	}
	return dir;
}

static int control_connect(uint16_t port, uint32_t flags, struct proto_welcome *w, char *dir,
			   size_t dirsize, char *err, size_t errlen)
{
	struct proto_hello h = {.role = ROLE_CONTROL, .pid = (uint32_t)getpid(), .flags = flags};
	snprintf(h.name, sizeof(h.name), "stasis");
	return proto_client_connect(port, &h, w, dir, dirsize, err, errlen);
}

/* The reply to a command, skipping pings; progress reports that come first
 * (a checkpoint that writes for more than a second) are shown on a terminal
 * meanwhile. A coordinator silent for PROTO_SILENCE_MS is given up on
 * (ETIMEDOUT): it pings every second of a checkpoint. */
static int recv_reply(int fd, struct proto_msg *m, char *buf)
{
	struct progress prog;
	struct proto_progress p;
	int rc;
	progress_start(&prog, "stasis: checkpoint", 2);
	while ((rc = proto_recv_timeout(fd, m, buf, PROTO_MAX_PAYLOAD, PROTO_SILENCE_MS)) == 0 &&
	       (m->hdr.type == MSG_PROGRESS || m->hdr.type == MSG_PING)) {
		if (m->hdr.type != MSG_PROGRESS || m->hdr.len != sizeof(p))
			continue;
		memcpy(&p, m->payload, sizeof(p));
		progress_update(&prog, p.done, p.total);
	}
	progress_end(&prog);
	return rc;
}

static const char *reply_error(uint16_t port)
{
	static char why[128];
	if (errno == ECONNRESET)
		return "it closed the connection";
	if (errno == ETIMEDOUT)
		snprintf(why, sizeof(why),
			 "it said nothing for %d s (is it stopped? 'stasis status -p %u')",
			 PROTO_SILENCE_MS / 1000, port);
	else
		snprintf(why, sizeof(why), "%s", strerror(errno));
	return why;
}

long cli_coord_command(uint16_t port, uint16_t type, const void *arg, size_t arglen,
		       uint16_t reply_type, char **reply)
{
	char err[PATH_MAX + 256];
	struct proto_msg m;
	int fd = control_connect(port, 0, NULL, NULL, 0, err, sizeof(err));
	if (fd < 0)
		return error("%s", err);
	char *buf = malloc(PROTO_MAX_PAYLOAD + 1);
	if (!buf) {
		close(fd);
		return error("out of memory");
	}
	long rc = -1;
	if (proto_send(fd, type, arg, arglen, NULL, 0) < 0)
		error("cannot send a command to the coordinator on port %u: %s", port,
		      strerror(errno));
	else if (recv_reply(fd, &m, buf) < 0)
		error("no reply from the coordinator on port %u: %s", port, reply_error(port));
	else if (m.hdr.type == MSG_ERROR)
		error("%.*s", (int)m.hdr.len, buf);
	else if (m.hdr.type != reply_type)
		error("unexpected reply (message type %u) from the coordinator on port %u",
		      m.hdr.type, port);
	else
		rc = m.hdr.len;
	close(fd);
	if (rc < 0) {
		free(buf);
		return -1;
	}
	buf[rc] = 0;
	if (reply)
		*reply = buf;
	else
		free(buf);
	return rc;
}

/* Ask the coordinator on fd to take dir (MSG_CMD_SET_DIR): 0 if it did, else
 * -1 with its answer in err. */
static int ask_dir(int fd, const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX + 256];
	struct proto_msg m;
	if (proto_send(fd, MSG_CMD_SET_DIR, dir, strlen(dir), NULL, 0) < 0 ||
	    proto_recv_timeout(fd, &m, buf, sizeof(buf) - 1, PROTO_HANDSHAKE_MS) < 0)
		return errf(err, errlen, "no answer: %s", strerror(errno));
	if (m.hdr.type == MSG_OK)
		return 0;
	return errf(err, errlen, "%.*s", m.hdr.type == MSG_ERROR ? (int)m.hdr.len : 0, buf);
}

/* A coordinator already runs: say so if it does not do what the caller asked. */
static void check_settings(int fd, uint16_t port, const struct proto_welcome *w, const char *have,
			   const char *want_dir, int no_compress)
{
	char want[PATH_MAX], real[PATH_MAX], err[PATH_MAX + 256];
	int same = want_dir && realpath(want_dir, real) && !strcmp(real, have);
	if (want_dir && !same && cli_absolute(want_dir, want, sizeof(want)) == 0 &&
	    ask_dir(fd, want, err, sizeof(err)) < 0)
		warn("%s: --ckpt-dir %s ignored (use another port with -p for a coordinator of "
		     "your own)",
		     err, want_dir);
	if (no_compress && !(w->flags & CKPT_NO_COMPRESS))
		warn("the coordinator on port %u compresses images by default: --no-compress "
		     "ignored (give it to 'stasis checkpoint' instead)",
		     port);
}

/* --port-file and --log-file for the coordinator a command starts */
static const char *start_port_file, *start_log_file;

void cli_coord_files(const char *port_file, const char *log_file)
{
	start_port_file = port_file;
	start_log_file = log_file;
}

#define READY_FD 3 /* the coordinator's report: $STASIS_COORD_READY_FD */

/* In the child: detach (a session of its own, and not our child, so that it
 * outlives us and no signal of our terminal reaches it), then become the
 * coordinator, which reports on the pipe itself: no `--daemon` process in
 * between that would fork twice more and exit before we could go on. */
static __attribute__((noreturn)) void exec_detached(const char **argv, int fd)
{
	pid_t pid = setsid() < 0 ? -1 : fork();
	if (pid != 0) {
		if (pid < 0)
			dprintf(fd, "E cannot start a coordinator: %s", strerror(errno));
		_exit(pid < 0);
	}
	/* its messages come to us until it listens, its report on READY_FD */
	if (dup2(fd, 2) < 0 || dup2(fd, READY_FD) < 0 || fcntl(2, F_SETFD, 0) < 0 ||
	    fcntl(READY_FD, F_SETFD, 0) < 0)
		_exit(127);
	setenv("STASIS_COORD_READY_FD", "3", 1);
	unsetenv("LD_PRELOAD"); /* of a computation it runs in, or an ASan build's */
	execv(argv[0], (char **)argv);
	error("cannot run %s to start a coordinator: %s", argv[0], strerror(errno));
	_exit(127);
}

/* What the coordinator said: "R <port> <pid>" once it listens, else why not
 * ("E <message>", or a message on its stderr). 0, or -1 with that in err. */
static int started(char *said, char *err, size_t errlen)
{
	for (char *line = said; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, "R ", 2))
			return 0;
	said[strcspn(said, "\n")] = 0;
	const char *why = said;
	if (!strncmp(why, "E ", 2))
		why += 2;
	else if (!strncmp(why, "stasis: error: ", 15))
		why += 15;
	if (!*why)
		return errf(err, errlen, "the coordinator did not start (it said nothing)");
	return errf(err, errlen, "%s", why);
}

/* Start `stasis coordinator --daemon --exit-on-last ...`, detached, and
 * return at once (0, or -1 with why in err); coordinator_ready waits for it. */
static int coordinator_start(uint16_t port, const char *ckpt_dir, int no_compress,
			     struct cli_coord_start *s, char *err, size_t errlen)
{
	char portbuf[8];
	const char *host = getenv("STASIS_COORD_HOST");
	const char *argv[16] = {self_exe(),	  "coordinator", "--daemon",
				"--exit-on-last", "-p",		 portbuf};
	int argc = 6, p[2];
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	if (ckpt_dir) {
		argv[argc++] = "--ckpt-dir";
		argv[argc++] = ckpt_dir;
	}
	if (start_port_file) {
		argv[argc++] = "--port-file";
		argv[argc++] = start_port_file;
	}
	if (start_log_file) {
		argv[argc++] = "--log-file";
		argv[argc++] = start_log_file;
	}
	if (no_compress)
		argv[argc++] = "--no-compress";
	if (host && *host && strcmp(host, "127.0.0.1") && strcmp(host, "localhost")) {
		argv[argc++] = "--bind"; /* one of this host's own addresses */
		argv[argc++] = host;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return errf(err, errlen, "cannot create a pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return errf(err, errlen, "cannot fork to start a coordinator: %s", strerror(errno));
	}
	if (pid == 0)
		exec_detached(argv, p[1]);
	close(p[1]);
	*s = (struct cli_coord_start){.fd = p[0], .pid = pid, .port = port};
	return 0;
}

#define READY_S 20 /* a coordinator says it listens within this */
#define READY_S_MAX 3600

int cli_coord_start_s(void)
{
	static int s;
	const char *v = getenv("STASIS_COORD_START_TIMEOUT");
	char *end;
	if (s)
		return s;
	if (!v || !*v)
		return s = READY_S;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < 1 || n > READY_S_MAX) {
		log_msg("error",
			"invalid $STASIS_COORD_START_TIMEOUT '%s': expected a number of seconds "
			"from 1 to %d",
			v, READY_S_MAX);
		exit(2);
	}
	return s = (int)n;
}

/* What fd says until every copy of it is closed (the coordinator closes its
 * report once it listens, or exits), within cli_coord_start_s(): its length,
 * or -1 with errno ETIMEDOUT. */
static ssize_t read_report(int fd, char *buf, size_t size)
{
	long long deadline = now_ms() + cli_coord_start_s() * 1000LL;
	size_t n = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t got = r < 0 ? -1 : read(fd, buf + n, size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || (n += (size_t)got) == size)
			return got < 0 ? -1 : (ssize_t)n;
	}
}

/* 0 once the coordinator coordinator_start started listens, or -1 with why in
 * err. */
static int coordinator_ready(struct cli_coord_start *s, char *err, size_t errlen)
{
	char said[PATH_MAX + 256];
	uint16_t port = s->port;
	ssize_t n = read_report(s->fd, said, sizeof(said) - 1);
	int timed_out = n < 0 && errno == ETIMEDOUT;
	close(s->fd);
	said[n > 0 ? n : 0] = 0;
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) /* gone already: it only forked */
		;
	*s = (struct cli_coord_start){.fd = -1, .pid = -1, .port = port};
	if (timed_out)
		return errf(err, errlen,
			    "the coordinator started for port %u did not say within %d s that it "
			    "listens (stopped? 'stasis status -p %u' tells whether it runs)",
			    port, cli_coord_start_s(), port);
	return started(said, err, errlen);
}

static int spawn_coordinator(uint16_t port, const char *ckpt_dir, int no_compress, char *err,
			     size_t errlen)
{
	struct cli_coord_start s;
	if (coordinator_start(port, ckpt_dir, no_compress, &s, err, errlen) < 0)
		return -1;
	return coordinator_ready(&s, err, errlen);
}

int cli_coord_begin(uint16_t port, const char *ckpt_dir, struct cli_coord_start *s)
{
	char err[PATH_MAX + 256];
	debug("no coordinator on port %u: starting one", port);
	return coordinator_start(port, ckpt_dir, 0, s, err, sizeof(err)) < 0 ? error("%s", err) : 0;
}

int cli_coord_end(struct cli_coord_start *s)
{
	char err[PATH_MAX + 256];
	if (coordinator_ready(s, err, sizeof(err)) == 0)
		return 0;
	if (strstr(err, "is in use")) { /* another launcher's won: join it */
		errno = EADDRINUSE;
		return -1;
	}
	return error("%s", err);
}

#define ENSURE_ATTEMPTS 5

/* --port-file when the command joined a coordinator that runs already (one it
 * started wrote the file itself) */
static int note_port(const char *path, uint16_t port)
{
	char want[16], have[16];
	int n = snprintf(want, sizeof(want), "%u\n", port);
	if (read_small_file(path, have, sizeof(have)) == n && !strcmp(have, want))
		return 0;
	if (write_file_atomic(path, want, (size_t)n) < 0)
		return error("cannot write port file %s: %s", path, strerror(errno));
	return 0;
}

/* Connected (the held connection), or -1 with errno: ECONNREFUSED (nothing
 * listens), ECONNABORTED (a coordinator that is exiting reset us), another. */
static int hold_connect(uint16_t port, const char *ckpt_dir, int no_compress, char *err,
			size_t errlen)
{
	char dir[PATH_MAX];
	struct proto_welcome w;
	int fd = control_connect(port, HELLO_HOLD, &w, dir, sizeof(dir), err, errlen);
	if (fd >= 0 && !cli_coord_remote()) /* images go to the directory of each host */
		check_settings(fd, port, &w, dir, ckpt_dir, no_compress);
	return fd;
}

int cli_coord_hold(uint16_t port, const char *ckpt_dir)
{
	char err[PATH_MAX + 256];
	int fd = hold_connect(port, ckpt_dir, 0, err, sizeof(err));
	if (fd >= 0 && start_port_file && note_port(start_port_file, port) < 0) {
		close(fd);
		errno = EIO;
		return -1;
	}
	return fd;
}

/* Port 0: start a coordinator on a free port, which it writes to the port
 * file (the caller's, else a temporary one in the run directory). */
static int start_on_any_port(uint16_t *port, const char *ckpt_dir, int no_compress)
{
	char err[PATH_MAX + 256], tmp[PATH_MAX], line[16];
	const char *mine = start_port_file;
	if (cli_coord_remote())
		return error("port 0 picks a free port for a coordinator started here: give the "
			     "port of the coordinator on $STASIS_COORD_HOST with -p");
	if (!mine) {
		if (proto_run_file(0, "launch", tmp, sizeof(tmp) - 32) < 0)
			return error("cannot name a port file in the run directory: %s",
				     strerror(errno));
		snprintf(tmp + strlen(tmp), 32, ".%d.port", (int)getpid());
		start_port_file = tmp;
	}
	int rc = spawn_coordinator(0, ckpt_dir, no_compress, err, sizeof(err));
	ssize_t n = rc < 0 ? -1 : read_small_file(start_port_file, line, sizeof(line));
	if (!mine)
		unlink(tmp);
	start_port_file = mine;
	if (rc < 0)
		return error("%s", err);
	if (n <= 0 || !(*port = proto_parse_port(strtok(line, "\n"))))
		return error("the coordinator started on a free port did not write it to its port "
			     "file: %s",
			     n < 0 ? strerror(errno) : "empty or not a port");
	return 0;
}

int cli_ensure_coordinator(uint16_t *portp, const char *ckpt_dir, int no_compress)
{
	char err[PATH_MAX + 256];
	int local = !cli_coord_remote(); /* never one for another host */
	if (!*portp && start_on_any_port(portp, ckpt_dir, no_compress) < 0)
		return -1;
	uint16_t port = *portp;
	for (int attempt = 1;; attempt++) {
		int fd = hold_connect(port, ckpt_dir, no_compress, err, sizeof(err));
		if (fd >= 0 && start_port_file && note_port(start_port_file, port) < 0) {
			close(fd);
			return -1;
		}
		if (fd >= 0)
			return fd;
		/* a connection dropped before the welcome (EPIPE, ECONNRESET) is one
		 * to a coordinator that is exiting, as ECONNABORTED */
		int dropped = errno == ECONNABORTED || errno == EPIPE || errno == ECONNRESET;
		if ((errno != ECONNREFUSED && !dropped) || !local || attempt == ENSURE_ATTEMPTS)
			return error("%s", err);
		/* none listens, or the one there is exiting: start one; if another
		 * launcher did first ("in use"), use that one */
		debug("no coordinator on port %u (%s): starting one", port, err);
		if (dropped)
			usleep(20000 * attempt); /* the exiting one closes its port now */
		if (spawn_coordinator(port, ckpt_dir, no_compress, err, sizeof(err)) < 0 &&
		    !strstr(err, "is in use"))
			return error("%s", err);
	}
}
