/* fpu: register state across checkpoint/restart.
 *
 * A spinner thread keeps known values in ymm8-ymm15 (and, with AVX-512, in
 * zmm24-zmm31 and the mask registers k1-k7) and a long double in x87 st(0),
 * and checks them against memory on every iteration of an assembly loop that
 * never touches them otherwise: the checkpoint interrupts it anywhere, so
 * the registers must come back exactly from the signal frame. It also checks
 * its own MXCSR (rounding toward zero, FTZ and DAZ set) and x87 control word
 * in the loop. The main thread uses FE_UPWARD and checks rounding results and
 * x87 extended precision after restart.
 *
 *   fpu VERIFY_FILE
 */
#include "zdtm.h"

#include <fenv.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

static uint8_t ypat[8][32] __attribute__((aligned(64)));
static uint8_t zpat[8][64] __attribute__((aligned(64)));
static uint64_t kpat[8];
static long double ldpat = 0;
static volatile int stop;
static volatile uint64_t iters;
static volatile int spin_bad; /* 1 ymm, 2 x87, 3 mxcsr, 4 x87 cw, 5 zmm, 6 k */
static uint32_t want_mxcsr;
static uint16_t want_fpucw;
static int have_avx512;

/* ymm8-15 and x87 st(0), checked in a loop until stop. Returns 0 or the
 * first mismatch's code. */
__attribute__((target("avx2"), noinline)) static int spin_avx2(void)
{
	int bad;
	uint32_t mx;
	uint16_t cw;
	__asm__ volatile("vmovdqu 0(%[p]), %%ymm8\n\t"
			 "vmovdqu 32(%[p]), %%ymm9\n\t"
			 "vmovdqu 64(%[p]), %%ymm10\n\t"
			 "vmovdqu 96(%[p]), %%ymm11\n\t"
			 "vmovdqu 128(%[p]), %%ymm12\n\t"
			 "vmovdqu 160(%[p]), %%ymm13\n\t"
			 "vmovdqu 192(%[p]), %%ymm14\n\t"
			 "vmovdqu 224(%[p]), %%ymm15\n\t"
			 "fldt %[ld]\n\t"
			 "1:\n\t"
#define CMPY(off, reg)                                                                             \
	"vpcmpeqb " #off "(%[p]), %%" #reg ", %%ymm0\n\t"                                          \
	"vpmovmskb %%ymm0, %%eax\n\t"                                                              \
	"cmp $-1, %%eax\n\t"                                                                       \
	"jne 2f\n\t"
			 CMPY(0, ymm8) CMPY(32, ymm9) CMPY(64, ymm10) CMPY(96, ymm11)
			     CMPY(128, ymm12) CMPY(160, ymm13) CMPY(192, ymm14) CMPY(224, ymm15)
#undef CMPY
			 /* x87: st(0) must still equal ldpat */
			 "fldt %[ld]\n\t"
			 "fucomip %%st(1), %%st\n\t"
			 "jne 3f\n\t"
			 "jp 3f\n\t"
			 "stmxcsr %[mx]\n\t"
			 "mov %[mx], %%eax\n\t"
			 "and $0xffc0, %%eax\n\t" /* ignore the sticky exception flags */
			 "cmp %[wmx], %%eax\n\t"
			 "jne 4f\n\t"
			 "fnstcw %[cw]\n\t"
			 "movzwl %[cw], %%eax\n\t"
			 "cmp %[wcw], %%eax\n\t"
			 "jne 5f\n\t"
			 "lock incq %[it]\n\t"
			 "pause\n\t"
			 "cmpl $0, %[stop]\n\t"
			 "je 1b\n\t"
			 "xor %[bad], %[bad]\n\t"
			 "jmp 9f\n\t"
			 "2: mov $1, %[bad]\n\t jmp 9f\n\t"
			 "3: mov $2, %[bad]\n\t jmp 9f\n\t"
			 "4: mov $3, %[bad]\n\t jmp 9f\n\t"
			 "5: mov $4, %[bad]\n\t"
			 "9: fstp %%st(0)\n\t"
			 "vzeroupper\n\t"
			 : [bad] "=&r"(bad), [it] "+m"(iters), [mx] "=m"(mx), [cw] "=m"(cw)
			 : [p] "r"(ypat), [ld] "m"(ldpat), [stop] "m"(stop), [wmx] "m"(want_mxcsr),
			   [wcw] "m"(want_fpucw)
			 : "eax", "xmm0", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
			   "xmm14", "xmm15", "memory", "cc");
	return bad;
}

