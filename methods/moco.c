/* MoCo (He et al. 2019) as PySSL's MoCo: query encoder = backbone + Linear(f, projection_dim),
 * key encoder encoder_k = its EMA copy (momentum m), InfoNCE at `temperature` of each query
 * against its key (positive) and the K keys of the queue (negatives), then the batch's keys
 * replace the oldest queue entries. The queue and key code is shared with MoCo v2. */
#include <stdio.h>

#include "moco.h"

int moco_check_common(const method_ctx *ctx, char *err) {
    double t = mopt(ctx, "temperature"), m = mopt(ctx, "m");
    if (!(t > 0)) {
        snprintf(err, IR_ERRLEN, "temperature must be > 0, got %g", t);
        return -1;
    }
    if (!(m >= 0 && m <= 1)) {
        snprintf(err, IR_ERRLEN, "m (EMA momentum) must be in [0, 1], got %g", m);
        return -1;
    }
    if (mopt_int(ctx, "projection_dim") < 1) {
        snprintf(err, IR_ERRLEN, "projection_dim must be >= 1, got %lld", (long long)mopt_int(ctx, "projection_dim"));
        return -1;
    }
    return 0;
}

int moco_queue_validate(const method_ctx *ctx, char *err) {
    if (moco_check_common(ctx, err)) return -1;
    int64_t K = mopt_int(ctx, "K");
    if (K < 1 || K > ((int64_t)1 << 30)) {
        snprintf(err, IR_ERRLEN, "K (queue length) must be in [1, 2^30], got %lld", (long long)K);
        return -1;
    }
    int64_t splits = mopt_int(ctx, "bn_splits");
    if (splits < 1 || splits > 64 || ctx->batch % splits != 0) {
        snprintf(err, IR_ERRLEN, "bn_splits must be in [1, 64] and divide the batch %lld, got %lld",
                 (long long)ctx->batch, (long long)splits);
        return -1;
    }
    if (ctx->sync_bn && (splits > 1 || mopt(ctx, "shuffle_bn") != 0)) {
        snprintf(err, IR_ERRLEN, "%s with --sync-bn: BatchNorm over the global batch leaves nothing to %s; drop one",
                 splits > 1 ? "bn_splits" : "shuffle_bn=1", splits > 1 ? "split" : "shuffle");
        return -1;
    }
    if (K % (ctx->batch * ctx->ranks) != 0) {
        snprintf(err, IR_ERRLEN, "K (queue length) %lld must be divisible by the %sbatch size %lld", (long long)K,
                 ctx->ranks > 1 ? "global " : "", (long long)(ctx->batch * ctx->ranks));
        return -1;
    }
    return 0;
}

/* backbone (scope `bname`) then projector (`pname`) in the current scope */
static int encoder(method_ctx *ctx, const char *bname, const char *pname, int x, moco_projector_fn projector) {
    ir_graph *g = ctx->g;
    ir_scope_push(g, bname);
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    return projector(ctx, pname, h);
}

int moco_key_encoder(method_ctx *ctx, int x, int m, moco_projector_fn projector) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    /* encoder_k = Sequential(backbone, projector): each part mirrors its online module */
    ir_scope_push(g, "encoder_k");
    mb_ema_begin(mb, "encoder_k.0", "backbone", m);
    ir_scope_push(g, "0");
    int h = backbone_build(mb, &ctx->backbone, x);
    ir_scope_pop(g);
    mb_ema_end(mb);
    mb_ema_begin(mb, "encoder_k.1", "projector", m);
    int k = projector(ctx, "1", h);
    mb_ema_end(mb);
    ir_scope_pop(g);
    return ir_stop_gradient(g, k);
}

/* Shuffle-BN, the reference's _batch_shuffle_ddp / _batch_unshuffle_ddp: every rank's x
 * gathered (rank order) and the rows of row `which` of aug.batchperm.key taken (runtime/augment.h:
 * 0, this rank's block of P, the step's permutation of the global batch, so each rank's key
 * encoder normalizes a random block of it; 1, the same block of P⁻¹, which brings this rank's
 * own samples' keys back in its order). */
