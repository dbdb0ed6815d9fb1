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
