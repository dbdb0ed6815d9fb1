/* Elementwise ops with numpy broadcasting: Add Sub Mul Div Pow Max Neg Exp Log Sqrt Relu Gelu
 * GeluGrad Where0 Identity StopGradient. */
#include "../opkit.h"

/* ---- reference kernels (compiled for float and double) ---- */

typedef real (*bin_fn)(real a, real b);
typedef real (*un_fn)(real x);

static int KN(binary)(const ref_call *c, bin_fn f) {
    const ir_shape *os = &c->out[0].shape;
    int64_t sa[IR_MAX_DIMS], sb[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0};
    ir_bcast_strides(&c->in[0].shape, os, sa);
    ir_bcast_strides(&c->in[1].shape, os, sb);
    const real *a = IN(0), *b = IN(1);
    real *y = OUT(0);
    int64_t n = c->out[0].numel, oa = 0, ob = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = f(a[oa], b[ob]);
        for (int d = os->ndim - 1; d >= 0; d--) { /* odometer step */
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < os->d[d]) break;
            oa -= sa[d] * idx[d];
            ob -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
    return 0;
}

static int KN(unary)(const ref_call *c, un_fn f) {
    const real *x = IN(0);
    real *y = OUT(0);
    for (int64_t i = 0; i < c->out[0].numel; i++) y[i] = f(x[i]);
    return 0;
}

static real KN(f_add)(real a, real b) { return a + b; }
static real KN(f_sub)(real a, real b) { return a - b; }
static real KN(f_mul)(real a, real b) { return a * b; }
static real KN(f_div)(real a, real b) { return a / b; }
static real KN(f_pow)(real a, real b) { return (real)pow(a, b); }
static real KN(f_max)(real a, real b) { return a > b ? a : b; }
static real KN(f_where0)(real c, real x) { return c > 0 ? x : 0; }
static real KN(f_where0ge)(real c, real x) { return c >= 0 ? x : 0; }
static real KN(f_neg)(real x) { return -x; }
static real KN(f_exp)(real x) { return (real)exp(x); }
static real KN(f_log)(real x) { return (real)log(x); }
static real KN(f_sqrt)(real x) { return (real)sqrt(x); }
static real KN(f_relu)(real x) { return x > 0 ? x : 0; }
static real KN(f_gelu)(real x) { return (real)(0.5 * x * (1.0 + erf(x * M_SQRT1_2))); }
static real KN(f_gelu_grad)(real gy, real x) {
    double cdf = 0.5 * (1.0 + erf(x * M_SQRT1_2));
    double pdf = exp(-0.5 * (double)x * x) / sqrt(2.0 * M_PI);
    return (real)(gy * (cdf + x * pdf));
}

