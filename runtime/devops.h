/* Device library ops: the STEP_NODE ops of a compiled step that no GPU library provides
 * (Concat, Slice, Pad, Transpose, MaxPool, softmax cross-entropy, casts, queue writes, the
 * augmentation ops). Each is one or more kernels written once in a runtime/devops/ .cuh file, compiled
 * as CUDA by NVRTC for the cuda backend and as C for the twin that the driver stand-in runs and
 * that test_devops compares bit for bit with the op table's reference kernel. */
#ifndef SSLC_DEVOPS_H
#define SSLC_DEVOPS_H
#include "../ir/ir.h"
#include "devops/devop.h"

#define DEVOP_MAX_LAUNCHES 4

typedef struct {
    const char *kernel; /* "Cast": CUDA kernel sslc_Cast, C twin of the same name */
    devop_args args;
} devop_launch;

typedef struct {
    int op;
    /* bytes of scratch the op needs between its launches (NULL: none); the backend plans them as
     * the step's workspace */
    int64_t (*scratch)(const ref_call *c);
    /* The launches of call c, in order (pointers: the call's storage, ws: its scratch); returns
     * their number (1..DEVOP_MAX_LAUNCHES) or -1 with err (IR_ERRLEN) for a case the kernels do
     * not cover. */
    int (*prepare)(const ref_call *c, void *ws, devop_launch *l, char *err);
} devop_def;

typedef void (*devop_twin_fn)(const devop_args *a);
typedef struct {
    const char *kernel;
    devop_twin_fn run;
} devop_twin;

/* A family (runtime/devops/<family>.c): its ops and its kernels' C twins, {0}-terminated. */
typedef struct {
    const devop_def *defs;
    const devop_twin *twins;
} devop_family;

const devop_def *devop_find(int op); /* NULL: the op has no device kernel */
devop_twin_fn devop_twin_find(const char *kernel); /* NULL if unknown */
/* the CUDA translation unit of every device kernel (static text, built into sslc) */
const char *devop_cuda_source(void);
/* Gemm's bias fill: Y = beta * C broadcast (c: the Gemm call with its C input); cuBLAS then
 * accumulates the product with beta = 1 */
void devop_gemm_bias(const ref_call *c, devop_launch *l);
/* runs the launches of call c with the C twins (tests; the stand-in does the same per launch) */
int devop_run_twins(const ref_call *c, void *ws, char *err);

#endif
