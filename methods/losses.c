/* Losses shared by methods. */
#include <stdlib.h>

#include "method.h"

int l2_normalize(ir_graph *g, int x) {
    /* F.normalize: x / max(||x||, 1e-12) */
    int64_t ax = 1;
    int norm = ir_sqrt(g, ir_reduce_sum(g, ir_mul(g, x, x), &ax, 1, 1));
    return ir_div(g, x, ir_max(g, norm, ir_scalar(g, 1e-12)));
}

/* NT-Xent as PySSL's nt_xent_loss: for each of the 2N rows, cross-entropy of the positive
 * against every other row (self excluded) at temperature tau, averaged over 2N. Self
 * similarities are pushed to -1e9 so exp() is exactly 0: the same as removing them. */
int nt_xent_loss(ir_graph *g, int z1, int z2, double temperature) {
    if (g->failed) return -1;
    int64_t n = g->vals[z1].shape.d[0], m = 2 * n;
    int z = l2_normalize(g, ir_concat(g, (int[]){z1, z2}, 2, 0));
    int sim = ir_gemm(g, z, z, -1, 0, 1, 1.0 / temperature, 0.0);
    float *mask = calloc((size_t)(m * m), sizeof(float));
    int64_t *labels = malloc((size_t)m * sizeof(int64_t));
    if (!mask || !labels) {
        free(mask), free(labels);
        return ir_fail(g, "out of memory");
    }
    for (int64_t i = 0; i < m; i++) {
        mask[i * m + i] = -1e9f;
        labels[i] = (i + n) % m;
    }
    int logits = ir_add(g, sim, ir_const(g, DT_F32, IR_SHAPE(m, m), mask));
    int lab = ir_const(g, DT_I64, IR_SHAPE(m), labels);
    free(mask), free(labels);
    return ir_softmax_ce(g, logits, lab);
}

/* -mean_rows sum_k q * log_softmax(logits)_k, as -(q * F.log_softmax(x, dim=1)).sum(dim=1).mean() */
int soft_cross_entropy(ir_graph *g, int q, int logits) {
    int64_t ax = 1;
    int s = ir_reduce_sum(g, ir_mul(g, q, ir_log_softmax(g, logits, 1)), &ax, 1, 0);
    return ir_neg(g, ir_reduce_mean(g, s, NULL, 0, 0));
}

/* cos(p_i, z_i) per row of [N,D] -> [N], both sides F.normalize'd */
int cosine_rows(ir_graph *g, int p, int z) {
    int64_t ax = 1;
    return ir_reduce_sum(g, ir_mul(g, l2_normalize(g, p), l2_normalize(g, z)), &ax, 1, 0);
}

/* mean over rows of cos(p, stop_gradient(z)) */
static int mean_cos_sg(ir_graph *g, int p, int z) {
    return ir_reduce_mean(g, cosine_rows(g, p, ir_stop_gradient(g, z)), NULL, 0, 0);
}

int byol_regression_loss(ir_graph *g, int p, int z) {
    return ir_add_scalar(g, ir_mul_scalar(g, mean_cos_sg(g, p, z), -2.0), 2.0);
}

int negative_cosine_loss(ir_graph *g, int p, int z) { return ir_neg(g, mean_cos_sg(g, p, z)); }

/* x[start::step] along the single axis of a 1-D tensor */
static int slice_step(ir_graph *g, int x, int64_t start, int64_t end, int64_t step) {
    if (g->failed || x < 0) return -1;
    int n = ir_node_new(g, OP_Slice, &x, 1);
    int64_t axes = 0;
    ir_set_ints(g, n, "axes", &axes, 1);
    ir_set_ints(g, n, "starts", &start, 1);
    ir_set_ints(g, n, "ends", &end, 1);
    ir_set_ints(g, n, "steps", &step, 1);
    return ir_node_finish(g, n);
}

/* Barlow Twins on batch-normalized z1n, z2n [N,D]: c = z1nᵀ z2n / N,
 * Σ_i (c_ii − 1)² + λ Σ_{i≠j} c_ij². The diagonal is flat(c)[::D+1]. Over `ranks` ranks c is
 * the global batch's: each rank's z1nᵀ z2n / (ranks N) summed by AllReduce (whose gradient rule
 * sums the ranks' gradients of c: lightly issue 1977 reduced it outside autograd), and every
 * rank computes the same loss from it. */
