/* SwAV (Caron et al. 2020) with PySSL's modules and option names, and the loss of the reference
 * implementation (facebookresearch/swav main_swav.py) where PySSL departs from it:
 *   encoder = backbone + projector.layer1 = Linear(f,hidden)-BatchNorm1d-ReLU-Linear(hidden,p)
 *             (hidden_dim=0: a single projector.layer1 = Linear(f,p), PySSL's hidden_dim=None);
 *   z_v = l2-normalize(encoder(view v)) for the 2 global views and the num_crops local crops
 *         (each view through the encoder on its own, as PySSL: BatchNorm statistics per view);
 *   prototypes.weight [num_prototypes, p] is L2-normalized at the start of every step; the
 *         normalized weights are what the step uses and what the optimizer updates
 *         (method_param_current);
 *   scores c_v = z_v prototypes^T, NOT detached (PySSL detaches z, so no gradient reaches the
 *         encoder);
 *   for each global view i: q_i = Sinkhorn(detached scores of view i, preceded by the scores
 *         of queue i when the queue is in use), the rows of the current batch (the last B rows,
 *         as the reference; PySSL takes the first B, i.e. queue rows);
 *   loss = 1/2 sum_i 1/(V-1) sum_{v != i} -mean_rows sum q_i * log_softmax(c_v / temperature)
 *         (the positive cross-entropy: PySSL returns its negative), V = 2 + num_crops;
 *   queue [2, L, p] (state "queue", newest rows first) with L = queue_length rounded down to a
 *         multiple of the batch (as the reference; 0 disables it); each step the normalized,
 *         detached z of global view i is pushed into queue i. It is used only once full: the
 *         state "queue_fill" counts the rows filled (PySSL uses the all-zero queue from the
 *         first step). Sinkhorn ignores the queue rows while it is not full (they are masked to
 *         zero, which is exactly Sinkhorn on the batch alone).
 * Sinkhorn (epsilon, sinkhorn_iterations) as the reference's distributed_sinkhorn on one device,
 * on detached scores in float32.
 * freeze_prototypes_niters > 0 adds sched.prototypes_grad, a 0/1 mask on the prototypes'
 * gradient that the host sets to 0 for the first freeze_prototypes_niters steps (the
 * reference's default is 313; PySSL never freezes). The mask zeroes the gradient; the
 * optimizer still applies its weight decay (the reference drops the gradient altogether). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "method.h"

static const method_opt swav_opts[] = {
    {"projection_dim", MO_INT, 128, "output size of the projector (prototype dimension)"},
    {"hidden_dim", MO_INT, 2048, "hidden size of the projector; 0: a single Linear (PySSL's None)"},
    {"temperature", MO_FLOAT, 0.1, "temperature of the swapped prediction"},
    {"epsilon", MO_FLOAT, 0.05, "Sinkhorn entropy regularization"},
    {"sinkhorn_iterations", MO_INT, 3, "Sinkhorn iterations"},
    {"num_prototypes", MO_INT, 3000, "number of prototypes"},
    {"queue_length", MO_INT, 64, "queue rows per global view, rounded down to a multiple of the batch"},
    {"use_the_queue", MO_BOOL, 1, "keep a queue of past embeddings for Sinkhorn (used once full)"},
    {"num_crops", MO_INT, 6, "local crops per image, at round(3/7 * image size) (ViTs: to whole patches)"},
    {"freeze_prototypes_niters", MO_INT, 0, "steps without prototype gradient (reference 313; 0: PySSL)"},
};

static int bad(char *err, const char *what, double v) {
    snprintf(err, IR_ERRLEN, "%s, got %g", what, v);
    return -1;
}

static int64_t queue_rows(const method_ctx *ctx) {
    if (!mopt(ctx, "use_the_queue")) return 0;
    int64_t l = mopt_int(ctx, "queue_length");
    return l - l % (ctx->batch * ctx->ranks); /* of the global batch */
}

static int swav_validate(const method_ctx *ctx, char *err) {
    static const char *dims[] = {"projection_dim", "num_prototypes"};
    for (int i = 0; i < 2; i++)
        if (mopt(ctx, dims[i]) < 1 || mopt(ctx, dims[i]) > 1e6) {
            snprintf(err, IR_ERRLEN, "%s must be in [1, 1000000], got %g", dims[i], mopt(ctx, dims[i]));
            return -1;
        }
    if (mopt(ctx, "hidden_dim") < 0 || mopt(ctx, "hidden_dim") > 1e6)
        return bad(err, "hidden_dim must be in [0, 1000000] (0: no hidden layer)", mopt(ctx, "hidden_dim"));
    if (!(mopt(ctx, "temperature") > 0)) return bad(err, "temperature must be > 0", mopt(ctx, "temperature"));
    if (!(mopt(ctx, "epsilon") > 0)) return bad(err, "epsilon must be > 0", mopt(ctx, "epsilon"));
    if (mopt(ctx, "sinkhorn_iterations") < 1 || mopt(ctx, "sinkhorn_iterations") > 1000)
        return bad(err, "sinkhorn_iterations must be in [1, 1000]", mopt(ctx, "sinkhorn_iterations"));
    if (mopt(ctx, "queue_length") < 0 || mopt(ctx, "queue_length") > 1e7)
        return bad(err, "queue_length must be in [0, 10000000]", mopt(ctx, "queue_length"));
    if (mopt(ctx, "freeze_prototypes_niters") < 0)
        return bad(err, "freeze_prototypes_niters must be >= 0", mopt(ctx, "freeze_prototypes_niters"));
    return method_check_num_crops(ctx, err);
}

