/* int rt_save_context(struct img_context *ctx)
 * Saves the callee-saved registers, stack pointer, return address, MXCSR and
 * the x87 control word (layout: image/format.h struct img_context, its offsets
 * in image/context_abi.h). Returns 0. The restore blob later resumes a new
 * thread here with eax = 1, like longjmp. */
#include "image/context_abi.h"

	.text
	.globl rt_save_context
	.hidden rt_save_context
	.type rt_save_context, @function
rt_save_context:
	movq %rbx, IMG_CTX_RBX(%rdi)
	movq %rbp, IMG_CTX_RBP(%rdi)
	movq %r12, IMG_CTX_R12(%rdi)
	movq %r13, IMG_CTX_R13(%rdi)
	movq %r14, IMG_CTX_R14(%rdi)
	movq %r15, IMG_CTX_R15(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, IMG_CTX_RSP(%rdi)
	movq (%rsp), %rax
	movq %rax, IMG_CTX_RIP(%rdi)
	stmxcsr IMG_CTX_MXCSR(%rdi)
	fnstcw IMG_CTX_FPUCW(%rdi)
	xorl %eax, %eax
	ret
	.size rt_save_context, .-rt_save_context
	.section .note.GNU-stack,"",@progbits
