/* BYOL (Grill et al. 2020) as PySSL: online encoder (backbone + projector MLP) and
 * online_predictor MLP, both Linear-BatchNorm1d-ReLU-Linear with hidden_dim; a target encoder
 * that is an exponential moving average of the online encoder's parameters; loss
 * ½(2 − 2cos(p1, sg z2_t)) + ½(2 − 2cos(p2, sg z1_t)).
 *
 * Step semantics (PySSL's forward): the EMA t ← τ·t + (1 − τ)·online is taken once per step,
 * from the parameters the step starts with, before the target's forward passes; only
 * parameters are averaged: the target's BatchNorm buffers follow its own forward passes
 * (batch statistics of x1, then x2). τ is the per-step graph input sched.tau.
 *
 * Names: PySSL's state_dict without its aliases online_encoder.* and encoder.* (the same
 * tensors as backbone.* / projector.*): backbone.*, projector.*, online_predictor.*,
 * target_encoder.0.* (target backbone), target_encoder.1.* (target projector). */
#include <stdio.h>

#include "heads.h"
#include "method.h"

static const method_opt byol_opts[] = {
    {"projection_dim", MO_INT, 256, "output size of the projector and predictor"},
    {"hidden_dim", MO_INT, 4096, "hidden size of the projector and predictor"},
    {"tau", MO_FLOAT, 0.996, "EMA momentum of the target encoder (base value with cosine_tau)"},
    {"cosine_tau", MO_BOOL, 0,
     "BYOL paper schedule: tau_k = 1 - (1 - tau)(cos(pi k/K) + 1)/2 over K steps (host-side; PySSL: constant)"},
};

static int byol_validate(const method_ctx *ctx, char *err) {
    return mopt_check_dim(ctx, "projection_dim", err) || mopt_check_dim(ctx, "hidden_dim", err) ||
                   mopt_check_range(ctx, "tau", 0, 1, err)
               ? -1
               : 0;
}

static int byol_projection(method_ctx *ctx, const char *proj, int h) {
    return head_linear_bn_relu_linear(&ctx->mb, proj, h, backbone_feat_dim(&ctx->backbone), mopt_int(ctx, "hidden_dim"),
                                      mopt_int(ctx, "projection_dim"), "layer2.0");
}
/* the online projector (for export) */
static int byol_projector(method_ctx *ctx, int h) { return byol_projection(ctx, "projector", h); }

/* backbone under `bb`, projector MLP under `proj` */
static int byol_encoder(method_ctx *ctx, const char *bb, const char *proj, int x) {
    ir_graph *g = ctx->g;
    head_scope_enter(g, bb);
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    head_scope_leave(g, bb);
    return byol_projection(ctx, proj, h);
}

/* the target encoder: EMA copies of backbone.* and projector.* */
static int byol_target(method_ctx *ctx, int m, int x) {
    mbuild *mb = &ctx->mb;
    ir_graph *g = ctx->g;
    int64_t f = backbone_feat_dim(&ctx->backbone);
    mb_ema_begin(mb, "target_encoder.0", "backbone", m);
    head_scope_enter(g, "target_encoder.0");
    int h = backbone_build(mb, &ctx->backbone, x);
    head_scope_leave(g, "target_encoder.0");
    mb_ema_begin(mb, "target_encoder.1", "projector", m);
    int z = head_linear_bn_relu_linear(mb, "target_encoder.1", h, f, mopt_int(ctx, "hidden_dim"),
                                       mopt_int(ctx, "projection_dim"), "layer2.0");
    mb_ema_end(mb);
    return z;
}

static int byol_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    int64_t p = mopt_int(ctx, "projection_dim"), hid = mopt_int(ctx, "hidden_dim");
    /* online: z1, z2, then the predictor on each */
    int z1 = byol_encoder(ctx, "backbone", "projector", ctx->views[0]);
    int z2 = byol_encoder(ctx, "backbone", "projector", ctx->views[1]);
    int p1 = head_linear_bn_relu_linear(&ctx->mb, "online_predictor", z1, p, hid, p, "layer2.0");
    int p2 = head_linear_bn_relu_linear(&ctx->mb, "online_predictor", z2, p, hid, p, "layer2.0");
    /* target (no gradient: its tensors are state) */
    int m = method_sched_input(ctx, "tau", mopt(ctx, "tau"));
    int z1t = byol_target(ctx, m, ctx->views[0]);
    int z2t = byol_target(ctx, m, ctx->views[1]);
    return ir_add(g, ir_mul_scalar(g, byol_regression_loss(g, p1, z2t), 0.5),
                  ir_mul_scalar(g, byol_regression_loss(g, p2, z1t), 0.5));
}

const method_def method_byol = {
    .name = "byol",
    .summary = "BYOL: online predictor regresses an EMA target encoder's projection of the other view",
    .data_parallel = 1,
    .notes = "state_dict names as PySSL's without the aliases online_encoder.* and encoder.* (= backbone.*, "
             "projector.*); cosine_tau is recorded in the plan for the host's schedule (sched.tau)",
    .opts = byol_opts,
    .nopts = (int)(sizeof byol_opts / sizeof byol_opts[0]),
    .validate = byol_validate,
    .build = byol_build,
    .projector = byol_projector,
};
