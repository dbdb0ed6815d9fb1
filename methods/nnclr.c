/* NNCLR (Dwibedi et al. 2021) as the paper's pseudo-code, with solo-learn's modules and option
 * names: shared encoder backbone + projector Sequential(Linear, BatchNorm1d, ReLU, Linear,
 * BatchNorm1d, ReLU, Linear, BatchNorm1d) -> z, predictor Sequential(Linear, BatchNorm1d, ReLU,
 * Linear) -> p. Each view's normalized z picks its nearest neighbour (cosine similarity: ArgMax
 * over z·queueᵀ, then a Gather of that row) in the support set `queue` [queue_size,
 * proj_output_dim]; the loss is NT-Xent of each neighbour against the other view's predictions,
 * L(nn1, p2)/2 + L(nn2, p1)/2 with L = CE(normalize(nn) normalize(p)ᵀ / temperature, arange).
 * The lookup reads state only, so no gradient flows through it. Then the first view's
 * normalized z replaces the oldest rows of the queue. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "heads.h"
#include "method.h"

static const method_opt nnclr_opts[] = {
    {"proj_hidden_dim", MO_INT, 2048, "hidden size of the projector's first two Linear layers"},
    {"proj_output_dim", MO_INT, 256, "output size of the projector (support set entry size)"},
    {"pred_hidden_dim", MO_INT, 4096, "hidden size of the predictor"},
    {"queue_size", MO_INT, 98304, "support set size; must be divisible by the batch size"},
    {"temperature", MO_FLOAT, 0.1, "NT-Xent temperature"},
};

static int nnclr_validate(const method_ctx *ctx, char *err) {
    if (mopt_check_dim(ctx, "proj_hidden_dim", err) || mopt_check_dim(ctx, "proj_output_dim", err) ||
        mopt_check_dim(ctx, "pred_hidden_dim", err) || mopt_check_positive(ctx, "temperature", err))
        return -1;
    int64_t K = mopt_int(ctx, "queue_size");
    if (K < 1 || K > ((int64_t)1 << 30)) {
        snprintf(err, IR_ERRLEN, "nnclr: queue_size must be in [1, 2^30], got %lld", (long long)K);
        return -1;
    }
    if (K % (ctx->batch * ctx->ranks) != 0) {
        snprintf(err, IR_ERRLEN, "nnclr: queue_size %lld must be divisible by the %sbatch size %lld", (long long)K,
                 ctx->ranks > 1 ? "global " : "", (long long)(ctx->batch * ctx->ranks));
        return -1;
    }
    return 0;
}

/* projector.{0,1,3,4,6,7} */
static int nnclr_projector(method_ctx *ctx, int h) {
    int64_t hid = mopt_int(ctx, "proj_hidden_dim"), out = mopt_int(ctx, "proj_output_dim");
    const head_layer L[3] = {{"0", hid, 1, "1", 1, 1}, {"3", hid, 1, "4", 1, 1}, {"6", out, 1, "7", 1, 0}};
    return head_mlp(&ctx->mb, "projector", h, backbone_feat_dim(&ctx->backbone), L, 3);
}

/* predictor.{0,1,3} */
static int nnclr_predictor(method_ctx *ctx, int z) {
    int64_t hid = mopt_int(ctx, "pred_hidden_dim"), out = mopt_int(ctx, "proj_output_dim");
    const head_layer L[2] = {{"0", hid, 1, "1", 1, 1}, {"3", out, 1, NULL, 0, 0}};
    return head_mlp(&ctx->mb, "predictor", z, out, L, 2);
}

static int nnclr_encoder(method_ctx *ctx, int x) {
    ir_scope_push(ctx->g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(ctx->g);
    return nnclr_projector(ctx, h);
}

/* queue[argmax_k zn·queue_k]: the support-set row most similar to each normalized zn */
static int nearest_neighbour(ir_graph *g, int zn, int queue) {
    int sim = ir_gemm(g, ir_stop_gradient(g, zn), queue, -1, 0, 1, 1.0, 0.0);
    return ir_gather(g, queue, ir_argmax(g, sim, 1, 0));
}

static int nnclr_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    int64_t D = mopt_int(ctx, "proj_output_dim"), K = mopt_int(ctx, "queue_size");
    double t = mopt(ctx, "temperature");
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs);
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs);
    int z1 = nnclr_encoder(ctx, ctx->views[0]);
    int z2 = nnclr_encoder(ctx, ctx->views[1]);
    int p1 = nnclr_predictor(ctx, z1);
    int p2 = nnclr_predictor(ctx, z2);
    /* over ranks: every rank gathers all ranks' projections and predictions (AllGather, whose
     * gradient sums the ranks' gradients of its own rows), looks up the global batch's
     * neighbours, computes its NT-Xent with negatives from every rank as SimCLR's, and feeds the
     * support set with every rank's z1 in rank order, so the queues stay identical */
    if (ctx->ranks > 1) {
        int R = ctx->ranks;
        z1 = ir_all_gather(g, z1, R), z2 = ir_all_gather(g, z2, R);
        p1 = ir_all_gather(g, p1, R), p2 = ir_all_gather(g, p2, R);
    }
    /* queue: torch.randn(queue_size, proj_output_dim) normalized along dim 1, as solo-learn */
    int queue = mb_state(mb, "queue", DT_F32, IR_SHAPE(K, D), ir_init_normal_l2_rows(0, 1));
    int ptr = mb_state(mb, "queue_ptr", DT_I64, IR_SHAPE(1), ir_init_const(0));
    int q = mb_cur(mb, queue);
    int z1n = l2_normalize(g, z1), z2n = l2_normalize(g, z2);
    int nn1 = nearest_neighbour(g, z1n, q), nn2 = nearest_neighbour(g, z2n, q);
    int loss = ir_mul_scalar(g, ir_add(g, nnclr_loss(g, nn1, p2, t), nnclr_loss(g, nn2, p1, t)), 0.5);
    /* dequeue_and_enqueue(z1): queue[ptr:ptr+N] = normalize(z1); ptr = (ptr + N) % K */
    int new_ptr = -1;
    int new_queue = ir_queue_write(g, q, ir_stop_gradient(g, z1n), mb_cur(mb, ptr), 0, &new_ptr);
    mb_advance(mb, queue, new_queue);
    mb_advance(mb, ptr, new_ptr);
    return loss;
}

const method_def method_nnclr = {
    .name = "nnclr",
    .summary = "NNCLR: NT-Xent of each view's nearest neighbour in a support set of past projections against "
               "the other view's predictions",
    .notes = "solo-learn's queue_y buffer (labels of the support set, for its nearest-neighbour accuracy "
             "metric) is left out: sslc trains without labels; data-parallel: every rank gathers all ranks' projections and "
             "predictions (AllGather): the support set takes every rank's projections in rank order and the "
             "NT-Xent negatives span the global batch, as one device over it (solo-learn gathers z for its queue "
             "and p for its negatives and computes only its own rows: the same mean); queue_size must divide "
             "by the global batch",
    .data_parallel = 1,
    .opts = nnclr_opts,
    .nopts = (int)(sizeof nnclr_opts / sizeof nnclr_opts[0]),
    .validate = nnclr_validate,
    .build = nnclr_build,
    .projector = nnclr_projector,
};
