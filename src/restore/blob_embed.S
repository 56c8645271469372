/* The restore blob, built as a flat binary (see the Makefile), embedded here. */
	.section .rodata
	.balign 4096
	.globl stasis_blob_start
	.hidden stasis_blob_start
stasis_blob_start:
	.incbin BLOB_BIN
	.globl stasis_blob_end
	.hidden stasis_blob_end
stasis_blob_end:
	.section .note.GNU-stack,"",@progbits
