/* The back half of the compiler in one call: lower -> fuse (+ horizontal fusion) -> schedule ->
 * memory plan (checked). Used by the cpu backend and by `sslc inspect`. */
#ifndef SSLC_PIPELINE_H
#define SSLC_PIPELINE_H
#include "fusion.h"
#include "memplan.h"

typedef struct {
    ir_graph lowered; /* the graph the steps run over */
    fused_plan fp;
    memplan mp;
    int merged;   /* launches saved by horizontal fusion */
    int nkernels; /* fused-kernel launches */
    int nlibrary; /* library launches */
} exec_plan;

int exec_plan_build(const ir_graph *g, exec_plan *ep, char *err);
void exec_plan_free(exec_plan *ep);

#endif
