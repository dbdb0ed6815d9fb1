/* SupCon (Khosla et al. 2020) as PySSL: shared encoder backbone + projector
 * Linear(f,f)-ReLU-Linear(f,projection_dim), PySSL's sup_con_loss (contrast mode 'all',
 * base temperature 0.07) over both views with the batch's class labels, graph input `labels`
 * (i64 [batch]).
 *
 * Departure: the projections are L2-normalized before the loss, as in the reference
 * implementation (SupContrast's SupConResNet); PySSL feeds raw projector outputs, whose dot
 * products at τ = 0.07 grow without bound as the loss pushes the norms up.
 * normalize=false reproduces PySSL exactly. */
#include <stdio.h>

#include "heads.h"
#include "method.h"

#define SUPCON_BASE_TEMPERATURE 0.07 /* sup_con_loss's base_temperature: PySSL never changes it */

static const method_opt supcon_opts[] = {
    {"projection_dim", MO_INT, 128, "output size of the projector"},
    {"temperature", MO_FLOAT, 0.07, "contrast temperature (the loss is scaled by temperature/0.07)"},
    {"normalize", MO_BOOL, 1, "L2-normalize projections before the loss (reference; PySSL: false)"},
};

static int supcon_validate(const method_ctx *ctx, char *err) {
    return mopt_check_dim(ctx, "projection_dim", err) || mopt_check_positive(ctx, "temperature", err) ? -1 : 0;
}

/* the projector's output (before the optional normalization) */
static int supcon_projector(method_ctx *ctx, int h) {
    int64_t f = backbone_feat_dim(&ctx->backbone);
    return head_linear_relu_linear(&ctx->mb, "projector", h, f, f, mopt_int(ctx, "projection_dim"));
}

static int supcon_encoder(method_ctx *ctx, int x) {
    ir_graph *g = ctx->g;
    ir_scope_push(g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    int z = supcon_projector(ctx, h);
    return mopt(ctx, "normalize") != 0 ? l2_normalize(g, z) : z;
}

static int supcon_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    int labels = ir_input(g, "labels", DT_I64, IR_SHAPE(ctx->batch));
    int z1 = supcon_encoder(ctx, ctx->views[0]);
    int z2 = supcon_encoder(ctx, ctx->views[1]);
    if (ctx->ranks > 1) { /* the global batch's features and labels (exact as float32 below 2^24) */
        int R = ctx->ranks;
        z1 = ir_all_gather(g, z1, R), z2 = ir_all_gather(g, z2, R);
        labels = ir_cast(g, ir_all_gather(g, ir_cast(g, labels, DT_F32), R), DT_I64);
    }
    return supcon_loss(g, z1, z2, labels, mopt(ctx, "temperature"), SUPCON_BASE_TEMPERATURE);
}

const method_def method_supcon = {
    .name = "supcon",
    .summary = "SupCon: supervised contrastive loss over two views, positives = same class label (needs labels)",
    .notes = "projections are L2-normalized before the loss as in the reference SupContrast (PySSL feeds raw "
             "projections, whose logits grow without bound at temperature 0.07); normalize=false gives PySSL's; "
             "data-parallel: features and labels of every rank (AllGather), as the reference's all-gather; every "
             "rank computes the global batch's loss",
    .data_parallel = 1,
    .opts = supcon_opts,
    .nopts = (int)(sizeof supcon_opts / sizeof supcon_opts[0]),
    .validate = supcon_validate,
    .build = supcon_build,
    .projector = supcon_projector,
};
