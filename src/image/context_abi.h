/* The layout of struct img_context (image/format.h) for the assembly that
 * saves and loads it: runtime/context.S (rt_save_context) and
 * restore/blob/entry.S (blob_resume). Plain #defines, so that .S files can
 * include it; format.h asserts each against offsetof. */
#ifndef STASIS_IMAGE_CONTEXT_ABI_H
#define STASIS_IMAGE_CONTEXT_ABI_H

#define IMG_CTX_RBX 0
#define IMG_CTX_RBP 8
#define IMG_CTX_R12 16
#define IMG_CTX_R13 24
#define IMG_CTX_R14 32
#define IMG_CTX_R15 40
#define IMG_CTX_RSP 48
#define IMG_CTX_RIP 56
#define IMG_CTX_MXCSR 64
#define IMG_CTX_FPUCW 68
#define IMG_CTX_SIZE 72

#endif
