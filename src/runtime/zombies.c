/* Children that have exited but were not reaped yet (zombies). They cannot take
 * part in a checkpoint, yet their parent may still wait for them: each is
 * recorded in the parent's image (IMG_SEC_ZOMBIES) with its PID, group, session
 * and exit status, and the restorer makes it a zombie again. */
#include "runtime/zombies.h"
#include "common/io.h"
#include "image/format.h"
#include "image/kinds/zombies.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define RT_MAX_ZOMBIES 4096

static struct img_zombie zombies[RT_MAX_ZOMBIES];
static uint32_t nzombies;

/* /proc/PID/stat fields after the name: pgrp is field 5, session 6 and
 * exit_signal 38 (man 5 proc). */
static int read_ids(uint32_t pid, struct img_zombie *z)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return -1;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2; /* the state letter: field 3 */
	for (int field = 3; field <= 38 && *p; field++) {
		char *end;
		long v = strtol(p, &end, 10);
		if (field == 5)
			z->pgid = v;
		else if (field == 6)
			z->sid = v;
		else if (field == 38)
			z->exit_signal = v;
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/* 1 and the record if pid is a zombie, 0 if it still runs. WNOWAIT leaves
 * the zombie to its parent; __WALL also sees children without SIGCHLD. */
static int zombie_status(uint32_t pid, struct img_zombie *z)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT | WNOHANG | __WALL) < 0 || !si.si_pid)
		return 0;
	memset(z, 0, sizeof(*z));
	z->pid = pid;
	z->code = si.si_code;
	z->status = si.si_status;
	z->exit_signal = SIGCHLD;
	read_ids(pid, z);
	return 1;
}

int rt_zombies_take(uint32_t *pids, int n)
{
	int live = 0;
	nzombies = 0;
	for (int i = 0; i < n; i++) {
		if (nzombies < RT_MAX_ZOMBIES && zombie_status(pids[i], &zombies[nzombies]))
			nzombies++;
		else
			pids[live++] = pids[i];
	}
	return live;
}

const struct img_zombie *rt_zombies_list(uint32_t *n)
{
	*n = nzombies;
	return zombies;
}
