/* Layer normalization with ONNX (opset 17) semantics, which are torch.nn.LayerNorm's.
 *
 * LayerNormalization(X, Scale, [B]) -> Y, Mean, InvStdDev
 * attributes: axis (-1), epsilon (1e-5, torch's default; ONNX's too), stash_type (1; accepted
 *             for ONNX import, the kernels always accumulate in double).
 * X is viewed as [rows, cols] with rows = prod(X.shape[:axis]) and cols = prod(X.shape[axis:]);
 * every row is normalized with its own mean and biased variance:
 *   Y = (X - mean) / sqrt(var + epsilon) * Scale + B
 * Scale and B have shape X.shape[axis:] (torch's normalized_shape). Mean and InvStdDev have
 * X's shape with the dims from axis on set to 1, as in ONNX.
 *
 * LayerNormalizationGrad(gY, X, Scale, Mean, InvStdDev) -> dX, dScale, dB (gradient only):
 *   xhat = (X - mean) invstd,  g = gY Scale
 *   dX = invstd (g - mean_row(g) - xhat mean_row(g xhat))
 *   dScale = sum_rows(gY xhat),  dB = sum_rows(gY)
 * Mean and InvStdDev carry no gradient (they are statistics the backward reuses). */
#include "../opkit.h"
#include "parallel.h"

/* rows x cols view around the axis */
static void ln_view(const ir_node *n, const ir_shape *s, int64_t *rows, int64_t *cols) {
    int axis = ir_norm_axis(ir_get_i(n, "axis"), s->ndim);
    *rows = *cols = 1;
    for (int d = 0; d < s->ndim; d++) {
        if (d < axis)
            *rows *= s->d[d];
        else
            *cols *= s->d[d];
    }
}

/* ---- kernels (compiled for float and double) ---- */

int KN(ref_layernorm)(const ref_call *c) {
    int64_t R, C;
    ln_view(c->node, &c->in[0].shape, &R, &C);
    double eps = ir_get_f(c->node, "epsilon");
    const real *x = IN(0), *sc = IN(1), *bi = c->nin > 2 ? IN(2) : NULL;
    real *y = OUT(0), *mo = OUT(1), *io = OUT(2);
    OMP_FOR_IF(c->in[0].numel > OMP_MIN_WORK)
    for (int64_t r = 0; r < R; r++) {
        const real *xr = x + r * C;
        real *yr = y + r * C;
        double s = 0, v = 0;
        for (int64_t j = 0; j < C; j++) s += xr[j];
        double mean = s / (double)C;
        for (int64_t j = 0; j < C; j++) {
            double d = xr[j] - mean;
            v += d * d;
        }
        double invstd = 1.0 / sqrt(v / (double)C + eps);
        mo[r] = (real)mean;
        io[r] = (real)invstd;
        for (int64_t j = 0; j < C; j++) {
            double t = ((double)xr[j] - mean) * invstd * sc[j];
            yr[j] = (real)(bi ? t + bi[j] : t);
        }
    }
    return 0;
}