/* backbone + projector, then F.normalize */
static int swav_embed(method_ctx *ctx, int x) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    int64_t f = backbone_feat_dim(&ctx->backbone), h = mopt_int(ctx, "hidden_dim"), p = mopt_int(ctx, "projection_dim");
    ir_scope_push(g, "backbone");
    int y = backbone_build(mb, &ctx->backbone, x);
    ir_scope_pop(g);
    ir_scope_push(g, "projector");
    if (h > 0) {
        ir_scope_push(g, "layer1");
        y = ir_relu(g, mb_batchnorm(mb, "1", mb_linear(mb, "0", y, f, h, 1), h, 1));
        y = mb_linear(mb, "3", y, h, p, 1);
        ir_scope_pop(g);
    } else
        y = mb_linear(mb, "layer1", y, f, p, 1);
    ir_scope_pop(g);
    return l2_normalize(g, y);
}

/* The reference's distributed_sinkhorn on one device, with the [N, K] scores kept as rows =
 * samples (the reference works on the transpose): Q = exp(S/eps); Q /= sum(Q); per iteration
 * Q /= sum over samples (per prototype); Q /= K; Q /= sum over prototypes (per sample); Q /= N;
 * finally Q *= N. rowmask ([N,1], 0/1, or -1) removes rows: their entries are 0, their row sums
 * get +1 (so 0/1 = 0 instead of 0/0), and n_eff (f32 [] value, or -1 for N) counts the rows kept:
 * the result on the kept rows is exactly Sinkhorn on those rows alone. */
static int sinkhorn(ir_graph *g, int scores, double eps, int iters, int rowmask, int n_eff) {
    int64_t k = g->vals[scores].shape.d[1], n = g->vals[scores].shape.d[0], ax0 = 0, ax1 = 1;
    int q = ir_exp(g, ir_div(g, scores, ir_scalar(g, eps)));
    if (rowmask >= 0) q = ir_mul(g, q, rowmask);
    if (n_eff < 0) n_eff = ir_scalar(g, (double)n);
    int pad = rowmask >= 0 ? ir_sub(g, ir_scalar(g, 1.0), rowmask) : -1;
    q = ir_div(g, q, ir_reduce_sum(g, q, NULL, 0, 1));
    for (int it = 0; it < iters; it++) {
        q = ir_div(g, q, ir_reduce_sum(g, q, &ax0, 1, 1));
        q = ir_div(g, q, ir_scalar(g, (double)k));
        int rs = ir_reduce_sum(g, q, &ax1, 1, 1);
        if (pad >= 0) rs = ir_add(g, rs, pad);
        q = ir_div(g, q, rs);
        q = ir_div(g, q, n_eff);
    }
    return ir_mul(g, q, n_eff);
}

