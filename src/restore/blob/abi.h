/* What the blob's C and assembly (entry.S) share, and the restorer
 * (restore/plan.c) with them: system call numbers, and the size of the stack
 * each thread the blob creates gets. Plain #defines, so that .S files can
 * include it. */
#ifndef STASIS_RESTORE_BLOB_ABI_H
#define STASIS_RESTORE_BLOB_ABI_H

#define NR_write 1
#define NR_close 3
#define NR_munmap 11
#define NR_rt_sigprocmask 14
#define NR_mremap 25
#define NR_getpid 39
#define NR_kill 62
#define NR_prctl 157
#define NR_arch_prctl 158
#define NR_exit_group 231
#define NR_rseq 334
#define NR_clone3 435
#define NR_close_range 436

#define BLOB_THREAD_STACK 65536 /* each thread's stack in the blob area */
#define RSEQ_SIG                                                                                   \
	0x53053053	   /* glibc's rseq signature (x86_64): the restorer                        \
			      unregisters its area with it, the runtime registers                  \
			      a restored thread's again with it */
#define BLOB_MAX_SPECIAL 8 /* kernel mappings moved (vdso, vvar, vvar_vclock) */

#endif
