/* MatMul (batched, broadcast batch dims) and Gemm (all transposes, C broadcast, alpha/beta):
 * forward against plain triple loops in float32 and float64, gradients by finite differences. */
#include "fwdcheck.h"

typedef struct {
    fc_ints ints; /* first: see fwdcheck.h */
    int op;
    ir_shape a, b, c, y; /* y: expected output shape */
    int has_c, ta, tb;
    double alpha, beta;
} la_ctx;

static int build_la(ir_graph *g, void *vctx) {
    la_ctx *c = vctx;
    int a = fc_leaf(g, c, 0, c->a, -1, 1), b = fc_leaf(g, c, 1, c->b, -1, 1);
    if (c->op == OP_MatMul) return ir_matmul(g, a, b);
    int cc = c->has_c ? fc_leaf(g, c, 2, c->c, -1, 1) : -1;
    return ir_gemm(g, a, b, cc, c->ta, c->tb, c->alpha, c->beta);
}

/* index of a broadcast operand: right-aligned, size-1 dims pinned to 0 */
static int64_t bcast_index(const int64_t *oidx, const ir_shape *os, const ir_shape *s) {
    int64_t idx[IR_MAX_DIMS];
    for (int d = 0; d < s->ndim; d++) {
        int od = os->ndim - s->ndim + d;
        idx[d] = s->d[d] == 1 ? 0 : oidx[od];
    }
    return fc_ravel(idx, s);
}

static void ref_matmul(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    la_ctx *c = vctx;
    const ir_shape *as = &ins[0], *bs = &ins[1], *ys = &c->y;
    int64_t M = as->d[as->ndim - 2], K = as->d[as->ndim - 1], N = bs->d[bs->ndim - 1];
    int64_t o[IR_MAX_DIMS];
    for (int64_t i = 0; i < ir_numel(ys); i++) {
        fc_unravel(i, ys, o);
        /* batch part of a and b */
        ir_shape ab = *as, bb = *bs, ob = *ys;
        ab.ndim -= 2, bb.ndim -= 2, ob.ndim -= 2;
        int64_t m = o[ys->ndim - 2], n = o[ys->ndim - 1], ba = bcast_index(o, &ob, &ab), bbi = bcast_index(o, &ob, &bb);
        double s = 0;
        for (int64_t k = 0; k < K; k++) {
            s += in[0][(ba * M + m) * K + k] * in[1][(bbi * K + k) * N + n];
        }
        want[i] = s;
    }
}

static void ref_gemm(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    la_ctx *c = vctx;
    int64_t M = c->y.d[0], N = c->y.d[1], K = c->ta ? ins[0].d[0] : ins[0].d[1];
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = c->ta ? in[0][k * M + i] : in[0][i * K + k];
                double b = c->tb ? in[1][j * K + k] : in[1][k * N + j];
                s += a * b;
            }
            double cv = 0;
            if (c->has_c) {
                int64_t o[2] = {i, j};
                cv = in[2][bcast_index(o, &c->y, &ins[2])];
            }
            want[i * N + j] = c->alpha * s + (c->has_c ? c->beta * cv : 0);
        }
}

