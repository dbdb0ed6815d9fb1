/* Softmax, LogSoftmax, their gradient ops, SoftmaxCrossEntropyLoss and its gradient op:
 * forward against plain C (float32 and float64), gradients by finite differences, numerical
 * stability at large logits, and clear failures for labels out of range. */
#include "fwdcheck.h"

typedef struct {
    fc_ints ints; /* first: see fwdcheck.h */
    int op;
    ir_shape xs;
    int axis;
    double lo, hi; /* range of the logits */
    const int64_t *labels; /* CE: [xs.d[0]] */
} sm_ctx;

static int labels_const(ir_graph *g, const sm_ctx *c) {
    return ir_const(g, DT_I64, IR_SHAPE(c->xs.d[0]), c->labels);
}

static int build_sm(ir_graph *g, void *vctx) {
    sm_ctx *c = vctx;
    int x = fc_leaf(g, c, 0, c->xs, c->lo, c->hi);
    switch (c->op) {
    case OP_Softmax: return ir_softmax(g, x, c->axis);
    case OP_LogSoftmax: return ir_log_softmax(g, x, c->axis);
    case OP_SoftmaxGrad:
    case OP_LogSoftmaxGrad: { /* (gy, y): y is any tensor here; the formula does not need y = softmax(x) */
        int y = fc_leaf(g, c, 1, c->xs, -1, 1);
        int n = ir_node_new(g, c->op, (int[]){x, y}, 2);
        ir_set_i(g, n, "axis", c->axis);
        return ir_node_finish(g, n);
    }
    case OP_SoftmaxCrossEntropyLoss: return ir_softmax_ce(g, x, labels_const(g, c));
    case OP_SoftmaxCrossEntropyLossGrad: {
        int gy = fc_leaf(g, c, 1, (ir_shape){0}, -2, 2);
        return ir_simple(g, c->op, (int[]){gy, x, labels_const(g, c)}, 3);
    }
    }
    return -1;
}

/* [outer, L, inner] view around the axis */
static void view(const ir_shape *s, int axis, int64_t *outer, int64_t *L, int64_t *inner) {
    if (axis < 0) axis += s->ndim;
    *outer = *inner = 1;
    for (int d = 0; d < s->ndim; d++) {
        if (d < axis) *outer *= s->d[d];
        if (d > axis) *inner *= s->d[d];
    }
    *L = s->d[axis];
}

/* log-sum-exp over the axis; `shift` is subtracted first so large logits stay finite */
static void ref_sm(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sm_ctx *c = vctx;
    int64_t O, L, I;
    view(&ins[0], c->axis, &O, &L, &I);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            const double *x = in[0] + o * L * I + i;
            double *y = want + o * L * I + i;
            double shift = x[0], s = 0;
            for (int64_t l = 1; l < L; l++) shift = fmax(shift, x[l * I]);
            for (int64_t l = 0; l < L; l++) s += exp(x[l * I] - shift);
            for (int64_t l = 0; l < L; l++)
                y[l * I] = c->op == OP_Softmax ? exp(x[l * I] - shift) / s : x[l * I] - shift - log(s);
        }
}

static void ref_sm_grad(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sm_ctx *c = vctx;
    int64_t O, L, I;
    view(&ins[0], c->axis, &O, &L, &I);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            int64_t b = o * L * I + i;
            const double *gy = in[0] + b, *y = in[1] + b;
            double s = 0;
            for (int64_t l = 0; l < L; l++) s += c->op == OP_SoftmaxGrad ? gy[l * I] * y[l * I] : gy[l * I];
            for (int64_t l = 0; l < L; l++)
                want[b + l * I] = c->op == OP_SoftmaxGrad ? y[l * I] * (gy[l * I] - s) : gy[l * I] - exp(y[l * I]) * s;
        }
}

static void ref_ce(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sm_ctx *c = vctx;
    int64_t N = ins[0].d[0], C = ins[0].d[1];
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        const double *x = in[0] + i * C;
        double m = x[0], s = 0;
        for (int64_t j = 1; j < C; j++) m = fmax(m, x[j]);
        for (int64_t j = 0; j < C; j++) s += exp(x[j] - m);
        double logp = x[c->labels[i]] - m - log(s);
        if (c->op == OP_SoftmaxCrossEntropyLoss)
            total -= logp;
        else
            for (int64_t j = 0; j < C; j++)
                want[i * C + j] = (exp(x[j] - m) / s - (j == c->labels[i])) * in[1][0] / (double)N;
    }
    if (c->op == OP_SoftmaxCrossEntropyLoss) want[0] = total / (double)N;
}

