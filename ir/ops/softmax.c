/* Softmax, LogSoftmax (ONNX opset 13: one axis, default -1), their gradient ops, and
 * SoftmaxCrossEntropyLoss (mean over rows, as torch.nn.functional.cross_entropy) with its
 * gradient op. Row sums accumulate in double in both kernel widths. */
#include "../opkit.h"

/* The tensor viewed as [outer, L, inner] around the softmax axis. */
typedef struct {
    int64_t outer, L, inner;
} axis_view;

static axis_view view_of(const ir_node *n, const ir_shape *s) {
    axis_view v = {1, 1, 1};
    int axis = ir_norm_axis(ir_get_i(n, "axis"), s->ndim);
    for (int d = 0; d < s->ndim; d++) {
        if (d < axis)
            v.outer *= s->d[d];
        else if (d == axis)
            v.L = s->d[d];
        else
            v.inner *= s->d[d];
    }
    return v;
}

static int KN(softmax_any)(const ref_call *c, int log_) {
    axis_view v = view_of(c->node, &c->in[0].shape);
    const real *x = IN(0);
    real *y = OUT(0);
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.inner; i++) {
            const real *xr = x + o * v.L * v.inner + i;
            real *yr = y + o * v.L * v.inner + i;
            double m = -INFINITY, s = 0;
            for (int64_t l = 0; l < v.L; l++)
                if (xr[l * v.inner] > m || xr[l * v.inner] != xr[l * v.inner]) m = xr[l * v.inner];
            if (m == -INFINITY) m = 0; /* all -inf: keep exp finite (result NaN as in torch, via 0/0) */
            for (int64_t l = 0; l < v.L; l++) s += exp((double)xr[l * v.inner] - m);
            double ls = log(s);
            for (int64_t l = 0; l < v.L; l++) {
                double z = (double)xr[l * v.inner] - m;
                yr[l * v.inner] = (real)(log_ ? z - ls : exp(z) / s);
            }
        }
    return 0;
}
int KN(ref_softmax)(const ref_call *c) { return KN(softmax_any)(c, 0); }
int KN(ref_log_softmax)(const ref_call *c) { return KN(softmax_any)(c, 1); }

/* SoftmaxGrad(gy, y):    gx = y * (gy - sum(gy * y))
 * LogSoftmaxGrad(gy, y): gx = gy - exp(y) * sum(gy)     (sums over the axis) */
static int KN(softmax_grad_any)(const ref_call *c, int log_) {
    axis_view v = view_of(c->node, &c->in[0].shape);
    const real *gy = IN(0), *y = IN(1);
    real *gx = OUT(0);
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.inner; i++) {
            int64_t base = o * v.L * v.inner + i;
            double s = 0;
            for (int64_t l = 0; l < v.L; l++) {
                int64_t k = base + l * v.inner;
                s += log_ ? (double)gy[k] : (double)gy[k] * y[k];
            }
            for (int64_t l = 0; l < v.L; l++) {
                int64_t k = base + l * v.inner;
                gx[k] = (real)(log_ ? gy[k] - exp((double)y[k]) * s : y[k] * (gy[k] - s));
            }
        }
    return 0;
}
int KN(ref_softmax_grad)(const ref_call *c) { return KN(softmax_grad_any)(c, 0); }
int KN(ref_log_softmax_grad)(const ref_call *c) { return KN(softmax_grad_any)(c, 1); }

static int check_labels(const ref_call *c, const int64_t *lab, int64_t N, int64_t C) {
    for (int64_t i = 0; i < N; i++)
        if (lab[i] < 0 || lab[i] >= C) {
            snprintf(c->err, IR_ERRLEN, "%s: label %lld of row %lld is out of range [0, %lld)",
                     ir_optable[c->node->op]->name, (long long)lab[i], (long long)i, (long long)C);
            return -1;
        }
    return 0;
}

