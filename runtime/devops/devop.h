/* Device library ops, written once: each kernel body below (and in the *.cuh files beside it)
 * compiles as CUDA C++ through NVRTC for the cuda backend and as C for its twin, which the
 * driver stand-in runs (tests/fake_cuda/) and test_devops compares bit for bit with the op
 * table's reference kernel. A body computes work item i of n; items are independent (any
 * order, any parallelism gives the same bytes), so a body mirrors the reference kernel's
 * arithmetic for one output element, in the same order.
 *
 * This header is shared by C and by NVRTC: no libc, no includes in the CUDA build. */
#ifndef SSLC_DEVOP_H
#define SSLC_DEVOP_H

#ifdef __CUDACC_RTC__
typedef long long int64_t;
typedef int int32_t;
typedef unsigned char uint8_t;
typedef unsigned int uint32_t;
#define DEVOP_FN __device__ static inline
#define DEVOP_INF __int_as_float(0x7f800000)
#define DEVOP_NAN __int_as_float(0x7fc00000)
/* the launch wrapper: a grid-stride loop over the items */
#define DEVOP_KERNEL(name)                                                                                           \
    DEVOP_FN void devop_##name(const devop_args *a, int64_t i);                                                      \
    extern "C" __global__ void sslc_##name(const devop_args *a) {                                                    \
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a->n; i += (int64_t)gridDim.x * blockDim.x) \
            devop_##name(a, i);                                                                                      \
    }                                                                                                                \
    DEVOP_FN void devop_##name(const devop_args *a, int64_t i)
#else
#include <math.h>
#include <stdint.h>
#define DEVOP_FN static inline
#define DEVOP_INF INFINITY
#define DEVOP_NAN NAN
/* the C twin: the same body over every item */
#define DEVOP_KERNEL(name)                                                                                           \
    DEVOP_FN void devop_##name(const devop_args *a, int64_t i);                                                      \
    static void sslc_##name(const devop_args *a) {                                                                   \
        for (int64_t i = 0; i < a->n; i++) devop_##name(a, i);                                                       \
    }                                                                                                                \
    DEVOP_FN void devop_##name(const devop_args *a, int64_t i)
#endif

/* ir_dtype's codes (runtime/devops.c checks they agree) */
enum { DEVOP_F32 = 0, DEVOP_F64 = 1, DEVOP_I32 = 4, DEVOP_I64 = 5, DEVOP_U8 = 6, DEVOP_BOOL = 7 };

#define DEVOP_MAX_PTR 8
#define DEVOP_MAX_I 48
#define DEVOP_MAX_F 16

/* One launch's arguments, in device memory (the cuda backend writes them once: a static plan's
 * pointers and shapes never change). The layout of i[] and f[] is each op's own, set by its
 * prepare function; p[] holds inputs, outputs and scratch, in the order the op documents. */
typedef struct {
    int64_t n; /* work items */
    void *p[DEVOP_MAX_PTR];
    int64_t i[DEVOP_MAX_I];
    double f[DEVOP_MAX_F];
} devop_args;

#endif
