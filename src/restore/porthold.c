/* What holds a local port: porthold.h. */
#include "restore/porthold.h"

#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SHOWN 4

static const char *tcp_state(unsigned st)
{
	static const char *const names[] = {
	    [1] = "ESTABLISHED", [2] = "SYN-SENT",  [3] = "SYN-RECV", [4] = "FIN-WAIT-1",
	    [5] = "FIN-WAIT-2",	 [6] = "TIME-WAIT", [7] = "CLOSE",    [8] = "CLOSE-WAIT",
	    [9] = "LAST-ACK",	 [10] = "LISTEN",   [11] = "CLOSING"};
	return st < sizeof(names) / sizeof(names[0]) && names[st] ? names[st] : "?";
}

/* The process holding socket inode, as " of process PID (COMM)" (restart
 * asks before it enters a PID namespace: the PIDs are the host's); " of a
 * process not visible to restart" when /proc shows none (another user's, or
 * of a PID namespace that is not below restart's); "" for a socket no process
 * holds (inode 0: TIME-WAIT, an orphan). */
static void holder(unsigned long inode, char *out, size_t size)
{
	char want[48], path[64], link[48], comm[32] = "";
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	out[0] = 0;
	DIR *procs = inode ? opendir("/proc") : NULL;
	for (struct dirent *p; procs && !out[0] && (p = readdir(procs));) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		DIR *fds = opendir(path);
		for (struct dirent *f; fds && !out[0] && (f = readdir(fds));) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			ssize_t n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0 || (link[n] = 0, strcmp(link, want)))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
			FILE *c = fopen(path, "r");
			if (c && fgets(comm, sizeof(comm), c))
				comm[strcspn(comm, "\n")] = 0;
			if (c)
				fclose(c);
			snprintf(out, size, " of process %s (%s)", p->d_name, comm);
		}
		if (fds)
			closedir(fds);
	}
	if (procs)
		closedir(procs);
	if (inode && !out[0])
		snprintf(out, size, " of a process not visible to restart");
}

/* The sockets of one /proc/net table on port, appended to buf; how many. */
static int scan(const char *table, int tcp, uint16_t port, char *buf, size_t size, int shown)
{
	char line[512], who[96];
	FILE *f = fopen(table, "r");
	if (!f)
		return shown;
	while (shown < MAX_SHOWN && fgets(line, sizeof(line), f)) {
		unsigned lport, st;
		unsigned long inode;
		if (sscanf(line,
			   " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*s %*s %lu",
			   &lport, &st, &inode) != 3 ||
		    lport != port)
			continue;
		holder(inode, who, sizeof(who));
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s%s", shown ? ", " : "",
			 tcp ? tcp_state(st) : "bound", who);
		shown++;
	}
	fclose(f);
	return shown;
}

void rst_port_holders(uint32_t proto, uint16_t port, char *buf, size_t size)
{
	int tcp = proto == IPPROTO_TCP;
	buf[0] = 0;
	int shown = scan(tcp ? "/proc/net/tcp" : "/proc/net/udp", tcp, port, buf, size, 0);
	scan(tcp ? "/proc/net/tcp6" : "/proc/net/udp6", tcp, port, buf, size, shown);
}
