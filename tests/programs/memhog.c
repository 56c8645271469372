/* The workload DMTCP and CRIU were measured with (shared/workloads/memhog.c),
 * kept here unchanged so that a clone builds and benchmarks on its own. */
/* clang-format off */
/* memhog: a checkpoint workload. Allocates SIZE_MIB MiB filled per MODE,
 * then loops forever: every 100 ms it re-verifies a checksum of the whole
 * buffer and prints "tick N ok" (or "tick N CORRUPT" and exits 3).
 * MODE: rand (incompressible), text (compressible), zero (untouched pages).
 * Usage: memhog SIZE_MIB [rand|text|zero] [THREADS]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t *buf;
static size_t len;

static uint64_t sum(void) {
  uint64_t h = 1469598103934665603ULL;
  const uint64_t *p = (const uint64_t *)buf;
  for (size_t i = 0; i < len / 8; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void *spin(void *arg) {
  volatile uint64_t *c = arg;
  for (;;) { (*c)++; usleep(1000); }
  return NULL;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
  const char *mode = argc > 2 ? argv[2] : "rand";
  int threads = argc > 3 ? atoi(argv[3]) : 0;
  len = mib << 20;
  buf = malloc(len);
  if (!buf) return 2;
  uint64_t x = 88172645463325252ULL;
  if (!strcmp(mode, "rand")) {
    for (size_t i = 0; i < len / 8; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      ((uint64_t *)buf)[i] = x;
    }
  } else if (!strcmp(mode, "text")) {
    static const char t[] = "the quick brown fox jumps over the lazy dog 0123456789\n";
    for (size_t i = 0; i < len; i++) buf[i] = t[i % (sizeof t - 1)];
  } /* zero: leave untouched */
  static volatile uint64_t counters[64];
  for (int i = 0; i < threads && i < 64; i++) {
    pthread_t t;
    pthread_create(&t, NULL, spin, (void *)&counters[i]);
  }
  uint64_t want = sum();
  for (unsigned long n = 0;; n++) {
    int ok = sum() == want;
    printf("tick %lu %s\n", n, ok ? "ok" : "CORRUPT");
    fflush(stdout);
    if (!ok) return 3;
    usleep(100000);
  }
}
