/* Fusion: partitions a lowered graph into steps. Elementwise chains (with broadcasting),
 * reductions with their elementwise producers and consumers (BatchNorm statistics + normalize
 * + ReLU + residual add, softmax, L2-normalize, loss tails) become one kernel each (kernel IR);
 * Reshape/Flatten become views of their input's storage; everything else (Conv, Gemm, MatMul,
 * pooling, cross-entropy, concat/slice...) is a library step. */
#ifndef SSLC_FUSION_H
#define SSLC_FUSION_H
#include "exec.h"
#include "kir.h"

/* one launch: one or more independent segments (horizontal fusion) */
typedef struct {
    int nseg;
    kir *seg;
} fkernel;

typedef struct {
    const ir_graph *g; /* the lowered graph (not owned) */
    int nsteps, nkernels;
    exec_step *steps;
    fkernel *kernels;
    int *root; /* root[v]: value whose storage v uses (v itself, or a view's source); -1 if v is
                  never materialized (lives only inside a kernel) */
} fused_plan;

int fuse(const ir_graph *g, fused_plan *fp, char *err);
void fused_plan_free(fused_plan *fp);

/* Merges runs of adjacent independent elementwise kernels (e.g. the optimizer update of every
 * parameter) into one launch each: horizontal fusion. Returns launches saved. */
int fuse_horizontal(fused_plan *fp);

#endif
