/* Shared by the fuzz targets (test_plan_fuzz, test_onnx_fuzz): a seeded xorshift64* stream for
 * mutation choices (one per test program; seed it by assigning fuzz_rs) and a monotonic clock
 * for the time budget. */
#ifndef SSLC_TEST_FUZZKIT_H
#define SSLC_TEST_FUZZKIT_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

static uint64_t fuzz_rs = 1;
static inline uint64_t rnd(void) {
    fuzz_rs ^= fuzz_rs >> 12;
    fuzz_rs ^= fuzz_rs << 25;
    fuzz_rs ^= fuzz_rs >> 27;
    return fuzz_rs * 2685821657736338717ull;
}
static inline size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