int KN(ref_layernorm_grad)(const ref_call *c) {
    int64_t R, C;
    ln_view(c->node, &c->in[1].shape, &R, &C);
    const real *gy = IN(0), *x = IN(1), *sc = IN(2), *mi = IN(3), *ii = IN(4);
    real *dx = OUT(0), *dsc = OUT(1), *dbi = OUT(2);
    int big = c->in[1].numel > OMP_MIN_WORK;
    (void)big; /* unused without OpenMP (float64 kernels) */
    OMP_FOR_IF(big)
    for (int64_t r = 0; r < R; r++) {
        const real *xr = x + r * C, *gr = gy + r * C;
        double mean = mi[r], invstd = ii[r], sg = 0, sgx = 0;
        for (int64_t j = 0; j < C; j++) {
            double g = (double)gr[j] * sc[j];
            sg += g;
            sgx += g * ((double)xr[j] - mean) * invstd;
        }
        sg /= (double)C;
        sgx /= (double)C;
        real *dr = dx + r * C;
        for (int64_t j = 0; j < C; j++) {
            double xhat = ((double)xr[j] - mean) * invstd;
            dr[j] = (real)(invstd * ((double)gr[j] * sc[j] - sg - xhat * sgx));
        }
    }
    OMP_FOR_IF(big)
    for (int64_t j = 0; j < C; j++) {
        double ss = 0, sb = 0;
        for (int64_t r = 0; r < R; r++) {
            double g = gy[r * C + j];
            ss += g * ((double)x[r * C + j] - mi[r]) * ii[r];
            sb += g;
        }
        dsc[j] = (real)ss;
        dbi[j] = (real)sb;
    }
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions, builders and gradient rules (compiled once) ---- */

static int ln_check_x(ir_graph *g, const ir_node *n, const ir_value *x, int *axis) {
    const char *op = ir_optable[n->op]->name;
    char s[96];
    ir_shape_str(&x->shape, s, sizeof s);
    if (!ir_dtype_is_float(x->dtype)) return ir_fail(g, "%s: needs a float input, got %s", op, ir_dtype_name(x->dtype));
    if (x->shape.ndim < 1) return ir_fail(g, "%s: input must have rank >= 1, got a scalar", op);
    *axis = ir_norm_axis(ir_get_i(n, "axis"), x->shape.ndim);
    if (*axis < 0)
        return ir_fail(g, "%s: axis %lld out of range for input %s", op, (long long)ir_get_i(n, "axis"), s);
    for (int d = *axis; d < x->shape.ndim; d++)
        if (x->shape.d[d] == 0) return ir_fail(g, "%s: normalized dims of input %s are empty", op, s);
    return 0;
}

/* value k of n must have dtype dt and shape want */
static int ln_check_like(ir_graph *g, const ir_node *n, int k, const char *what, const ir_shape *want, ir_dtype dt) {
    const char *op = ir_optable[n->op]->name;
    const ir_value *v = &g->vals[n->in[k]];
    if (v->dtype != dt)
        return ir_fail(g, "%s: %s is %s, input is %s", op, what, ir_dtype_name(v->dtype), ir_dtype_name(dt));
    if (!ir_shape_eq(&v->shape, want)) {
        char a[96], b[96];
        ir_shape_str(&v->shape, a, sizeof a);
        ir_shape_str(want, b, sizeof b);
        return ir_fail(g, "%s: %s has shape %s, expected %s", op, what, a, b);
    }
    return 0;
}

/* normalized shape X.shape[axis:] and statistics shape (X.shape with dims >= axis set to 1) */
static void ln_shapes(const ir_shape *xs, int axis, ir_shape *norm, ir_shape *stat) {
    *stat = *xs;
    norm->ndim = xs->ndim - axis;
    for (int d = axis; d < xs->ndim; d++) {
        norm->d[d - axis] = xs->d[d];
        stat->d[d] = 1;
    }
}

static int ln_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    int axis;
    if (ln_check_x(g, n, x, &axis)) return -1;
    ir_shape ns, ss;
    ln_shapes(&x->shape, axis, &ns, &ss);
    if (ln_check_like(g, n, 1, "scale", &ns, x->dtype)) return -1;
    if (n->nin > 2 && ln_check_like(g, n, 2, "bias", &ns, x->dtype)) return -1;
    if (!(ir_get_f(n, "epsilon") > 0)) return ir_fail(g, "LayerNormalization: epsilon must be > 0");
    os[0] = x->shape;
    os[1] = os[2] = ss;
    for (int k = 0; k < 3; k++) od[k] = x->dtype;
    return 0;
}

static int ln_grad_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[1]];
    int axis;
    if (ln_check_x(g, n, x, &axis)) return -1;
    ir_shape ns, ss;
    ln_shapes(&x->shape, axis, &ns, &ss);
    if (ln_check_like(g, n, 0, "output gradient", &x->shape, x->dtype) ||
        ln_check_like(g, n, 2, "scale", &ns, x->dtype) || ln_check_like(g, n, 3, "mean", &ss, x->dtype) ||
        ln_check_like(g, n, 4, "inv_std_dev", &ss, x->dtype))
        return -1;
    os[0] = x->shape;
    os[1] = os[2] = ns;
    for (int k = 0; k < 3; k++) od[k] = x->dtype;
    return 0;
}

