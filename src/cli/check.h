/* stasis check: one probe per kernel feature Stasis uses (check_probes.c). */
#ifndef STASIS_CLI_CHECK_H
#define STASIS_CLI_CHECK_H

struct check {
	const char *name;
	int needed;	  /* Stasis cannot checkpoint or restart without it */
	const char *cost; /* what is lost without it */
	void (*probe)(struct check *c);
	int ok;
	char detail[512];
};

void probe_userns(struct check *c);
void probe_set_tid(struct check *c);
void probe_pagemap_scan(struct check *c);
void probe_uffd_wp(struct check *c);
void probe_timer_ids(struct check *c);
void probe_vdso(struct check *c);
void probe_devpts(struct check *c);
void probe_ptrace(struct check *c);
void probe_collapse(struct check *c);

#endif
