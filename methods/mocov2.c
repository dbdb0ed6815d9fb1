/* MoCo v2 (Chen et al. 2020) as PySSL's MoCoV2: MoCo with an MLP projector
 * Linear(f, f)-ReLU-Linear(f, projection_dim) (projector.layer1), same queue, EMA and loss. */
#include "moco.h"

/* projector.layer1 = Sequential(Linear(f, f), ReLU, Linear(f, projection_dim)) */
static int mocov2_projector(method_ctx *ctx, const char *name, int h) {
    ir_graph *g = ctx->g;
    int64_t f = backbone_feat_dim(&ctx->backbone), p = mopt_int(ctx, "projection_dim");
    ir_scope_push(g, name);
    ir_scope_push(g, "layer1");
    h = ir_relu(g, mb_linear(&ctx->mb, "0", h, f, f, 1));
    h = mb_linear(&ctx->mb, "2", h, f, p, 1);
    ir_scope_pop(g);
    ir_scope_pop(g);
    return h;
}

static int mocov2_build(method_ctx *ctx) { return moco_queue_build(ctx, mocov2_projector); }
static int mocov2_export_projector(method_ctx *ctx, int h) { return mocov2_projector(ctx, "projector", h); }

static const method_opt mocov2_opts[] = {MOCO_QUEUE_OPTS};

const method_def method_mocov2 = {
    .name = "mocov2",
    .summary = "MoCo v2: MoCo with an MLP projector Linear(f,f)-ReLU-Linear(f,projection_dim)",
    .data_parallel = 1,
    .notes = MOCO_QUEUE_NOTES,
    .opts = mocov2_opts,
    .nopts = (int)(sizeof mocov2_opts / sizeof mocov2_opts[0]),
    .validate = moco_queue_validate,
    .build = mocov2_build,
    .projector = mocov2_export_projector,
};