static int permuted_rows(method_ctx *ctx, int x, int perm, int which) {
    ir_graph *g = ctx->g;
    int rows = ir_reshape(g, ir_slice(g, perm, 0, which, which + 1), IR_SHAPE(ctx->batch));
    return ir_gather(g, ctx->ranks > 1 ? ir_all_gather(g, x, ctx->ranks) : x, rows);
}

int moco_queue_build(method_ctx *ctx, moco_projector_fn projector) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    int64_t p = mopt_int(ctx, "projection_dim"), K = mopt_int(ctx, "K");
    double temperature = mopt(ctx, "temperature");
    ir_shape vs = IR_SHAPE(ctx->batch, ctx->backbone.channels, ctx->backbone.image_size, ctx->backbone.image_size);
    ctx->nviews = 2;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, vs); /* query view */
    ctx->views[1] = ir_input(g, "views.1", DT_F32, vs); /* key view */
    ctx->mb.bn_splits = (int)mopt_int(ctx, "bn_splits");
    int q = l2_normalize(g, encoder(ctx, "backbone", "projector", ctx->views[0], projector));
    /* the EMA happens before the key forward, on the parameters the query forward used */
    int m = method_sched_input(ctx, "m", mopt(ctx, "m"));
    int shuffle = mopt(ctx, "shuffle_bn") != 0;
    int perm = shuffle ? ir_input(g, "aug.batchperm.key", DT_I64, IR_SHAPE(2, ctx->batch)) : -1;
    int xk = shuffle ? permuted_rows(ctx, ctx->views[1], perm, 0) : ctx->views[1];
    int k = l2_normalize(g, moco_key_encoder(ctx, xk, m, projector));
    if (shuffle) k = permuted_rows(ctx, k, perm, 1);
    /* queue [projection_dim, K]: torch.randn normalized along dim 0, as PySSL */
    int queue = mb_state(mb, "queue", DT_F32, IR_SHAPE(p, K), ir_init_normal_l2(0, 1));
    int ptr = mb_state(mb, "queue_ptr", DT_I64, IR_SHAPE(1), ir_init_const(0));
    int loss = infonce_queue_loss(g, q, k, mb_cur(mb, queue), temperature);
    /* _dequeue_and_enqueue: queue[:, ptr:ptr+N] = k^T; ptr = (ptr + N) % K */
    /* over several ranks the queue takes every rank's keys, in rank order (the reference's
     * concat_all_gather), so every rank's queue is the one-device queue of the global batch */
    int keys = ctx->ranks > 1 ? ir_all_gather(g, ir_stop_gradient(g, k), ctx->ranks) : k;
    int new_ptr = -1;
    int new_queue = ir_queue_write(g, mb_cur(mb, queue), keys, mb_cur(mb, ptr), 1, &new_ptr);
    mb_advance(mb, queue, new_queue);
    mb_advance(mb, ptr, new_ptr);
    return loss;
}

/* PySSL MoCo v1: projector = nn.Linear(feature_size, projection_dim) */
static int moco_projector(method_ctx *ctx, const char *name, int h) {
    int64_t f = backbone_feat_dim(&ctx->backbone), p = mopt_int(ctx, "projection_dim");
    return mb_linear(&ctx->mb, name, h, f, p, 1);
}

static int moco_build(method_ctx *ctx) { return moco_queue_build(ctx, moco_projector); }
static int moco_export_projector(method_ctx *ctx, int h) { return moco_projector(ctx, "projector", h); }

static const method_opt moco_opts[] = {MOCO_QUEUE_OPTS};

const method_def method_moco = {
    .name = "moco",
    .summary = "MoCo: InfoNCE of queries against EMA-encoder keys and a queue of K past keys; Linear projector",
    .data_parallel = 1,
    .notes = MOCO_QUEUE_NOTES,
    .opts = moco_opts,
    .nopts = (int)(sizeof moco_opts / sizeof moco_opts[0]),
    .validate = moco_queue_validate,
    .build = moco_build,
    .projector = moco_export_projector,
};
