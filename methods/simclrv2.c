/* SimCLRv2 (Chen et al. 2020) as PySSL: shared encoder backbone + a deeper projector, three
 * Linear-BatchNorm1d layers with ReLU between (hidden size = the backbone's feature size),
 * NT-Xent at `temperature`. PySSL's eval features are backbone + projector.layer1. */
#include <stdio.h>

#include "heads.h"
#include "method.h"

static const method_opt simclrv2_opts[] = {
    {"projection_dim", MO_INT, 128, "output size of the projector"},
    {"temperature", MO_FLOAT, 0.5, "NT-Xent temperature"},
};

static int simclrv2_validate(const method_ctx *ctx, char *err) {
    return mopt_check_dim(ctx, "projection_dim", err) || mopt_check_positive(ctx, "temperature", err) ? -1 : 0;
}

/* projector.layer{1,2} = Sequential(Linear(f,f), BatchNorm1d(f), ReLU),
 * projector.layer3 = Sequential(Linear(f,p), BatchNorm1d(p)) */
static int simclrv2_projector(method_ctx *ctx, int h) {
    int64_t f = backbone_feat_dim(&ctx->backbone);
    return head_linear_bn_stack(&ctx->mb, "projector", h, f, f, mopt_int(ctx, "projection_dim"), 3, 1, 1);
}

static int simclrv2_encoder(method_ctx *ctx, int x) {
    ir_graph *g = ctx->g;
    ir_scope_push(g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    return simclrv2_projector(ctx, h);
}

static int simclrv2_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    int z1 = simclrv2_encoder(ctx, ctx->views[0]);
    int z2 = simclrv2_encoder(ctx, ctx->views[1]);
    /* negatives from every rank: each rank computes the global batch's loss from the gathered
     * projections (AllGather's gradient sums the ranks' gradients of its own rows) */
    if (ctx->ranks > 1) z1 = ir_all_gather(g, z1, ctx->ranks), z2 = ir_all_gather(g, z2, ctx->ranks);
    return nt_xent_loss(g, z1, z2, mopt(ctx, "temperature"));
}

const method_def method_simclrv2 = {
    .name = "simclrv2",
    .summary = "SimCLRv2: SimCLR with a three-layer Linear+BatchNorm projector",
    .notes = "data-parallel: negatives over the global batch; every rank gathers all ranks' projections (AllGather) and computes the whole batch's NT-Xent, as one device over the global batch (the reference implementation computes only its own rows against all)",
    .data_parallel = 1,
    .opts = simclrv2_opts,
    .nopts = (int)(sizeof simclrv2_opts / sizeof simclrv2_opts[0]),
    .validate = simclrv2_validate,
    .build = simclrv2_build,
    .projector = simclrv2_projector,
};
