/* SimCLR (Chen et al. 2020) as PySSL: shared encoder backbone + projector
 * Linear(f,f)-ReLU-Linear(f,projection_dim), NT-Xent at `temperature`. */
#include <stdio.h>

#include "heads.h"
#include "method.h"

static const method_opt simclr_opts[] = {
    {"projection_dim", MO_INT, 128, "output size of the projector"},
    {"temperature", MO_FLOAT, 0.5, "NT-Xent temperature"},
};

static int simclr_validate(const method_ctx *ctx, char *err) {
    if (mopt(ctx, "temperature") <= 0) {
        snprintf(err, IR_ERRLEN, "temperature must be > 0, got %g", mopt(ctx, "temperature"));
        return -1;
    }
    if (mopt_int(ctx, "projection_dim") < 1) {
        snprintf(err, IR_ERRLEN, "projection_dim must be >= 1, got %lld", (long long)mopt_int(ctx, "projection_dim"));
        return -1;
    }
    return 0;
}

/* projector.layer1 = Sequential(Linear(f,f), ReLU, Linear(f,p)) */
static int simclr_projector(method_ctx *ctx, int h) {
    int64_t f = backbone_feat_dim(&ctx->backbone), p = mopt_int(ctx, "projection_dim");
    return head_linear_relu_linear(&ctx->mb, "projector", h, f, f, p);
}

static int simclr_encoder(method_ctx *ctx, int x) {
    ir_scope_push(ctx->g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(ctx->g);
    return simclr_projector(ctx, h);
}

int simclr_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    /* each view through the encoder separately: BatchNorm statistics are per view */
    int z1 = simclr_encoder(ctx, ctx->views[0]);
    int z2 = simclr_encoder(ctx, ctx->views[1]);
    /* negatives from every rank: each rank computes the global batch's loss from the gathered
     * projections (AllGather's gradient sums the ranks' gradients of its own rows) */
    if (ctx->ranks > 1) z1 = ir_all_gather(g, z1, ctx->ranks), z2 = ir_all_gather(g, z2, ctx->ranks);
    return nt_xent_loss(g, z1, z2, mopt(ctx, "temperature"));
}

const method_def method_simclr = {
    .name = "simclr",
    .summary = "SimCLR: contrastive NT-Xent between two views through one encoder and projector",
    .notes = "data-parallel: negatives over the global batch; every rank gathers all ranks' projections (AllGather) and computes the whole batch's NT-Xent, as one device over the global batch (the reference implementation computes only its own rows against all)",
    .data_parallel = 1,
    .opts = simclr_opts,
    .nopts = (int)(sizeof simclr_opts / sizeof simclr_opts[0]),
    .validate = simclr_validate,
    .build = simclr_build,
    .projector = simclr_projector,
};
