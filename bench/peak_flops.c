/* The machine's float32 arithmetic peak per core: chains of independent fused multiply-adds on
 * the widest vectors the CPU has (AVX-512, else AVX2), one thread per CPU of the affinity mask
 * run one after another and together. The floor of a step is its FLOPs (`sslc inspect`) over
 * this peak times the threads: no float32 implementation of the same arithmetic is faster
 * (docs/PERFORMANCE.md, "How far the step is from the machine").
 *
 * usage: build/peak_flops [threads] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 12 /* more independent chains than FMA latency x issue width, so the units stay busy */

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));

#define FMA_LOOP(V, iters, out)                                                                                    \
    do {                                                                                                           \
        V acc[CHAINS], m, c;                                                                                       \
        for (int j = 0; j < CHAINS; j++)                                                                           \
            for (int l = 0; l < (int)(sizeof(V) / 4); l++) acc[j][l] = 0.001f * (float)j;                          \
        for (int l = 0; l < (int)(sizeof(V) / 4); l++) m[l] = 0.999f, c[l] = 0.0001f;                              \
        for (long i = 0; i < (iters); i++)                                                                         \
            for (int j = 0; j < CHAINS; j++) acc[j] = acc[j] * m + c;                                              \
        float sum_ = 0;                                                                                            \
        for (int j = 0; j < CHAINS; j++) sum_ += acc[j][0];                                                        \
        (out) = sum_;                                                                                              \
    } while (0)

__attribute__((target("avx512f,fma"))) static float run512(long iters) {
    float s;
    FMA_LOOP(v16, iters, s);
    return s;
}

__attribute__((target("avx2,fma"))) static float run256(long iters) {
    float s;
    FMA_LOOP(v8, iters, s);
    return s;
}

/* GFLOP/s of one thread's loop, and (keep) a result so the loop is not optimized away */
static double rate(int wide, long iters, float *keep) {
    double t = omp_get_wtime();
    *keep += wide ? run512(iters) : run256(iters);
    t = omp_get_wtime() - t;
    return (double)iters * CHAINS * (wide ? 16 : 8) * 2 / t / 1e9;
}

int main(int argc, char **argv) {
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "peak_flops: this CPU has neither AVX-512 nor AVX2\n");
        return 1;
    }
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    if (threads < 1) {
        fprintf(stderr, "peak_flops: threads must be >= 1\n");
        return 1;
    }
    const long iters = 100000000;
    float keep = 0;
    rate(wide, iters / 10, &keep); /* warm-up: clocks up */
    double one = rate(wide, iters, &keep), all = 0;
#pragma omp parallel num_threads(threads) reduction(+ : all, keep)
    all += rate(wide, iters, &keep);
    if (keep == -1.0f) printf("(unreachable: keeps the loops' results alive)\n");
    printf("%s float32 FMA peak: %.1f GFLOP/s on one thread, %.1f GFLOP/s on %d threads together\n",
           wide ? "AVX-512" : "AVX2", one, all, threads);
    return 0;
}
