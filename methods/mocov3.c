/* MoCo v3 (Chen, Xie, He 2021) as PySSL's MoCoV3: query encoder = backbone + projector
 * (3 x Linear+BatchNorm1d, ReLU between), predictor Linear-BN-ReLU-Linear, key encoder
 * encoder_k = EMA copy of backbone + projector; symmetric in-batch InfoNCE
 * InfoNCE(q1, k2) + InfoNCE(q2, k1). No queue. */
#include <stdio.h>

#include "moco.h"

static const method_opt mocov3_opts[] = {
    {"projection_dim", MO_INT, 256, "output size of the projector and predictor"},
    {"hidden_dim", MO_INT, 2048, "hidden size of the projector and predictor MLPs"},
    {"temperature", MO_FLOAT, 0.5, "InfoNCE temperature"},
    {"m", MO_FLOAT, 0.999, "key encoder EMA momentum (per-step input sched.m)"},
    {"scale_loss", MO_BOOL, 0,
     "multiply each InfoNCE term by 2*temperature, as the reference implementation (facebookresearch/moco-v3)"},
};

static int mocov3_validate(const method_ctx *ctx, char *err) {
    if (moco_check_common(ctx, err)) return -1;
    if (mopt_int(ctx, "hidden_dim") < 1) {
        snprintf(err, IR_ERRLEN, "hidden_dim must be >= 1, got %lld", (long long)mopt_int(ctx, "hidden_dim"));
        return -1;
    }
    return 0;
}

static int mocov3_proj(method_ctx *ctx, const char *name, int h) {
    return mocov3_projector(&ctx->mb, name, h, backbone_feat_dim(&ctx->backbone), mopt_int(ctx, "hidden_dim"),
                            mopt_int(ctx, "projection_dim"));
}

/* predictor(projector(backbone(x))) */
static int query(method_ctx *ctx, int x) {
    ir_graph *g = ctx->g;
    int64_t p = mopt_int(ctx, "projection_dim"), hd = mopt_int(ctx, "hidden_dim");
    ir_scope_push(g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    h = mocov3_proj(ctx, "projector", h);
    return mocov3_predictor(&ctx->mb, "predictor", h, p, hd, p);
}

/* the query encoder's projector (the predictor is a training-only head) */
static int mocov3_export_projector(method_ctx *ctx, int h) { return mocov3_proj(ctx, "projector", h); }

static int mocov3_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    double t = mopt(ctx, "temperature");
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    /* in PySSL's order: both queries (BatchNorm statistics per view), then both keys */
    int q1 = query(ctx, ctx->views[0]);
    int q2 = query(ctx, ctx->views[1]);
    int m = method_sched_input(ctx, "m", mopt(ctx, "m"));
    int k1 = moco_key_encoder(ctx, ctx->views[0], m, mocov3_proj);
    int k2 = moco_key_encoder(ctx, ctx->views[1], m, mocov3_proj);
    if (ctx->ranks > 1) { /* keys (and queries) of the global batch: every rank computes its loss */
        int R = ctx->ranks;
        q1 = ir_all_gather(g, q1, R), q2 = ir_all_gather(g, q2, R);
        k1 = ir_all_gather(g, ir_stop_gradient(g, k1), R), k2 = ir_all_gather(g, ir_stop_gradient(g, k2), R);
    }
    int l1 = infonce_inbatch_loss(g, q1, k2, t), l2 = infonce_inbatch_loss(g, q2, k1, t);
    if (mopt(ctx, "scale_loss") != 0) {
        l1 = ir_mul_scalar(g, l1, 2 * t);
        l2 = ir_mul_scalar(g, l2, 2 * t);
    }
    return ir_add(g, l1, l2);
}

const method_def method_mocov3 = {
    .name = "mocov3",
    .summary = "MoCo v3: symmetric in-batch InfoNCE between predictor outputs and EMA-encoder keys",
    .notes = "the loss is PySSL's InfoNCE(q1,k2)+InfoNCE(q2,k1); the reference implementation scales each term "
             "by 2*temperature (scale_loss=true); data-parallel: keys from every rank (AllGather), as the reference's "
             "concat_all_gather; every rank computes the global batch's loss from the gathered queries and keys",
    .data_parallel = 1,
    .opts = mocov3_opts,
    .nopts = (int)(sizeof mocov3_opts / sizeof mocov3_opts[0]),
    .validate = mocov3_validate,
    .build = mocov3_build,
    .projector = mocov3_export_projector,
};