/* loss = mean_i (logsumexp(x_i) - x_i[label_i]) */
int KN(ref_softmax_ce)(const ref_call *c) {
    int64_t N = c->in[0].shape.d[0], C = c->in[0].shape.d[1];
    const real *x = IN(0);
    const int64_t *lab = IN_I64(1);
    if (check_labels(c, lab, N, C)) return -1;
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        const real *r = x + i * C;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            if (r[j] > m || r[j] != r[j]) m = r[j];
        for (int64_t j = 0; j < C; j++) s += exp((double)r[j] - m);
        total += m + log(s) - (double)r[lab[i]];
    }
    OUT(0)[0] = (real)(total / (double)N); /* N = 0: NaN, as torch */
    return 0;
}

/* SoftmaxCrossEntropyLossGrad(gy, logits, labels) = (softmax(logits) - onehot(labels)) * gy / N */
int KN(ref_softmax_ce_grad)(const ref_call *c) {
    int64_t N = c->in[1].shape.d[0], C = c->in[1].shape.d[1];
    const real *x = IN(1);
    const int64_t *lab = IN_I64(2);
    real *gx = OUT(0);
    if (check_labels(c, lab, N, C)) return -1;
    double scale = (double)IN(0)[0] / (double)N;
    for (int64_t i = 0; i < N; i++) {
        const real *r = x + i * C;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            if (r[j] > m || r[j] != r[j]) m = r[j];
        for (int64_t j = 0; j < C; j++) s += exp((double)r[j] - m);
        for (int64_t j = 0; j < C; j++)
            gx[i * C + j] = (real)((exp((double)r[j] - m) / s - (j == lab[i] ? 1.0 : 0.0)) * scale);
    }
    return 0;
}

#ifndef SSLC_REF_F64
static int softmax_build(ir_graph *g, int op, int x, int axis) {
    int node = ir_node_new(g, op, &x, 1);
    ir_set_i(g, node, "axis", axis);
    return ir_node_finish(g, node);
}
int ir_softmax(ir_graph *g, int x, int axis) { return softmax_build(g, OP_Softmax, x, axis); }
int ir_log_softmax(ir_graph *g, int x, int axis) { return softmax_build(g, OP_LogSoftmax, x, axis); }
int ir_softmax_ce(ir_graph *g, int logits, int labels) {
    return ir_simple(g, OP_SoftmaxCrossEntropyLoss, (int[]){logits, labels}, 2);
}

static int softmax_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const char *op = ir_optable[n->op]->name;
    const ir_value *x = &g->vals[n->in[0]];
    if (!ir_dtype_is_float(x->dtype)) return ir_fail(g, "%s: needs a float input, got %s", op, ir_dtype_name(x->dtype));
    if (ir_norm_axis(ir_get_i(n, "axis"), x->shape.ndim) < 0)
        return ir_fail(g, "%s: axis %lld out of range for rank %d", op, (long long)ir_get_i(n, "axis"), x->shape.ndim);
    for (int k = 1; k < n->nin; k++) { /* gradient ops: (gy, y) of one shape and dtype */
        const ir_value *y = &g->vals[n->in[k]];
        if (y->dtype != x->dtype || !ir_shape_eq(&y->shape, &x->shape))
            return ir_fail(g, "%s: input %d does not match input 0 in shape or dtype", op, k);
    }
    os[0] = x->shape;
    od[0] = x->dtype;
    return 0;
}

