/* The back half of the compiler in one call: lower -> rematerialize -> fuse (+ horizontal
 * fusion) -> schedule -> memory plan (checked). Used by the cpu backend and by `sslc inspect`. */
#ifndef SSLC_PIPELINE_H
#define SSLC_PIPELINE_H
#include "fusion.h"
#include "memplan.h"
#include "remat.h"

typedef struct {
    ir_graph lowered; /* the graph the steps run over */
    fused_plan fp;
    memplan mp;
    remat_stats remat;
    int merged;   /* launches saved by horizontal fusion */
    int nkernels; /* fused-kernel launches */
    int nlibrary; /* library launches */
} exec_plan;

int exec_plan_build(const ir_graph *g, exec_plan *ep, char *err);
/* the first two stages alone: the graph the steps run over */
int exec_plan_lower(const ir_graph *g, ir_graph *out, remat_stats *st, char *err);
void exec_plan_free(exec_plan *ep);

#endif