/* softmax-family cases: shapes, axes (negative too), and a large-logit case for stability */
static int sm_cases(int op, int grad) {
    sm_ctx t[] = {
        {.op = op, .xs = IR_SHAPE(3, 5), .axis = -1, .lo = -3, .hi = 3},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .axis = 1, .lo = -3, .hi = 3},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .axis = 0, .lo = -3, .hi = 3},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .axis = -3, .lo = -3, .hi = 3},
        {.op = op, .xs = IR_SHAPE(2, 2, 3, 2), .axis = 2, .lo = -3, .hi = 3},
        {.op = op, .xs = IR_SHAPE(4, 1), .axis = -1, .lo = -3, .hi = 3}, /* a one-element axis */
        {.op = op, .xs = IR_SHAPE(2, 6), .axis = 1, .lo = 990, .hi = 1010}, /* exp would overflow unshifted */
        {.op = op, .xs = IR_SHAPE(2, 6), .axis = 1, .lo = -1010, .hi = -990},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s case %zu", ir_optable[op]->name, i);
        if (grad) {

            if (gradcheck(label, build_sm, &t[i], 1e-6)) return 1;
        } else {
            int gop = op == OP_SoftmaxGrad || op == OP_LogSoftmaxGrad;
            if (fc_check(label, build_sm, &t[i], t[i].xs, gop ? ref_sm_grad : ref_sm, 0)) return 1;
        }
    }
    return 0;
}
static int softmax_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    CHECK(ir_softmax(&g, x, 2) < 0 && strstr(g.err, "axis"), "axis out of range accepted: %s", g.err);
    ir_graph_free(&g);
    return sm_cases(OP_Softmax, 0);
}
static int softmax_g(void) { return sm_cases(OP_Softmax, 1); }
static int log_softmax_f(void) { return sm_cases(OP_LogSoftmax, 0); }
static int log_softmax_g(void) { return sm_cases(OP_LogSoftmax, 1); }
static int softmax_grad_f(void) { return sm_cases(OP_SoftmaxGrad, 0); }
static int log_softmax_grad_f(void) { return sm_cases(OP_LogSoftmaxGrad, 0); }

/* ---- cross-entropy ---- */
static const int64_t lab4[] = {1, 4, 0, 4}, lab1[] = {2}, lab6[] = {9, 0, 3, 3, 7, 1};
static int ce_cases(int op, int grad) {
    sm_ctx t[] = {
        {.op = op, .xs = IR_SHAPE(4, 5), .lo = -3, .hi = 3, .labels = lab4},
        {.op = op, .xs = IR_SHAPE(1, 3), .lo = -3, .hi = 3, .labels = lab1},
        {.op = op, .xs = IR_SHAPE(6, 10), .lo = -5, .hi = 5, .labels = lab6},
        {.op = op, .xs = IR_SHAPE(4, 5), .lo = 990, .hi = 1010, .labels = lab4}, /* stability */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s case %zu", ir_optable[op]->name, i);
        if (grad) {

            if (gradcheck(label, build_sm, &t[i], 1e-6)) return 1;
        } else {
            ir_shape ys = op == OP_SoftmaxCrossEntropyLoss ? (ir_shape){0} : t[i].xs;
            if (fc_check(label, build_sm, &t[i], ys, ref_ce, 0)) return 1;
        }
    }
    return 0;
}

/* labels out of range make the kernel fail with a message naming the label, never crash */
static int ce_bad_labels(int op) {
    static const int64_t hi[] = {0, 5, 1}, neg[] = {0, 1, -1};
    const int64_t *bad[] = {hi, neg};
    for (int k = 0; k < 2; k++) {
        sm_ctx c = {.op = op, .xs = IR_SHAPE(3, 5), .lo = -1, .hi = 1, .labels = bad[k]};
        for (int f64 = 0; f64 < 2; f64++) {
            fc_result r;
            int rc = fc_run_q(build_sm, &c, f64, &r, 1);
            int ok = rc == 2 && strstr(r.err, "out of range") && strstr(r.err, k ? "label -1" : "label 5");
            if (!ok) fprintf(stderr, "FAIL %s: bad label gave rc %d, '%s'\n", ir_optable[op]->name, rc, r.err);
            fc_free(&r);
            if (!ok) return 1;
        }
    }
    return 0;
}

static int ce_f(void) {
    /* wrong label dtype / length are build errors */
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(3, 4), ir_init_const(0), 0);
    int l = ir_param(&g, "l", IR_SHAPE(3), ir_init_const(0), 0);
    CHECK(ir_softmax_ce(&g, x, l) < 0 && strstr(g.err, "labels must be i64"), "f32 labels accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_param(&g, "x", IR_SHAPE(3, 4), ir_init_const(0), 0);
    l = ir_const(&g, DT_I64, IR_SHAPE(2), lab4);
    CHECK(ir_softmax_ce(&g, x, l) < 0 && strstr(g.err, "labels"), "short labels accepted: %s", g.err);
    ir_graph_free(&g);
    return ce_bad_labels(OP_SoftmaxCrossEntropyLoss) || ce_cases(OP_SoftmaxCrossEntropyLoss, 0);
}
static int ce_g(void) { return ce_cases(OP_SoftmaxCrossEntropyLoss, 1); }
static int ce_grad_f(void) {
    return ce_bad_labels(OP_SoftmaxCrossEntropyLossGrad) || ce_cases(OP_SoftmaxCrossEntropyLossGrad, 0);
}

OPTEST_FAMILY(softmax) = {{"Softmax", softmax_f, softmax_g},
                          {"LogSoftmax", log_softmax_f, log_softmax_g},
                          {"SoftmaxGrad", softmax_grad_f, NULL},
                          {"LogSoftmaxGrad", log_softmax_grad_f, NULL},
                          {"SoftmaxCrossEntropyLoss", ce_f, ce_g},
                          {"SoftmaxCrossEntropyLossGrad", ce_grad_f, NULL},
                          {NULL, NULL, NULL}};