/* zmm24-31 and k1-k7, checked in a loop until stop. */
__attribute__((target("avx512f,avx512bw"), noinline)) static int spin_avx512(void)
{
	int bad;
	__asm__ volatile("vmovdqu64 0(%[z]), %%zmm24\n\t"
			 "vmovdqu64 64(%[z]), %%zmm25\n\t"
			 "vmovdqu64 128(%[z]), %%zmm26\n\t"
			 "vmovdqu64 192(%[z]), %%zmm27\n\t"
			 "vmovdqu64 256(%[z]), %%zmm28\n\t"
			 "vmovdqu64 320(%[z]), %%zmm29\n\t"
			 "vmovdqu64 384(%[z]), %%zmm30\n\t"
			 "vmovdqu64 448(%[z]), %%zmm31\n\t"
			 "kmovq 8(%[k]), %%k1\n\t"
			 "kmovq 16(%[k]), %%k2\n\t"
			 "kmovq 24(%[k]), %%k3\n\t"
			 "kmovq 32(%[k]), %%k4\n\t"
			 "kmovq 40(%[k]), %%k5\n\t"
			 "kmovq 48(%[k]), %%k6\n\t"
			 "kmovq 56(%[k]), %%k7\n\t"
			 "1:\n\t"
#define CMPZ(off, reg)                                                                             \
	"vpcmpeqb " #off "(%[z]), %%" #reg ", %%k0\n\t"                                            \
	"kmovq %%k0, %%rax\n\t"                                                                    \
	"cmp $-1, %%rax\n\t"                                                                       \
	"jne 2f\n\t"
			 CMPZ(0, zmm24) CMPZ(64, zmm25) CMPZ(128, zmm26) CMPZ(192, zmm27)
			     CMPZ(256, zmm28) CMPZ(320, zmm29) CMPZ(384, zmm30) CMPZ(448, zmm31)
#undef CMPZ
#define CMPK(off, reg)                                                                             \
	"kmovq %%" #reg ", %%rax\n\t"                                                              \
	"cmp " #off "(%[k]), %%rax\n\t"                                                            \
	"jne 3f\n\t"
				 CMPK(8, k1) CMPK(16, k2) CMPK(24, k3) CMPK(32, k4) CMPK(40, k5)
				     CMPK(48, k6) CMPK(56, k7)
#undef CMPK
					 "lock incq %[it]\n\t"
					 "pause\n\t"
					 "cmpl $0, %[stop]\n\t"
					 "je 1b\n\t"
					 "xor %[bad], %[bad]\n\t"
					 "jmp 9f\n\t"
					 "2: mov $5, %[bad]\n\t jmp 9f\n\t"
					 "3: mov $6, %[bad]\n\t"
					 "9: vzeroupper\n\t"
			 : [bad] "=&r"(bad), [it] "+m"(iters)
			 : [z] "r"(zpat), [k] "r"(kpat), [stop] "m"(stop)
			 : "rax", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
			   "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "memory", "cc");
	return bad;
}

static void *spinner(void *arg)
{
	int avx512 = (int)(long)arg;
	/* this thread's own rounding mode and flush-to-zero/denormals-are-zero */
	fesetround(FE_TOWARDZERO);
	uint32_t mx;
	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	mx |= (1u << 15) | (1u << 6); /* FTZ, DAZ */
	__asm__ volatile("ldmxcsr %0" ::"m"(mx));
	int bad = avx512 ? spin_avx512() : spin_avx2();
	if (bad)
		spin_bad = bad;
	return NULL;
}

static volatile double vd_one = 1.0, vd_three = 3.0;
static volatile long double vl_one = 1.0L, vl_three = 3.0L;

static void check_main_fpu(const char *when)
{
	zd_check(fegetround() == FE_UPWARD, "%s: main thread rounding mode %#x, want FE_UPWARD",
		 when, fegetround());
	double up = vd_one / vd_three;
	fesetround(FE_DOWNWARD);
	double down = vd_one / vd_three;
	fesetround(FE_UPWARD);
	zd_check(up > down, "%s: 1/3 rounded upward (%a) not above downward (%a)", when, up, down);
	/* x87 extended precision: 64-bit mantissa, not double's 53 */
	long double l = vl_one / vl_three;
	zd_check((double)l != l, "%s: long double 1/3 has only double precision", when);
	long double big = 1.0L + 0x1p-60L;
	zd_check(big != 1.0L, "%s: 1 + 2^-60 == 1 in long double (precision control lost)", when);
}

static const char *bad_name(int b)
{
	static const char *n[] = {"",
				  "ymm8-15 changed",
				  "x87 st(0) changed",
				  "spinner MXCSR changed",
				  "spinner x87 control word changed",
				  "zmm24-31 changed",
				  "mask registers k1-k7 changed"};
	return b > 0 && b < 7 ? n[b] : "?";
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	int nspin = 1;
	zd_init(argc, argv);
	if (!__builtin_cpu_supports("avx2")) {
		zd_fail("this CPU has no AVX2");
		return zd_finish();
	}
	have_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 32; j++)
			ypat[i][j] = (uint8_t)(i * 37 + j * 11 + 5);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 64; j++)
			zpat[i][j] = (uint8_t)(i * 91 + j * 7 + 3);
	for (int i = 0; i < 8; i++)
		kpat[i] = 0x0123456789abcdefULL * (i + 1) ^ ((uint64_t)i << 59);
	ldpat = 1.0L / 3.0L + 0x1p-62L;
	/* what the spinner will see: round toward zero (RC=11), FTZ, DAZ, all masked */
	want_mxcsr = 0x1f80 | (3u << 13) | (1u << 15) | (1u << 6);
	want_fpucw = 0x037f | (3u << 10); /* x87 RC toward zero, extended precision */

	fesetround(FE_UPWARD);
	check_main_fpu("before");
	pthread_create(&t[0], NULL, spinner, (void *)0L);
	if (have_avx512)
		pthread_create(&t[nspin++], NULL, spinner, (void *)1L);
	while (iters < 1000 && !spin_bad)
		zd_sleep_ms(1);
	if (spin_bad)
		zd_fail("before checkpoint: %s", bad_name(spin_bad));
	zd_ready();
	zd_wait();

	check_main_fpu("after restart");
	uint64_t at_verify = iters;
	zd_sleep_ms(200);
	zd_check(iters > at_verify, "the spinner thread%s not running after restart",
		 nspin > 1 ? "s are" : " is");
	stop = 1;
	for (int i = 0; i < nspin; i++)
		pthread_join(t[i], NULL);
	if (spin_bad)
		zd_fail("%s", bad_name(spin_bad));
	printf("avx512 %s, %llu iterations\n", have_avx512 ? "checked" : "absent",
	       (unsigned long long)iters);
	return zd_finish();
}