int KN(ref_add)(const ref_call *c) { return KN(binary)(c, KN(f_add)); }
int KN(ref_sub)(const ref_call *c) { return KN(binary)(c, KN(f_sub)); }
int KN(ref_mul)(const ref_call *c) { return KN(binary)(c, KN(f_mul)); }
int KN(ref_div)(const ref_call *c) { return KN(binary)(c, KN(f_div)); }
int KN(ref_pow)(const ref_call *c) { return KN(binary)(c, KN(f_pow)); }
int KN(ref_max)(const ref_call *c) { return KN(binary)(c, KN(f_max)); }
int KN(ref_where0)(const ref_call *c) {
    return KN(binary)(c, ir_get_i(c->node, "ge") ? KN(f_where0ge) : KN(f_where0));
}
int KN(ref_gelu_grad)(const ref_call *c) { return KN(binary)(c, KN(f_gelu_grad)); }
int KN(ref_neg)(const ref_call *c) { return KN(unary)(c, KN(f_neg)); }
int KN(ref_exp)(const ref_call *c) { return KN(unary)(c, KN(f_exp)); }
int KN(ref_log)(const ref_call *c) { return KN(unary)(c, KN(f_log)); }
int KN(ref_sqrt)(const ref_call *c) { return KN(unary)(c, KN(f_sqrt)); }
int KN(ref_relu)(const ref_call *c) { return KN(unary)(c, KN(f_relu)); }
int KN(ref_gelu)(const ref_call *c) { return KN(unary)(c, KN(f_gelu)); }
int KN(ref_identity)(const ref_call *c) {
    if (c->in[0].dtype != c->out[0].dtype) return -1;
    memcpy(c->out[0].data, c->in[0].data, (size_t)c->out[0].numel * ir_dtype_size(c->out[0].dtype));
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions, builders and gradient rules (compiled once) ---- */

static int in_shape_is(ir_graph *g, int v, ir_shape s) { return ir_shape_eq(&g->vals[v].shape, &s); }

int ir_sum_to(ir_graph *g, int x, ir_shape to) {
    if (x < 0) return -1;
    ir_shape xs = g->vals[x].shape;
    if (ir_shape_eq(&xs, &to)) return x;
    int64_t axes[IR_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < xs.ndim; i++) {
        int j = to.ndim - xs.ndim + i;
        if (j < 0 || (to.d[j] == 1 && xs.d[i] != 1)) axes[n++] = i;
    }
    int r = n ? ir_reduce_sum(g, x, axes, n, 1) : x;
    if (r >= 0 && !in_shape_is(g, r, to)) r = ir_reshape(g, r, to);
    return r;
}

#define BIN_BUILDER(fname, OPN)                                                                                   \
    int fname(ir_graph *g, int a, int b) {                                                                         \
        int in[2] = {a, b};                                                                                        \
        return ir_simple(g, OP_##OPN, in, 2);                                                                      \
    }
#define UN_BUILDER(fname, OPN)                                                                                    \
    int fname(ir_graph *g, int x) { return ir_simple(g, OP_##OPN, &x, 1); }
BIN_BUILDER(ir_add, Add)
BIN_BUILDER(ir_sub, Sub)
BIN_BUILDER(ir_mul, Mul)
BIN_BUILDER(ir_div, Div)
BIN_BUILDER(ir_pow, Pow)
BIN_BUILDER(ir_max, Max)
BIN_BUILDER(ir_where0, Where0)
UN_BUILDER(ir_neg, Neg)
UN_BUILDER(ir_exp, Exp)
UN_BUILDER(ir_log, Log)
UN_BUILDER(ir_sqrt, Sqrt)
UN_BUILDER(ir_relu, Relu)
UN_BUILDER(ir_gelu, Gelu)
UN_BUILDER(ir_identity, Identity)
UN_BUILDER(ir_stop_gradient, StopGradient)

int ir_add_scalar(ir_graph *g, int x, double s) { return ir_add(g, x, ir_scalar(g, s)); }
int ir_mul_scalar(ir_graph *g, int x, double s) { return ir_mul(g, x, ir_scalar(g, s)); }

#define SHAPE(i) (g->vals[g->nodes[node].in[i]].shape)
#define INV(i) (g->nodes[node].in[i])
#define OUTV(k) (g->nodes[node].out[k])

static int add_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s0 = SHAPE(0), s1 = SHAPE(1);
    if (want[0]) gx[0] = ir_sum_to(g, gy[0], s0);
    if (want[1]) gx[1] = ir_sum_to(g, gy[0], s1);
    return 0;
}
static int sub_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s0 = SHAPE(0), s1 = SHAPE(1);
    if (want[0]) gx[0] = ir_sum_to(g, gy[0], s0);
    if (want[1]) gx[1] = ir_sum_to(g, ir_neg(g, gy[0]), s1);
    return 0;
}
static int mul_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s0 = SHAPE(0), s1 = SHAPE(1);
    int a = INV(0), b = INV(1);
    if (want[0]) gx[0] = ir_sum_to(g, ir_mul(g, gy[0], b), s0);
    if (want[1]) gx[1] = ir_sum_to(g, ir_mul(g, gy[0], a), s1);
    return 0;
}
static int div_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s0 = SHAPE(0), s1 = SHAPE(1);
    int b = INV(1), y = OUTV(0);
    int gb = want[0] || want[1] ? ir_div(g, gy[0], b) : -1; /* gy / b */
    if (want[0]) gx[0] = ir_sum_to(g, gb, s0);
    if (want[1]) gx[1] = ir_sum_to(g, ir_neg(g, ir_mul(g, gb, y)), s1); /* -gy a / b^2 */
    return 0;
}
static int pow_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s0 = SHAPE(0), s1 = SHAPE(1);
    int a = INV(0), b = INV(1), y = OUTV(0);
    if (want[0]) /* gy * b * a^(b-1) */
        gx[0] = ir_sum_to(g, ir_mul(g, gy[0], ir_mul(g, b, ir_pow(g, a, ir_add_scalar(g, b, -1.0)))), s0);
    if (want[1]) gx[1] = ir_sum_to(g, ir_mul(g, gy[0], ir_mul(g, y, ir_log(g, a))), s1);
    return 0;
}
static int max_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s0 = SHAPE(0), s1 = SHAPE(1);
    /* the larger input takes the gradient; ties go to b */
    int ga = ir_where0(g, ir_sub(g, INV(0), INV(1)), gy[0]);
    if (want[0]) gx[0] = ir_sum_to(g, ga, s0);
    if (want[1]) gx[1] = ir_sum_to(g, ir_sub(g, gy[0], ga), s1);
    return 0;
}
static int where0_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    /* shapes copied first: the builders below may move g->vals (realloc) */
    ir_shape s1 = SHAPE(1);
    gx[0] = -1; /* the condition is piecewise constant */
    if (!want[1]) return 0;
    int m = ir_node_new(g, OP_Where0, (int[]){INV(0), gy[0]}, 2);
    ir_set_i(g, m, "ge", ir_get_i(&g->nodes[node], "ge"));
    gx[1] = ir_sum_to(g, ir_node_finish(g, m), s1);
    return 0;
}
static int neg_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)node, (void)want;
    gx[0] = ir_neg(g, gy[0]);
    return 0;
}
static int exp_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_mul(g, gy[0], OUTV(0));
    return 0;
}
static int log_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_div(g, gy[0], INV(0));
    return 0;
}
static int sqrt_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_div(g, ir_mul_scalar(g, gy[0], 0.5), OUTV(0));
    return 0;
}
static int relu_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_where0(g, OUTV(0), gy[0]);
    return 0;
}
static int gelu_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    int in[2] = {gy[0], INV(0)};
    gx[0] = ir_simple(g, OP_GeluGrad, in, 2);
    return 0;
}
static int identity_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)g, (void)node, (void)want;
    gx[0] = gy[0];
    return 0;
}

