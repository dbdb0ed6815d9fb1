/* Barlow Twins (Zbontar et al. 2021) as PySSL: shared encoder backbone + projector of three
 * bias-free Linear layers (BatchNorm1d + ReLU between, hidden_dim wide), then the
 * cross-correlation of BatchNorm1d(affine=False)-normalized projections ("bn", whose running
 * statistics are state updated once per view) against the identity. */
#include <math.h>
#include <stdio.h>

#include "heads.h"
#include "method.h"

static const method_opt bt_opts[] = {
    {"projection_dim", MO_INT, 8192, "output size of the projector"},
    {"hidden_dim", MO_INT, 8192, "hidden size of the projector"},
    {"lamda", MO_FLOAT, 0.005, "weight of the off-diagonal (redundancy reduction) term"},
};

static int bt_validate(const method_ctx *ctx, char *err) {
    return mopt_check_dim(ctx, "projection_dim", err) || mopt_check_dim(ctx, "hidden_dim", err) ||
                   mopt_check_range(ctx, "lamda", 0, HUGE_VAL, err)
               ? -1
               : 0;
}

/* projector.layer{1,2} = Sequential(Linear(bias=False), BatchNorm1d, ReLU),
 * projector.layer3 = Sequential(Linear(bias=False)) */
static int bt_projector(method_ctx *ctx, int h) {
    return head_linear_bn_stack(&ctx->mb, "projector", h, backbone_feat_dim(&ctx->backbone), mopt_int(ctx, "hidden_dim"),
                                mopt_int(ctx, "projection_dim"), 3, 0, 0);
}

static int bt_encoder(method_ctx *ctx, int x) {
    ir_graph *g = ctx->g;
    ir_scope_push(g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    return bt_projector(ctx, h);
}

static int bt_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    int64_t p = mopt_int(ctx, "projection_dim");
    int z1 = bt_encoder(ctx, ctx->views[0]);
    int z2 = bt_encoder(ctx, ctx->views[1]);
    int z1n = mb_batchnorm(&ctx->mb, "bn", z1, p, 0);
    int z2n = mb_batchnorm(&ctx->mb, "bn", z2, p, 0);
    return barlow_twins_loss(g, z1n, z2n, mopt(ctx, "lamda"), ctx->ranks);
}

const method_def method_barlow_twins = {
    .name = "barlow_twins",
    .summary = "Barlow Twins: cross-correlation of the two views' batch-normalized projections pushed to identity",
    .notes = "data-parallel: the cross-correlation is summed over ranks in the graph (AllReduce with its gradient), as the reference implementation; with --sync-bn z is batch-normalized over the global batch",
    .data_parallel = 1,
    .opts = bt_opts,
    .nopts = (int)(sizeof bt_opts / sizeof bt_opts[0]),
    .validate = bt_validate,
    .build = bt_build,
    .projector = bt_projector,
};
