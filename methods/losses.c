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