/* Σ_{i≠j} c_ij² of a [D, D] matrix (D > 1): the off-diagonal elements are flat(c)[:-1] viewed
 * as [D-1, D+1] without its first column (PySSL's off_diagonal), no D×D mask constant */
static int off_diagonal_sq_sum(ir_graph *g, int c, int64_t d) {
    int flat = ir_reshape(g, c, IR_SHAPE(d * d));
    int off = ir_slice(g, ir_reshape(g, ir_slice(g, flat, 0, 0, d * d - 1), IR_SHAPE(d - 1, d + 1)), 1, 1, d + 1);
    return ir_reduce_sum(g, ir_mul(g, off, off), NULL, 0, 0);
}

int barlow_twins_loss(ir_graph *g, int z1n, int z2n, double lamda, int ranks) {
    if (g->failed) return -1;
    int64_t n = g->vals[z1n].shape.d[0], d = g->vals[z1n].shape.d[1];
    int c = ir_gemm(g, z1n, z2n, -1, 1, 0, 1.0 / (double)(n * (ranks > 1 ? ranks : 1)), 0.0);
    if (ranks > 1) c = ir_all_reduce(g, c, ranks, 0);
    int diag = slice_step(g, ir_reshape(g, c, IR_SHAPE(d * d)), 0, d * d, d + 1);
    int dm1 = ir_add_scalar(g, diag, -1.0);
    int on = ir_reduce_sum(g, ir_mul(g, dm1, dm1), NULL, 0, 0);
    if (d == 1) return on;
    return ir_add(g, on, ir_mul_scalar(g, off_diagonal_sq_sum(g, c, d), lamda));
}

/* One view's variance and covariance terms of VICReg: z [N, D] centred per dimension, unbiased
 * variance v = Σ_n zc² / (N−1); std term mean(relu(1 − sqrt(v + 1e-4))); covariance term
 * Σ_{i≠j} (zcᵀzc / (N−1))_ij² / D. */
static void vicreg_view_terms(ir_graph *g, int z, int *std_term, int *cov_term) {
    int64_t n = g->vals[z].shape.d[0], d = g->vals[z].shape.d[1], ax0 = 0;
    int zc = ir_sub(g, z, ir_reduce_mean(g, z, &ax0, 1, 1));
    int var = ir_mul_scalar(g, ir_reduce_sum(g, ir_mul(g, zc, zc), &ax0, 1, 0), 1.0 / (double)(n - 1));
    int std = ir_sqrt(g, ir_add_scalar(g, var, 1e-4));
    *std_term = ir_reduce_mean(g, ir_relu(g, ir_add_scalar(g, ir_neg(g, std), 1.0)), NULL, 0, 0);
    if (d == 1) {
        *cov_term = -1;
        return;
    }
    int cov = ir_gemm(g, zc, zc, -1, 1, 0, 1.0 / (double)(n - 1), 0.0);
    *cov_term = ir_mul_scalar(g, off_diagonal_sq_sum(g, cov, d), 1.0 / (double)d);
}

int vicreg_loss(ir_graph *g, int z1, int z2, double sim_coeff, double std_coeff, double cov_coeff) {
    if (g->failed) return -1;
    int diff = ir_sub(g, z1, z2);
    int sim = ir_reduce_mean(g, ir_mul(g, diff, diff), NULL, 0, 0);
    int s1, c1, s2, c2;
    vicreg_view_terms(g, z1, &s1, &c1);
    vicreg_view_terms(g, z2, &s2, &c2);
    int loss = ir_add(g, ir_mul_scalar(g, sim, sim_coeff), ir_mul_scalar(g, ir_add(g, s1, s2), std_coeff));
    if (c1 < 0) return loss; /* D = 1: no off-diagonal covariances */
    return ir_add(g, loss, ir_mul_scalar(g, ir_add(g, c1, c2), cov_coeff));
}

/* Supervised contrastive loss as PySSL's sup_con_loss (contrast_mode 'all'): the 2N features
 * [z1; z2] are anchors and contrasts, logits a_ij = f_i·f_j / τ; positives of anchor i are the
 * other rows with its label; loss = −(τ/τ_base) · mean_i Σ_pos log_prob / #pos with log_prob
 * the log-softmax over j ≠ i. Self logits are pushed to −1e9 (exp() exactly 0) instead of
 * masked; PySSL's max subtraction is the log-softmax's own. labels: i64 [N]. */
