#include "pipeline.h"

#include <string.h>

#include "lower.h"
#include "schedule.h"

int exec_plan_lower(const ir_graph *g, ir_graph *out, remat_stats *st, char *err) {
    ir_graph lg;
    if (lower_graph(g, &lg, err)) {
        ir_graph_free(&lg);
        ir_graph_init(out);
        return -1;
    }
    int rc = remat_graph(&lg, out, st, err);
    ir_graph_free(&lg);
    return rc;
}

int exec_plan_build(const ir_graph *g, exec_plan *ep, char *err) {
    memset(ep, 0, sizeof *ep);
    if (exec_plan_lower(g, &ep->lowered, &ep->remat, err)) goto fail;
    if (fuse(&ep->lowered, &ep->fp, err)) goto fail;
    ep->merged = fuse_horizontal(&ep->fp);
    schedule_stats ss;
    if (schedule_steps_ex(&ep->lowered, ep->fp.steps, ep->fp.nsteps, ep->fp.root, &ss, err) ||
        memplan_build_ex(&ep->lowered, ep->fp.steps, ep->fp.nsteps, ep->fp.root, &ep->mp, err) ||
        memplan_check_ex(&ep->lowered, ep->fp.steps, ep->fp.nsteps, ep->fp.root, &ep->mp, err))
        goto fail;
    for (int s = 0; s < ep->fp.nsteps; s++) ep->fp.steps[s].kind == STEP_KERNEL ? ep->nkernels++ : ep->nlibrary++;
    return 0;
fail:
    exec_plan_free(ep);
    return -1;
}

void exec_plan_free(exec_plan *ep) {
    memplan_free(&ep->mp);
    fused_plan_free(&ep->fp);
    ir_graph_free(&ep->lowered);
    memset(ep, 0, sizeof *ep);
}
