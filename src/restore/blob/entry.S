/* Blob entry and thread resumption. The context's offsets are
 * image/context_abi.h's, the system call numbers restore/blob/abi.h's. */
#include "image/context_abi.h"
#include "restore/blob/abi.h"

	.section .text.entry, "ax"
	.globl blob_entry
	.hidden blob_entry
/* void blob_entry(struct blob_plan *plan, uint64_t stack_top) */
blob_entry:
	movq %rsi, %rsp
	andq $-16, %rsp
	call blob_main
	ud2

	.text
/* void blob_resume(const struct img_context *ctx): load the saved context and
 * return 1 from the rt_save_context() call that saved it. */
	.globl blob_resume
	.hidden blob_resume
blob_resume:
	movq IMG_CTX_RBX(%rdi), %rbx
	movq IMG_CTX_RBP(%rdi), %rbp
	movq IMG_CTX_R12(%rdi), %r12
	movq IMG_CTX_R13(%rdi), %r13
	movq IMG_CTX_R14(%rdi), %r14
	movq IMG_CTX_R15(%rdi), %r15
	ldmxcsr IMG_CTX_MXCSR(%rdi)
	fldcw IMG_CTX_FPUCW(%rdi)
	movq IMG_CTX_RSP(%rdi), %rsp
	movl $1, %eax
	jmpq *IMG_CTX_RIP(%rdi)

/* long blob_clone_thread(struct clone_args *args, uint64_t size, const struct img_context *ctx)
 * clone3(); the child resumes ctx on its own, the parent gets the result. */
	.globl blob_clone_thread
	.hidden blob_clone_thread
blob_clone_thread:
	pushq %r12
	movq %rdx, %r12
	movl $NR_clone3, %eax
	syscall
	testq %rax, %rax
	jz 1f
	popq %r12
	ret
1:	movq %r12, %rdi
	jmp blob_resume
	.section .note.GNU-stack,"",@progbits