static int swav_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    if (method_multicrop_views(ctx, mopt_int(ctx, "num_crops"))) return -1;
    /* over several ranks every rank gathers every view's embeddings and computes the global
     * batch's Sinkhorn codes, queue and loss (AllGather's gradient returns each rank its rows) */
    int64_t p = mopt_int(ctx, "projection_dim"), k = mopt_int(ctx, "num_prototypes"), b = ctx->batch * ctx->ranks;
    int nv = ctx->nviews;
    double eps = mopt(ctx, "epsilon"), temp = mopt(ctx, "temperature");
    int iters = (int)mopt_int(ctx, "sinkhorn_iterations");

    /* prototypes = nn.Linear(p, k, bias=False), normalized before the step */
    double bound = 1.0 / sqrt((double)p);
    int w = mb_param(mb, "prototypes.weight", IR_SHAPE(k, p), ir_init_uniform(-bound, bound), 0);
    int wn = l2_normalize(g, ir_stop_gradient(g, w));
    if (method_param_current(ctx, w, wn)) return -1;
    int mask = mopt_int(ctx, "freeze_prototypes_niters") > 0 ? method_sched_input(ctx, "prototypes_grad", 1.0) : -1;
    int wuse = method_param_use(ctx, w, wn, mask);

    int z[METHOD_MAX_VIEWS], c[METHOD_MAX_VIEWS];
    for (int v = 0; v < nv; v++) {
        z[v] = swav_embed(ctx, ctx->views[v]);
        if (ctx->ranks > 1) z[v] = ir_all_gather(g, z[v], ctx->ranks);
        c[v] = ir_gemm(g, z[v], wuse, -1, 0, 1, 1.0, 0.0);
    }

    /* queue state and whether it is full (used) at the start of this step */
    int64_t l = queue_rows(ctx);
    int queue = -1, fill = -1, use = -1, rowmask = -1, n_eff = -1;
    if (l > 0) {
        queue = mb_state(mb, "queue", DT_F32, IR_SHAPE(2, l, p), ir_init_const(0));
        fill = mb_state(mb, "queue_fill", DT_F32, (ir_shape){0}, ir_init_const(0));
        use = ir_where0(g, ir_add_scalar(g, fill, -((double)l - 0.5)), ir_scalar(g, 1.0));
        float *qi = malloc((size_t)(l + b) * sizeof(float)), *bi = malloc((size_t)(l + b) * sizeof(float));
        if (!qi || !bi) {
            free(qi), free(bi);
            return ir_fail(g, "out of memory");
        }
        for (int64_t r = 0; r < l + b; r++) qi[r] = r < l, bi[r] = r >= l;
        rowmask = ir_add(g, ir_mul(g, ir_const(g, DT_F32, IR_SHAPE(l + b, 1), qi), use),
                         ir_const(g, DT_F32, IR_SHAPE(l + b, 1), bi));
        free(qi), free(bi);
        n_eff = ir_add_scalar(g, ir_mul_scalar(g, use, (double)l), (double)b);
    }

    int q[2], newq[2];
    for (int i = 0; i < 2; i++) {
        int s = ir_stop_gradient(g, c[i]);
        if (l > 0) {
            int qi = ir_reshape(g, ir_slice(g, queue, 0, i, i + 1), IR_SHAPE(l, p));
            s = ir_concat(g, (int[]){ir_gemm(g, qi, wn, -1, 0, 1, 1.0, 0.0), s}, 2, 0);
            /* queue[i, b:] = queue[i, :-b]; queue[i, :b] = z_i */
            int nq = ir_stop_gradient(g, z[i]);
            if (l > b) nq = ir_concat(g, (int[]){nq, ir_slice(g, qi, 0, 0, l - b)}, 2, 0);
            newq[i] = ir_reshape(g, nq, IR_SHAPE(1, l, p));
        }
        q[i] = sinkhorn(g, s, eps, iters, rowmask, n_eff);
        if (l > 0) q[i] = ir_slice(g, q[i], 0, l, l + b);
        q[i] = ir_stop_gradient(g, q[i]);
    }
    if (l > 0) {
        mb_advance(mb, queue, ir_concat(g, newq, 2, 0));
        /* rows filled: + b per step until full */
        mb_advance(mb, fill, ir_add(g, fill, ir_mul_scalar(g, ir_sub(g, ir_scalar(g, 1.0), use), (double)b)));
    }

    int ts = ir_scalar(g, temp), loss = -1;
    for (int i = 0; i < 2; i++) {
        int sub = -1;
        for (int v = 0; v < nv; v++) {
            if (v == i) continue;
            int ce = soft_cross_entropy(g, q[i], ir_div(g, c[v], ts));
            sub = sub < 0 ? ce : ir_add(g, sub, ce);
        }
        sub = ir_div(g, sub, ir_scalar(g, nv - 1));
        loss = loss < 0 ? sub : ir_add(g, loss, sub);
    }
    return ir_div(g, loss, ir_scalar(g, 2.0));
}

const method_def method_swav = {
    .name = "swav",
    .summary = "SwAV: swapped prediction of Sinkhorn cluster assignments between global views and local crops",
    .data_parallel = 1,
    .notes = "follows the reference implementation where PySSL breaks training: scores from non-detached "
             "normalized z (gradient reaches the encoder), loss -mean sum q log softmax(p/T) (starts near "
             "ln(num_prototypes)), Sinkhorn on detached scores in fp32 keeping the batch rows, prototypes "
             "L2-normalized before each step, queue_length rounded down to a multiple of the batch and the queue "
             "used only once full; local crops at round(3/7 * image size); freeze_prototypes_niters masks the "
             "prototype gradient through sched.prototypes_grad (host schedule); data-parallel: every rank gathers the embeddings of all ranks (AllGather) and computes Sinkhorn, "
             "the queue and the loss over the global batch",
    .opts = swav_opts,
    .nopts = (int)(sizeof swav_opts / sizeof swav_opts[0]),
    .validate = swav_validate,
    .build = swav_build,
};
