/* The process at the other end of a connection on this host: to say why a
 * process does not answer (stopped?) and to end one that cannot act on KILL.
 * The peer's socket is the line of /proc/net/tcp (tcp6) whose local address is
 * our peer's address and whose remote address is ours; its holder is the
 * process with that socket inode among its descriptors. A process restarted in
 * a PID namespace is found by its host pid; it must see itself as the pid it
 * claimed in its hello (NSpid), so nothing else is ever signalled. */
#include "common/io.h"
#include "coordinator/coord_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An address as /proc/net/tcp{,6} prints it: the address words in host
 * order, then the port. */
static void proc_addr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		snprintf(buf, size, "%08X:%04X", a->sin_addr.s_addr, ntohs(a->sin_port));
		return;
	}
	const struct sockaddr_in6 *a = (const void *)ss;
	uint32_t w[4];
	memcpy(w, &a->sin6_addr, sizeof(w));
	snprintf(buf, size, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], ntohs(a->sin6_port));
}

static unsigned long peer_inode(int fd)
{
	struct sockaddr_storage me, peer;
	socklen_t l1 = sizeof(me), l2 = sizeof(peer);
	char want_local[64], want_rem[64], line[512], local[64], rem[64];
	unsigned long inode = 0, ino;
	if (getsockname(fd, (struct sockaddr *)&me, &l1) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &l2) < 0 ||
	    (me.ss_family != AF_INET && me.ss_family != AF_INET6))
		return 0;
	proc_addr(&peer, want_local, sizeof(want_local));
	proc_addr(&me, want_rem, sizeof(want_rem));
	FILE *f = fopen(me.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", "re");
	if (!f)
		return 0;
	while (!inode && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %63s %63s %*s %*s %*s %*s %*s %*s %lu", local, rem, &ino) ==
			3 &&
		    !strcmp(local, want_local) && !strcmp(rem, want_rem))
			inode = ino;
	fclose(f);
	return inode;
}

static int holds(const char *pid, const char *link)
{
	char path[64], target[64];
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char fdpath[128];
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		ssize_t n = readlink(fdpath, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			found = !strcmp(target, link);
		}
	}
	closedir(d);
	return found;
}

/* The pid host_pid has in its innermost PID namespace (NSpid's last field). */
static long inner_pid(const char *host_pid)
{
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/%s/status", host_pid);
	if (read_small_file(path, text, sizeof(text)) < 0)
		return -1;
	char *p = strstr(text, "\nNSpid:");
	if (!p)
		return -1;
	char *nl = strchr(p + 7, '\n'), *save;
	if (nl)
		*nl = 0;
	long v = -1;
	for (char *t = strtok_r(p + 7, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		v = atol(t);
	return v;
}

int peer_host_pid(int fd, uint32_t pid)
{
	char link[64];
	unsigned long inode = peer_inode(fd);
	if (!inode)
		return -1;
	snprintf(link, sizeof(link), "socket:[%lu]", inode);
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = -1;
	if (!d)
		return -1;
	while (found < 0 && (e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && atoi(e->d_name) != getpid() &&
		    holds(e->d_name, link) && inner_pid(e->d_name) == (long)pid)
			found = atoi(e->d_name);
	closedir(d);
	return found;
}

char peer_state(int host_pid)
{
	char path[64], text[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", host_pid);
	if (read_small_file(path, text, sizeof(text)) < 0)
		return 0;
	char *p = strrchr(text, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

void peer_describe(const struct conn *k, char *buf, size_t size)
{
	int host = peer_host_pid(k->fd, k->pid);
	char state = host > 0 ? peer_state(host) : 0;
	if (state == 'T' || state == 't')
		snprintf(buf, size,
			 "it is stopped (SIGSTOP or a debugger; 'kill -CONT %d' continues it)",
			 host);
	else if (state == 'D')
		snprintf(buf, size,
			 "it is blocked in the kernel (state D: a slow disk or network file "
			 "system?)");
	else if (state)
		snprintf(buf, size, "it runs (state %c) but does not answer: busy or hung?", state);
	else
		snprintf(buf, size, "it does not answer (it cannot be seen from this host)");
}
