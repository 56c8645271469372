/* int rt_save_context(struct img_context *ctx)
 * Saves the callee-saved registers, stack pointer, return address, MXCSR and
 * the x87 control word (layout: image/format.h struct img_context). Returns 0.
 * The restore blob later resumes a new thread here with eax = 1, like longjmp. */
	.text
	.globl rt_save_context
	.hidden rt_save_context
	.type rt_save_context, @function
rt_save_context:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	movq (%rsp), %rax
	movq %rax, 56(%rdi)
	stmxcsr 64(%rdi)
	fnstcw 68(%rdi)
	xorl %eax, %eax
	ret
	.size rt_save_context, .-rt_save_context
	.section .note.GNU-stack,"",@progbits
