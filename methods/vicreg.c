/* VICReg (Bardes et al. 2022) as the paper's Algorithm 1 and the reference implementation
 * (facebookresearch/vicreg): shared encoder backbone + expander `projector` =
 * Sequential(Linear, BatchNorm1d, ReLU, Linear, BatchNorm1d, ReLU, Linear(bias=False)), 8192
 * wide by default; loss = sim_coeff · invariance (MSE between the two embeddings) + std_coeff ·
 * variance (hinge of each dimension's std at 1) + cov_coeff · covariance (squared off-diagonal
 * covariances / D). */
#include <math.h>
#include <stdio.h>

#include "heads.h"
#include "method.h"

static const method_opt vicreg_opts[] = {
    {"projection_dim", MO_INT, 8192, "output size of the expander (last Linear)"},
    {"hidden_dim", MO_INT, 8192, "hidden size of the expander's first two Linear layers"},
    {"sim_coeff", MO_FLOAT, 25.0, "weight of the invariance term (MSE between the views' embeddings)"},
    {"std_coeff", MO_FLOAT, 25.0, "weight of the variance term (hinge of each dimension's std at 1)"},
    {"cov_coeff", MO_FLOAT, 1.0, "weight of the covariance term (squared off-diagonal covariances / D)"},
};

static int vicreg_validate(const method_ctx *ctx, char *err) {
    return mopt_check_dim(ctx, "projection_dim", err) || mopt_check_dim(ctx, "hidden_dim", err) ||
                   mopt_check_range(ctx, "sim_coeff", 0, HUGE_VAL, err) ||
                   mopt_check_range(ctx, "std_coeff", 0, HUGE_VAL, err) ||
                   mopt_check_range(ctx, "cov_coeff", 0, HUGE_VAL, err)
               ? -1
               : 0;
}

/* the reference's Projector for mlp "hidden-hidden-out": indices 0, 1, 3, 4, 6 of one Sequential */
static int vicreg_projector(method_ctx *ctx, int h) {
    int64_t hid = mopt_int(ctx, "hidden_dim"), out = mopt_int(ctx, "projection_dim");
    const head_layer L[3] = {{"0", hid, 1, "1", 1, 1}, {"3", hid, 1, "4", 1, 1}, {"6", out, 0, NULL, 0, 0}};
    return head_mlp(&ctx->mb, "projector", h, backbone_feat_dim(&ctx->backbone), L, 3);
}

static int vicreg_encoder(method_ctx *ctx, int x) {
    ir_scope_push(ctx->g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(ctx->g);
    return vicreg_projector(ctx, h);
}

static int vicreg_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    /* each view through the encoder separately: BatchNorm statistics are per view */
    int z1 = vicreg_encoder(ctx, ctx->views[0]);
    int z2 = vicreg_encoder(ctx, ctx->views[1]);
    /* over ranks every term is the global batch's, as one device over it: the reference gathers
     * the embeddings (FullGatherLayer, whose backward sums the ranks' gradients of their rows) for
     * the variance and covariance; gathering them for the invariance term too gives the global
     * mean that DDP's gradient averaging gives the reference's local one */
    if (ctx->ranks > 1) z1 = ir_all_gather(g, z1, ctx->ranks), z2 = ir_all_gather(g, z2, ctx->ranks);
    return vicreg_loss(g, z1, z2, mopt(ctx, "sim_coeff"), mopt(ctx, "std_coeff"), mopt(ctx, "cov_coeff"));
}

const method_def method_vicreg = {
    .name = "vicreg",
    .summary = "VICReg: invariance (MSE) between two views' expander outputs, each dimension's std kept above 1 "
               "(variance), off-diagonal covariances pushed to 0 (covariance)",
    .notes = "the variance term as the paper's Algorithm 1 and solo-learn (sum over the two views); the "
             "facebookresearch/vicreg code halves it, which --set std_coeff=12.5 reproduces; data-parallel: "
             "every rank gathers all ranks' embeddings (AllGather) and computes the global batch's loss, as the "
             "reference's FullGatherLayer for the variance and covariance terms",
    .data_parallel = 1,
    .opts = vicreg_opts,
    .nopts = (int)(sizeof vicreg_opts / sizeof vicreg_opts[0]),
    .validate = vicreg_validate,
    .build = vicreg_build,
    .projector = vicreg_projector,
};
