/* Linear algebra: MatMul (numpy matmul, batched, batch dims broadcast) and Gemm (ONNX). */
#include "../opkit.h"

/* Y[b] = A[b] @ B[b] over the broadcast batch dims; A [..., M, K], B [..., K, N]. */
int KN(ref_matmul)(const ref_call *c) {
    const ir_shape *as = &c->in[0].shape, *bs = &c->in[1].shape, *ys = &c->out[0].shape;
    int nb = ys->ndim - 2;
    int64_t M = as->d[as->ndim - 2], K = as->d[as->ndim - 1], N = bs->d[bs->ndim - 1];
    ir_shape ab = *as, bb = *bs, ob = *ys; /* batch shapes */
    ab.ndim = as->ndim - 2, bb.ndim = bs->ndim - 2, ob.ndim = nb;
    int64_t sa[IR_MAX_DIMS], sb[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0}, oa = 0, obb = 0;
    ir_bcast_strides(&ab, &ob, sa);
    ir_bcast_strides(&bb, &ob, sb);
    const real *A = IN(0), *B = IN(1);
    real *Y = OUT(0);
    int64_t nbatch = ir_numel(&ob);
    if (M == 0 || N == 0) return 0;
    for (int64_t i = 0; i < nbatch; i++) {
        real *y = Y + i * M * N;
        if (K == 0)
            memset(y, 0, (size_t)(M * N) * sizeof(real));
        else
            REF_GEMM(0, 0, M, N, K, 1, A + oa * M * K, K, B + obb * K * N, N, 0, y, N);
        for (int d = nb - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d];
            obb += sb[d];
            if (idx[d] < ob.d[d]) break;
            oa -= sa[d] * idx[d];
            obb -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* Y = alpha op(A) op(B) + beta C, C broadcast to [M, N] */
int KN(ref_gemm_op)(const ref_call *c) {
    int ta = (int)ir_get_i(c->node, "transA"), tb = (int)ir_get_i(c->node, "transB");
    real alpha = (real)ir_get_f(c->node, "alpha"), beta = (real)ir_get_f(c->node, "beta");
    const ir_shape *as = &c->in[0].shape, *ys = &c->out[0].shape;
    int64_t M = ys->d[0], N = ys->d[1], K = ta ? as->d[0] : as->d[1];
    real *Y = OUT(0);
    if (M == 0 || N == 0) return 0;
    if (c->nin > 2) {
        int64_t st[IR_MAX_DIMS];
        ir_bcast_strides(&c->in[2].shape, ys, st);
        const real *C = IN(2);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) Y[i * N + j] = beta * C[i * st[0] + j * st[1]];
    } else
        memset(Y, 0, (size_t)(M * N) * sizeof(real));
    if (K > 0) REF_GEMM(ta, tb, M, N, K, alpha, IN(0), ta ? M : K, IN(1), tb ? K : N, 1, Y, N);
    return 0;
}

#ifndef SSLC_REF_F64
int ir_matmul(ir_graph *g, int a, int b) { return ir_simple(g, OP_MatMul, (int[]){a, b}, 2); }

int ir_gemm(ir_graph *g, int a, int b, int c, int trans_a, int trans_b, double alpha, double beta) {
    int node = ir_node_new(g, OP_Gemm, (int[]){a, b, c}, c < 0 ? 2 : 3);
    ir_set_i(g, node, "transA", trans_a ? 1 : 0);
    ir_set_i(g, node, "transB", trans_b ? 1 : 0);
    ir_set_f(g, node, "alpha", alpha);
    ir_set_f(g, node, "beta", beta);
    return ir_node_finish(g, node);
}

static int check_float2(ir_graph *g, const char *op, const ir_value *a, const ir_value *b) {
    if (!ir_dtype_is_float(a->dtype) || a->dtype != b->dtype)
        return ir_fail(g, "%s: needs two float inputs of one dtype, got %s and %s", op, ir_dtype_name(a->dtype),
                       ir_dtype_name(b->dtype));
    return 0;
}

static int matmul_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *a = &g->vals[n->in[0]], *b = &g->vals[n->in[1]];
    char sa[96], sb[96];
    ir_shape_str(&a->shape, sa, sizeof sa);
    ir_shape_str(&b->shape, sb, sizeof sb);
    if (check_float2(g, "MatMul", a, b)) return -1;
    if (a->shape.ndim < 2 || b->shape.ndim < 2)
        return ir_fail(g, "MatMul: inputs need at least 2 dims (1-D operands are not supported), got %s and %s", sa,
                       sb);
    int na = a->shape.ndim, nb = b->shape.ndim;
    if (a->shape.d[na - 1] != b->shape.d[nb - 2])
        return ir_fail(g, "MatMul: inner dimensions differ: %s @ %s", sa, sb);
    ir_shape ab = a->shape, bb = b->shape, ob;
    ab.ndim = na - 2, bb.ndim = nb - 2;
    if (ir_broadcast_shape(&ab, &bb, &ob)) return ir_fail(g, "MatMul: batch dims do not broadcast: %s @ %s", sa, sb);
    ob.d[ob.ndim++] = a->shape.d[na - 2];
    ob.d[ob.ndim++] = b->shape.d[nb - 1];
    os[0] = ob;
    od[0] = ir_acc_dtype(a->dtype);
    return 0;
}