int supcon_loss(ir_graph *g, int z1, int z2, int labels, double temperature, double base_temperature) {
    if (g->failed) return -1;
    int64_t n = g->vals[z1].shape.d[0], m = 2 * n;
    int f = ir_concat(g, (int[]){z1, z2}, 2, 0);
    int a = ir_gemm(g, f, f, -1, 0, 1, 1.0 / temperature, 0.0);
    float *self = calloc((size_t)(m * m), sizeof(float)), *notself = malloc((size_t)(m * m) * sizeof(float));
    if (!self || !notself) {
        free(self), free(notself);
        return ir_fail(g, "out of memory");
    }
    for (int64_t i = 0; i < m * m; i++) notself[i] = 1.0f;
    for (int64_t i = 0; i < m; i++) self[i * m + i] = -1e9f, notself[i * m + i] = 0.0f;
    int logp = ir_log_softmax(g, ir_add(g, a, ir_const(g, DT_F32, IR_SHAPE(m, m), self)), 1);
    int lmask = ir_const(g, DT_F32, IR_SHAPE(m, m), notself);
    free(self), free(notself);
    /* same-label mask [N,N] tiled to [2N,2N], self pairs removed */
    int eq = ir_cast(g, ir_equal(g, ir_reshape(g, labels, IR_SHAPE(n, 1)), ir_reshape(g, labels, IR_SHAPE(1, n))), DT_F32);
    int row = ir_concat(g, (int[]){eq, eq}, 2, 1);
    int mask = ir_mul(g, ir_concat(g, (int[]){row, row}, 2, 0), lmask);
    int64_t ax = 1;
    int pos = ir_reduce_sum(g, ir_mul(g, mask, logp), &ax, 1, 0);
    int cnt = ir_reduce_sum(g, mask, &ax, 1, 0);
    int mean_pos = ir_div(g, pos, cnt);
    return ir_mul_scalar(g, ir_reduce_mean(g, mean_pos, NULL, 0, 0), -(temperature / base_temperature));
}

int nnclr_loss(ir_graph *g, int nn, int p, double temperature) {
    if (g->failed) return -1;
    int64_t n = g->vals[nn].shape.d[0];
    int logits = ir_gemm(g, l2_normalize(g, nn), l2_normalize(g, p), -1, 0, 1, 1.0 / temperature, 0.0);
    int64_t *labels = malloc((size_t)n * sizeof(int64_t));
    if (!labels) return ir_fail(g, "out of memory");
    for (int64_t i = 0; i < n; i++) labels[i] = i;
    int lab = ir_const(g, DT_I64, IR_SHAPE(n), labels);
    free(labels);
    return ir_softmax_ce(g, logits, lab);
}

/* ---- MoCo family (declared in moco.h) ---- */
#include "moco.h"

int infonce_queue_loss(ir_graph *g, int q, int k, int queue, double temperature) {
    if (g->failed) return -1;
    int64_t n = g->vals[q].shape.d[0], ax = 1;
    int l_pos = ir_reduce_sum(g, ir_mul(g, q, k), &ax, 1, 1);  /* [N, 1] */
    int l_neg = ir_gemm(g, q, queue, -1, 0, 0, 1.0, 0.0);      /* [N, K] */
    int logits = ir_div(g, ir_concat(g, (int[]){l_pos, l_neg}, 2, 1), ir_scalar(g, temperature));
    int64_t *labels = calloc((size_t)n, sizeof(int64_t)); /* the positive is column 0 */
    if (!labels) return ir_fail(g, "out of memory");
    int lab = ir_const(g, DT_I64, IR_SHAPE(n), labels);
    free(labels);
    return ir_softmax_ce(g, logits, lab);
}

int infonce_inbatch_loss(ir_graph *g, int q, int k, double temperature) {
    if (g->failed) return -1;
    int64_t n = g->vals[q].shape.d[0];
    q = l2_normalize(g, q);
    k = l2_normalize(g, k);
    int logits = ir_div(g, ir_gemm(g, q, k, -1, 0, 1, 1.0, 0.0), ir_scalar(g, temperature));
    int64_t *labels = malloc((size_t)n * sizeof(int64_t));
    if (!labels) return ir_fail(g, "out of memory");
    for (int64_t i = 0; i < n; i++) labels[i] = i;
    int lab = ir_const(g, DT_I64, IR_SHAPE(n), labels);
    free(labels);
    return ir_softmax_ce(g, logits, lab);
}