/* constant of shape s filled with v, in dtype dt (f32 or f64) */
static int ln_fill_const(ir_graph *g, ir_dtype dt, ir_shape s, double v) {
    int64_t n = ir_numel(&s);
    size_t es = dt == DT_F64 ? sizeof(double) : sizeof(float);
    void *buf = malloc((size_t)n * es + 1);
    if (!buf) return ir_fail(g, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (dt == DT_F64)
            ((double *)buf)[i] = v;
        else
            ((float *)buf)[i] = (float)v;
    }
    int r = ir_const(g, dt == DT_F64 ? DT_F64 : DT_F32, s, buf);
    free(buf);
    return r;
}

int ir_layernorm(ir_graph *g, int x, int scale, int bias, int axis, double eps) {
    if (g->failed) return -1;
    if (x < 0 || x >= g->nvals) return ir_fail(g, "LayerNormalization: input 0 is invalid");
    if (scale < 0) { /* elementwise_affine=False: scale of ones (validated by shape inference) */
        const ir_value *xv = &g->vals[x];
        int ax = ir_norm_axis(axis, xv->shape.ndim);
        if (ax < 0)
            return ir_fail(g, "LayerNormalization: axis %d out of range for rank %d", axis, xv->shape.ndim);
        ir_shape ns, ss;
        ln_shapes(&xv->shape, ax, &ns, &ss);
        scale = ln_fill_const(g, xv->dtype, ns, 1.0);
    }
    int node = ir_node_new(g, OP_LayerNormalization, (int[]){x, scale, bias}, bias < 0 ? 2 : 3);
    ir_set_i(g, node, "axis", axis);
    ir_set_f(g, node, "epsilon", eps);
    return ir_node_finish(g, node);
}

static int ln_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node]; /* copy: new nodes may move g->nodes */
    if (gy[0] < 0 || !(want[0] || want[1] || (n.nin > 2 && want[2]))) return 0; /* statistics: no gradient */
    int m = ir_node_new(g, OP_LayerNormalizationGrad, (int[]){gy[0], n.in[0], n.in[1], n.out[1], n.out[2]}, 5);
    ir_set_i(g, m, "axis", ir_get_i(&n, "axis"));
    if (ir_node_finish(g, m) < 0) return -1;
    for (int k = 0; k < n.nin; k++)
        if (want[k]) gx[k] = g->nodes[m].out[k];
    return 0;
}

/* about 8 operations per element forward, 11 backward */
static int64_t ln_flops(const ir_graph *g, const ir_node *n) {
    return 8 * ir_numel(&g->vals[n->in[0]].shape);
}
static int64_t ln_grad_flops(const ir_graph *g, const ir_node *n) {
    return 11 * ir_numel(&g->vals[n->in[1]].shape);
}

REF_PROTO(ref_layernorm);
REF_PROTO(ref_layernorm_grad);
#define LN_AXIS {"axis", AT_INT, -1}
const ir_opdef op_LayerNormalization = {
    .name = "LayerNormalization", .min_in = 2, .max_in = 3, .nout = 3, .nattrs = 3,
    .attrs = {LN_AXIS, {"epsilon", AT_FLOAT, 1e-5}, {"stash_type", AT_INT, 1}},
    .infer = ln_infer, REF(ref_layernorm), .grad = ln_grad, .flops = ln_flops};
const ir_opdef op_LayerNormalizationGrad = {.name = "LayerNormalizationGrad", .min_in = 5, .max_in = 5, .nout = 3,
                                            .flags = OPF_GRAD_ONLY, .nattrs = 1, .attrs = {LN_AXIS},
                                            .infer = ln_grad_infer, REF(ref_layernorm_grad),
                                            .flops = ln_grad_flops};
#endif
