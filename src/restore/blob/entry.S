/* Blob entry and thread resumption. */
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
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	ldmxcsr 64(%rdi)
	fldcw 68(%rdi)
	movq 48(%rdi), %rsp
	movl $1, %eax
	jmpq *56(%rdi)

/* long blob_clone_thread(struct clone_args *args, uint64_t size, const struct img_context *ctx)
 * clone3(); the child resumes ctx on its own, the parent gets the result. */
	.globl blob_clone_thread
	.hidden blob_clone_thread
blob_clone_thread:
	pushq %r12
	movq %rdx, %r12
	movl $435, %eax
	syscall
	testq %rax, %rax
	jz 1f
	popq %r12
	ret
1:	movq %r12, %rdi
	jmp blob_resume
	.section .note.GNU-stack,"",@progbits