/* (logits [N,C] float, labels [N] i64) with, for the gradient op, a leading scalar gy */
static int ce_check(ir_graph *g, const char *op, const ir_value *x, const ir_value *lab) {
    char sx[96], sl[96];
    ir_shape_str(&x->shape, sx, sizeof sx);
    ir_shape_str(&lab->shape, sl, sizeof sl);
    if (!ir_dtype_is_float(x->dtype) || x->shape.ndim != 2)
        return ir_fail(g, "%s: logits must be a 2-D float tensor [N, C], got %s %s", op, ir_dtype_name(x->dtype), sx);
    if (lab->dtype != DT_I64 || lab->shape.ndim != 1 || lab->shape.d[0] != x->shape.d[0])
        return ir_fail(g, "%s: labels must be i64 [%lld] for logits %s, got %s %s", op, (long long)x->shape.d[0], sx,
                       ir_dtype_name(lab->dtype), sl);
    return 0;
}
static int ce_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    if (ce_check(g, "SoftmaxCrossEntropyLoss", x, &g->vals[n->in[1]])) return -1;
    memset(&os[0], 0, sizeof os[0]); /* scalar [] */
    od[0] = x->dtype;
    return 0;
}
static int ce_grad_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *gy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]];
    if (ce_check(g, "SoftmaxCrossEntropyLossGrad", x, &g->vals[n->in[2]])) return -1;
    if (gy->shape.ndim != 0 || gy->dtype != x->dtype)
        return ir_fail(g, "SoftmaxCrossEntropyLossGrad: gy must be a scalar of the logits' dtype");
    os[0] = x->shape;
    od[0] = x->dtype;
    return 0;
}

static int softmax_grad_rule(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_node n = g->nodes[node];
    int op = n.op == OP_Softmax ? OP_SoftmaxGrad : OP_LogSoftmaxGrad;
    int m = ir_node_new(g, op, (int[]){gy[0], n.out[0]}, 2);
    ir_set_i(g, m, "axis", ir_get_i(&n, "axis"));
    gx[0] = ir_node_finish(g, m);
    return 0;
}

static int ce_grad_rule(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node];
    if (want[0]) gx[0] = ir_simple(g, OP_SoftmaxCrossEntropyLossGrad, (int[]){gy[0], n.in[0], n.in[1]}, 3);
    gx[1] = -1; /* labels are integers */
    return 0;
}

REF_PROTO(ref_softmax);
REF_PROTO(ref_log_softmax);
REF_PROTO(ref_softmax_grad);
REF_PROTO(ref_log_softmax_grad);
REF_PROTO(ref_softmax_ce);
REF_PROTO(ref_softmax_ce_grad);
#define AXIS_ATTR .nattrs = 1, .attrs = {{"axis", AT_INT, -1}}
const ir_opdef op_Softmax = {.name = "Softmax", .min_in = 1, .max_in = 1, .nout = 1, AXIS_ATTR,
                             .infer = softmax_infer, REF(ref_softmax), .grad = softmax_grad_rule};
const ir_opdef op_LogSoftmax = {.name = "LogSoftmax", .min_in = 1, .max_in = 1, .nout = 1, AXIS_ATTR,
                                .infer = softmax_infer, REF(ref_log_softmax), .grad = softmax_grad_rule};
/* SoftmaxGrad(gy, y) with y = Softmax(x); LogSoftmaxGrad(gy, y) with y = LogSoftmax(x) */
const ir_opdef op_SoftmaxGrad = {.name = "SoftmaxGrad", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_GRAD_ONLY,
                                 AXIS_ATTR, .infer = softmax_infer, REF(ref_softmax_grad)};
const ir_opdef op_LogSoftmaxGrad = {.name = "LogSoftmaxGrad", .min_in = 2, .max_in = 2, .nout = 1,
                                    .flags = OPF_GRAD_ONLY, AXIS_ATTR, .infer = softmax_infer,
                                    REF(ref_log_softmax_grad)};
const ir_opdef op_SoftmaxCrossEntropyLoss = {.name = "SoftmaxCrossEntropyLoss", .min_in = 2, .max_in = 2, .nout = 1,
                                             .infer = ce_infer, REF(ref_softmax_ce), .grad = ce_grad_rule};
const ir_opdef op_SoftmaxCrossEntropyLossGrad = {.name = "SoftmaxCrossEntropyLossGrad", .min_in = 3, .max_in = 3,
                                                 .nout = 1, .flags = OPF_GRAD_ONLY, .infer = ce_grad_infer,
                                                 REF(ref_softmax_ce_grad)};
#endif