static int infer_float_same(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (!ir_dtype_is_float(g->vals[n->in[0]].dtype))
        return ir_fail(g, "%s: needs a float input, got %s", ir_optable[n->op]->name,
                       ir_dtype_name(g->vals[n->in[0]].dtype));
    return ir_infer_same(g, n, os, od);
}
static int infer_identity(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) { return ir_infer_same(g, n, os, od); }

#define BINOP(Name, kern, gr, fl)                                                                                 \
    REF_PROTO(kern);                                                                                               \
    const ir_opdef op_##Name = {.name = #Name, .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_ELEMENTWISE | (fl), \
                                .infer = ir_infer_broadcast, REF(kern), .grad = gr};
#define UNOP(Name, kern, gr, fl, inf)                                                                             \
    REF_PROTO(kern);                                                                                               \
    const ir_opdef op_##Name = {.name = #Name, .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_ELEMENTWISE | (fl), \
                                .infer = inf, REF(kern), .grad = gr};

BINOP(Add, ref_add, add_grad, 0)
BINOP(Sub, ref_sub, sub_grad, 0)
BINOP(Mul, ref_mul, mul_grad, 0)
BINOP(Div, ref_div, div_grad, 0)
BINOP(Pow, ref_pow, pow_grad, 0)
BINOP(Max, ref_max, max_grad, 0)
REF_PROTO(ref_where0);
/* Where0(cond, x) = x where cond > 0 (cond >= 0 with ge=1), else 0 */
const ir_opdef op_Where0 = {.name = "Where0", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_ELEMENTWISE,
                            .nattrs = 1, .attrs = {{"ge", AT_INT, 0}}, .infer = ir_infer_broadcast, REF(ref_where0),
                            .grad = where0_grad};
BINOP(GeluGrad, ref_gelu_grad, NULL, OPF_GRAD_ONLY)
UNOP(Neg, ref_neg, neg_grad, 0, infer_float_same)
UNOP(Exp, ref_exp, exp_grad, 0, infer_float_same)
UNOP(Log, ref_log, log_grad, 0, infer_float_same)
UNOP(Sqrt, ref_sqrt, sqrt_grad, 0, infer_float_same)
UNOP(Relu, ref_relu, relu_grad, 0, infer_float_same)
UNOP(Gelu, ref_gelu, gelu_grad, 0, infer_float_same)
UNOP(Identity, ref_identity, identity_grad, 0, infer_identity)
UNOP(StopGradient, ref_identity, NULL, OPF_STOP, infer_identity)
#endif