/* IR_SHAPE as a constant initializer */
#define SH(...) {.ndim = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .d = {__VA_ARGS__}}
static la_ctx matmul_cases[] = {
    {.op = OP_MatMul, .a = SH(3, 4), .b = SH(4, 5), .y = SH(3, 5)},
    {.op = OP_MatMul, .a = SH(2, 3, 4), .b = SH(4, 5), .y = SH(2, 3, 5)},
    {.op = OP_MatMul, .a = SH(3, 4), .b = SH(2, 4, 5), .y = SH(2, 3, 5)},
    {.op = OP_MatMul, .a = SH(2, 1, 3, 4), .b = SH(5, 4, 2), .y = SH(2, 5, 3, 2)},
    {.op = OP_MatMul, .a = SH(2, 3, 1, 4), .b = SH(1, 4, 3), .y = SH(2, 3, 1, 3)},
    {.op = OP_MatMul, .a = SH(2, 1, 2, 1, 2, 3), .b = SH(1, 2, 1, 2, 3, 2), .y = SH(2, 2, 2, 2, 2, 2)},
    {.op = OP_MatMul, .a = SH(4, 1), .b = SH(1, 3), .y = SH(4, 3)}, /* outer product */
};
static la_ctx gemm_cases[] = {
    {.op = OP_Gemm, .a = SH(3, 4), .b = SH(4, 5), .y = SH(3, 5), .alpha = 1, .beta = 1},
    {.op = OP_Gemm, .a = SH(4, 3), .b = SH(4, 5), .c = SH(5), .y = SH(3, 5), .has_c = 1,
     .ta = 1, .alpha = 0.5, .beta = 2},
    {.op = OP_Gemm, .a = SH(3, 4), .b = SH(5, 4), .c = SH(3, 1), .y = SH(3, 5), .has_c = 1,
     .tb = 1, .alpha = -1.5, .beta = 0.3},
    {.op = OP_Gemm, .a = SH(4, 3), .b = SH(5, 4), .c = SH(3, 5), .y = SH(3, 5), .has_c = 1,
     .ta = 1, .tb = 1, .alpha = 1, .beta = 1},
    {.op = OP_Gemm, .a = SH(2, 6), .b = SH(6, 3), .c = {0}, .y = SH(2, 3), .has_c = 1, .alpha = 1,
     .beta = -0.7}, /* scalar C */
    {.op = OP_Gemm, .a = SH(1, 6), .b = SH(2, 6), .c = SH(1, 2), .y = SH(1, 2), .has_c = 1,
     .tb = 1, .alpha = 2, .beta = 1},
};
#define NCASES(t) (sizeof t / sizeof t[0])

static int run_cases(la_ctx *t, size_t n, fc_ref_fn ref, int grad) {
    for (size_t i = 0; i < n; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s case %zu", ir_optable[t[i].op]->name, i);
        if (grad ? gradcheck(label, build_la, &t[i], 1e-6) : fc_check(label, build_la, &t[i], t[i].y, ref, 0)) return 1;
    }
    return 0;
}

static int build_fails(ir_shape a, ir_shape b, int op, const char *msg) {
    ir_graph g;
    ir_graph_init(&g);
    int va = ir_param(&g, "a", a, ir_init_const(0), 0), vb = ir_param(&g, "b", b, ir_init_const(0), 0);
    int y = op == OP_MatMul ? ir_matmul(&g, va, vb) : ir_gemm(&g, va, vb, -1, 0, 0, 1, 1);
    int ok = y < 0 && g.failed && strstr(g.err, msg);
    if (!ok) fprintf(stderr, "FAIL expected a build error mentioning '%s', got '%s'\n", msg, g.err);
    ir_graph_free(&g);
    return !ok;
}

static int matmul_f(void) {
    if (build_fails(IR_SHAPE(3, 4), IR_SHAPE(5, 2), OP_MatMul, "inner") ||
        build_fails(IR_SHAPE(4), IR_SHAPE(4, 2), OP_MatMul, "1-D") ||
        build_fails(IR_SHAPE(2, 3, 4), IR_SHAPE(3, 4, 2), OP_MatMul, "batch"))
        return 1;
    return run_cases(matmul_cases, NCASES(matmul_cases), ref_matmul, 0);
}
static int matmul_g(void) { return run_cases(matmul_cases, NCASES(matmul_cases), ref_matmul, 1); }
static int gemm_f(void) {
    if (build_fails(IR_SHAPE(3, 4), IR_SHAPE(3, 2), OP_Gemm, "inner") ||
        build_fails(IR_SHAPE(2, 3, 4), IR_SHAPE(4, 2), OP_Gemm, "2-D"))
        return 1;
    /* C that does not broadcast to [M, N] */
    ir_graph g;
    ir_graph_init(&g);
    int a = ir_param(&g, "a", IR_SHAPE(3, 4), ir_init_const(0), 0), b = ir_param(&g, "b", IR_SHAPE(4, 5), ir_init_const(0), 0);
    int c = ir_param(&g, "c", IR_SHAPE(4), ir_init_const(0), 0);
    CHECK(ir_gemm(&g, a, b, c, 0, 0, 1, 1) < 0 && strstr(g.err, "broadcast"), "bad C accepted: %s", g.err);
    ir_graph_free(&g);
    return run_cases(gemm_cases, NCASES(gemm_cases), ref_gemm, 0);
}
static int gemm_g(void) { return run_cases(gemm_cases, NCASES(gemm_cases), ref_gemm, 1); }

OPTEST_FAMILY(linalg) = {{"MatMul", matmul_f, matmul_g}, {"Gemm", gemm_f, gemm_g}, {NULL, NULL, NULL}};
