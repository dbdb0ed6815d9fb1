/* SimSiam (Chen & He 2021) as PySSL: shared encoder backbone + projector of three
 * Linear-BatchNorm1d layers (ReLU after the first two), predictor Linear-BatchNorm1d-ReLU-Linear,
 * loss −½cos(p1, sg z2) − ½cos(p2, sg z1). */
#include <stdio.h>

#include "heads.h"
#include "method.h"

static const method_opt simsiam_opts[] = {
    {"projection_dim", MO_INT, 2048, "output size of the projector and predictor"},
    {"hidden_dim_proj", MO_INT, 2048, "hidden size of the projector"},
    {"hidden_dim_pred", MO_INT, 512, "hidden size of the predictor (bottleneck)"},
};

static int simsiam_validate(const method_ctx *ctx, char *err) {
    return mopt_check_dim(ctx, "projection_dim", err) || mopt_check_dim(ctx, "hidden_dim_proj", err) ||
                   mopt_check_dim(ctx, "hidden_dim_pred", err)
               ? -1
               : 0;
}

/* projector.layer{1,2} = Sequential(Linear, BatchNorm1d, ReLU), projector.layer3 =
 * Sequential(Linear, BatchNorm1d(projection_dim)) */
static int simsiam_projector(method_ctx *ctx, int h) {
    return head_linear_bn_stack(&ctx->mb, "projector", h, backbone_feat_dim(&ctx->backbone),
                                mopt_int(ctx, "hidden_dim_proj"), mopt_int(ctx, "projection_dim"), 3, 1, 1);
}

static int simsiam_encoder(method_ctx *ctx, int x) {
    ir_graph *g = ctx->g;
    ir_scope_push(g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    return simsiam_projector(ctx, h);
}

static int simsiam_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    int64_t p = mopt_int(ctx, "projection_dim"), hp = mopt_int(ctx, "hidden_dim_pred");
    int z1 = simsiam_encoder(ctx, ctx->views[0]);
    int z2 = simsiam_encoder(ctx, ctx->views[1]);
    /* predictor.layer1 = Sequential(Linear, BatchNorm1d, ReLU), predictor.layer2 = Linear */
    int p1 = head_linear_bn_relu_linear(&ctx->mb, "predictor", z1, p, hp, p, "layer2");
    int p2 = head_linear_bn_relu_linear(&ctx->mb, "predictor", z2, p, hp, p, "layer2");
    return ir_add(g, ir_mul_scalar(g, negative_cosine_loss(g, p1, z2), 0.5),
                  ir_mul_scalar(g, negative_cosine_loss(g, p2, z1), 0.5));
}

const method_def method_simsiam = {
    .name = "simsiam",
    .summary = "SimSiam: predictor regresses the stop-gradient projection of the other view (no negatives, no EMA)",
    .data_parallel = 1,
    .notes = "the last projector BatchNorm has projection_dim features (PySSL gives it hidden_dim_proj, which "
             "fails unless the two are equal)",
    .opts = simsiam_opts,
    .nopts = (int)(sizeof simsiam_opts / sizeof simsiam_opts[0]),
    .validate = simsiam_validate,
    .build = simsiam_build,
    .projector = simsiam_projector,
};
