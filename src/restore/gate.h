/* gate.c: the restored processes wait, their memory restored, until restart
 * has joined them to a coordinator it started meanwhile. */
#ifndef STASIS_RESTORE_GATE_H
#define STASIS_RESTORE_GATE_H

#include "restore/set.h"

/* restart, before PID 1 exists (set->join given): the gate, closed. */
int rst_gate_make(struct rst_set *set);
/* PID 1, first: let go of restart's end (the gate opens for every process
 * once restart closes the last one). */
void rst_gate_child(struct rst_set *set);
/* restart, once set->join succeeded: open it. */
void rst_gate_open(struct rst_set *set);
/* Process i (-1: PID 1), before it needs its coordinator connection: 0 once
 * the gate is open (at once without one) and process i joined, -1 if restart
 * went away without joining it (the namespace ends with PID 1 then). */
int rst_gate_wait(const struct rst_set *set, int i);

#endif