static int gemm_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *a = &g->vals[n->in[0]], *b = &g->vals[n->in[1]];
    int ta = (int)ir_get_i(n, "transA"), tb = (int)ir_get_i(n, "transB");
    char sa[96], sb[96];
    ir_shape_str(&a->shape, sa, sizeof sa);
    ir_shape_str(&b->shape, sb, sizeof sb);
    if (check_float2(g, "Gemm", a, b)) return -1;
    if (a->shape.ndim != 2 || b->shape.ndim != 2) return ir_fail(g, "Gemm: A and B must be 2-D, got %s and %s", sa, sb);
    int64_t M = a->shape.d[ta ? 1 : 0], K = a->shape.d[ta ? 0 : 1], K2 = b->shape.d[tb ? 1 : 0],
            N = b->shape.d[tb ? 0 : 1];
    if (K != K2)
        return ir_fail(g, "Gemm: inner dimensions differ: %s%s x %s%s", sa, ta ? "^T" : "", sb, tb ? "^T" : "");
    ir_shape ys = IR_SHAPE(M, N), bc;
    if (n->nin > 2) {
        const ir_value *cv = &g->vals[n->in[2]];
        char sc[96], sy[96];
        ir_shape_str(&cv->shape, sc, sizeof sc);
        ir_shape_str(&ys, sy, sizeof sy);
        if (cv->dtype != ir_acc_dtype(a->dtype)) return ir_fail(g, "Gemm: C is %s, A is %s", ir_dtype_name(cv->dtype), ir_dtype_name(a->dtype));
        if (cv->shape.ndim > 2 || ir_broadcast_shape(&cv->shape, &ys, &bc) || !ir_shape_eq(&bc, &ys))
            return ir_fail(g, "Gemm: C %s does not broadcast to %s", sc, sy);
    }
    os[0] = ys;
    od[0] = ir_acc_dtype(a->dtype);
    return 0;
}

/* swaps the last two dims */
static int transpose_last2(ir_graph *g, int x) {
    if (x < 0) return -1;
    int nd = g->vals[x].shape.ndim;
    int64_t perm[IR_MAX_DIMS];
    for (int d = 0; d < nd; d++) perm[d] = d;
    perm[nd - 2] = nd - 1, perm[nd - 1] = nd - 2;
    return ir_transpose(g, x, perm, nd);
}

static int matmul_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    int a = g->nodes[node].in[0], b = g->nodes[node].in[1];
    ir_shape as = g->vals[a].shape, bs = g->vals[b].shape;
    if (want[0]) gx[0] = ir_sum_to(g, ir_matmul(g, gy[0], transpose_last2(g, b)), as); /* gy B^T */
    if (want[1]) gx[1] = ir_sum_to(g, ir_matmul(g, transpose_last2(g, a), gy[0]), bs); /* A^T gy */
    return 0;
}

/* Y = alpha A' B' + beta C with A' = op(A), B' = op(B):
 * dA' = alpha gY B'^T, dB' = alpha A'^T gY; dA = dA' or its transpose, likewise dB. */
static int gemm_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node];
    int ta = (int)ir_get_i(&n, "transA"), tb = (int)ir_get_i(&n, "transB");
    double alpha = ir_get_f(&n, "alpha"), beta = ir_get_f(&n, "beta");
    int A = n.in[0], B = n.in[1], G = gy[0];
    if (want[0]) {
        if (!ta)
            gx[0] = ir_gemm(g, G, B, -1, 0, !tb, alpha, 0); /* alpha gY B'^T */
        else
            gx[0] = ir_gemm(g, B, G, -1, tb, 1, alpha, 0); /* alpha B' gY^T */
    }
    if (want[1]) {
        if (!tb)
            gx[1] = ir_gemm(g, A, G, -1, !ta, 0, alpha, 0); /* alpha A'^T gY */
        else
            gx[1] = ir_gemm(g, G, A, -1, 1, ta, alpha, 0); /* alpha gY^T A' */
    }
    if (n.nin > 2 && want[2]) {
        int gc = beta == 1.0 ? G : ir_mul_scalar(g, G, beta);
        gx[2] = ir_sum_to(g, gc, g->vals[n.in[2]].shape);
    }
    return 0;
}

REF_PROTO(ref_matmul);
REF_PROTO(ref_gemm_op);
static int64_t matmul_flops(const ir_graph *g, const ir_node *n) {
    const ir_shape *a = &g->vals[n->in[0]].shape;
    int64_t k = n->op == OP_Gemm ? (ir_get_i(n, "transA") ? a->d[0] : a->d[1]) : a->d[a->ndim - 1];
    return 2 * ir_numel(&g->vals[n->out[0]].shape) * k;
}

const ir_opdef op_MatMul = {.flops = matmul_flops, .name = "MatMul", .min_in = 2, .max_in = 2, .nout = 1, .infer = matmul_infer,
                            REF(ref_matmul), .grad = matmul_grad};
const ir_opdef op_Gemm = {.flops = matmul_flops, .name = "Gemm", .min_in = 2, .max_in = 3, .nout = 1, .nattrs = 4,
                          .attrs = {{"transA", AT_INT, 0}, {"transB", AT_INT, 0}, {"alpha", AT_FLOAT, 1.0},
                                    {"beta", AT_FLOAT, 1.0}},
                          .infer = gemm_infer, REF(ref_gemm_op), .grad = gemm_grad};
#endif
