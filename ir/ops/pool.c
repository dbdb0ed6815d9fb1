/* Pooling, NCHW: MaxPool (ONNX attributes kernel_shape, strides, pads; padded cells never win),
 * MaxPoolGrad (gradient to the first maximum of each window, as PyTorch) and GlobalAveragePool. */
#include "../opkit.h"
#include "parallel.h"

typedef struct {
    int64_t N, C, H, W, KH, KW, sh, sw, phb, pwb, phe, pwe, OH, OW;
} pool_geom;

static int pool_geom_of(const ir_node *n, const ir_shape *xs, pool_geom *q, char *why, size_t nwhy) {
    const ir_attrval *ks = ir_get(n, "kernel_shape"), *st = ir_get(n, "strides"), *pd = ir_get(n, "pads");
    memset(q, 0, sizeof *q);
#define BAD(...)                                                                                                   \
    do {                                                                                                           \
        if (why) snprintf(why, nwhy, __VA_ARGS__);                                                                 \
        return -1;                                                                                                 \
    } while (0)
    if (xs->ndim != 4) BAD("input must be [N,C,H,W], got rank %d", xs->ndim);
    if (ks->n != 2) BAD("kernel_shape needs 2 values, got %d", ks->n);
    if (st->n != 0 && st->n != 2) BAD("strides needs 2 values, got %d", st->n);
    if (pd->n != 0 && pd->n != 4) BAD("pads needs 4 values (h_begin,w_begin,h_end,w_end), got %d", pd->n);
    q->N = xs->d[0], q->C = xs->d[1], q->H = xs->d[2], q->W = xs->d[3];
    q->KH = ks->v[0], q->KW = ks->v[1];
    q->sh = st->n ? st->v[0] : 1, q->sw = st->n ? st->v[1] : 1;
    q->phb = pd->n ? pd->v[0] : 0, q->pwb = pd->n ? pd->v[1] : 0;
    q->phe = pd->n ? pd->v[2] : 0, q->pwe = pd->n ? pd->v[3] : 0;
    if (q->KH < 1 || q->KW < 1 || q->sh < 1 || q->sw < 1) BAD("kernel_shape and strides must be >= 1");
    if (q->phb < 0 || q->pwb < 0 || q->phe < 0 || q->pwe < 0) BAD("pads must be >= 0");
    if (q->phb >= q->KH || q->phe >= q->KH || q->pwb >= q->KW || q->pwe >= q->KW)
        BAD("pads must be smaller than the kernel (a window of padding only has no maximum)");
    int64_t eh, ew; /* H + pads - K, checked: attributes read from files are untrusted */
    if (__builtin_add_overflow(q->H, q->phb, &eh) || __builtin_add_overflow(eh, q->phe, &eh) ||
        __builtin_sub_overflow(eh, q->KH, &eh) || __builtin_add_overflow(q->W, q->pwb, &ew) ||
        __builtin_add_overflow(ew, q->pwe, &ew) || __builtin_sub_overflow(ew, q->KW, &ew))
        BAD("sizes or pads are too large");
    if (eh < 0 || ew < 0) BAD("kernel %lldx%lld is larger than the padded input", (long long)q->KH, (long long)q->KW);
    q->OH = eh / q->sh + 1;
    q->OW = ew / q->sw + 1;
    return 0;
#undef BAD
}

/* ---- kernels (compiled for float and double) ---- */

/* index in the plane of the first maximum of output cell (oh, ow); NaN wins, as in PyTorch */
static inline int64_t KN(window_argmax)(const pool_geom *q, const real *xp, int64_t oh, int64_t ow) {
    int64_t h0 = oh * q->sh - q->phb, w0 = ow * q->sw - q->pwb;
    int64_t hs = h0 < 0 ? 0 : h0, ws = w0 < 0 ? 0 : w0;
    int64_t he = h0 + q->KH < q->H ? h0 + q->KH : q->H, we = w0 + q->KW < q->W ? w0 + q->KW : q->W;
    int64_t bi = hs * q->W + ws;
    real best = -INFINITY;
    for (int64_t ih = hs; ih < he; ih++)
        for (int64_t iw = ws; iw < we; iw++) {
            real v = xp[ih * q->W + iw];
            if (v > best || isnan(v)) best = v, bi = ih * q->W + iw;
        }
    return bi;
}

int KN(ref_maxpool)(const ref_call *c) {
    pool_geom q;
    if (pool_geom_of(c->node, &c->in[0].shape, &q, c->err, IR_ERRLEN)) return -1;
    const real *x = IN(0);
    real *y = OUT(0);
    int64_t planes = q.N * q.C;
    OMP_FOR_IF(c->out[0].numel * q.KH * q.KW > OMP_MIN_WORK)
    for (int64_t p = 0; p < planes; p++) {
        const real *xp = x + p * q.H * q.W;
        real *yp = y + p * q.OH * q.OW;
        for (int64_t oh = 0; oh < q.OH; oh++)
            for (int64_t ow = 0; ow < q.OW; ow++) yp[oh * q.OW + ow] = xp[KN(window_argmax)(&q, xp, oh, ow)];
    }
    return 0;
}

/* MaxPoolGrad(gY, X) -> dX */
int KN(ref_maxpool_grad)(const ref_call *c) {
    pool_geom q;
    if (pool_geom_of(c->node, &c->in[1].shape, &q, c->err, IR_ERRLEN)) return -1;
    const real *gy = IN(0), *x = IN(1);
    real *dx = OUT(0);
    int64_t planes = q.N * q.C;
    OMP_FOR_IF(c->in[0].numel * q.KH * q.KW > OMP_MIN_WORK)
    for (int64_t p = 0; p < planes; p++) {
        const real *xp = x + p * q.H * q.W, *gp = gy + p * q.OH * q.OW;
        real *dp = dx + p * q.H * q.W;
        memset(dp, 0, (size_t)(q.H * q.W) * sizeof(real));
        for (int64_t oh = 0; oh < q.OH; oh++)
            for (int64_t ow = 0; ow < q.OW; ow++) dp[KN(window_argmax)(&q, xp, oh, ow)] += gp[oh * q.OW + ow];
    }
    return 0;
}

int KN(ref_global_avg_pool)(const ref_call *c) {
    const ir_shape *xs = &c->in[0].shape;
    int64_t planes = xs->d[0] * xs->d[1], hw = planes ? c->in[0].numel / planes : 0;
    const real *x = IN(0);
    real *y = OUT(0);
    OMP_FOR_IF(c->in[0].numel > OMP_MIN_WORK)
    for (int64_t p = 0; p < planes; p++) {
        double s = 0;
        for (int64_t i = 0; i < hw; i++) s += x[p * hw + i];
        y[p] = (real)(s / (double)hw);
    }
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions, builders and gradient rules (compiled once) ---- */

static int pool_float(ir_graph *g, const ir_node *n, int v) {
    if (ir_dtype_is_float(g->vals[v].dtype)) return 0;
    return ir_fail(g, "%s: needs a float tensor, got %s", ir_optable[n->op]->name, ir_dtype_name(g->vals[v].dtype));
}

static int maxpool_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    char why[200];
    pool_geom q;
    if (pool_float(g, n, n->in[0])) return -1;
    if (pool_geom_of(n, &g->vals[n->in[0]].shape, &q, why, sizeof why)) return ir_fail(g, "MaxPool: %s", why);
    os[0] = IR_SHAPE(q.N, q.C, q.OH, q.OW);
    od[0] = g->vals[n->in[0]].dtype;
    return 0;
}

static int maxpool_grad_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    char why[200];
    pool_geom q;
    const ir_value *gy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]];
    if (pool_float(g, n, n->in[0]) || pool_float(g, n, n->in[1])) return -1;
    if (pool_geom_of(n, &x->shape, &q, why, sizeof why)) return ir_fail(g, "MaxPoolGrad: %s", why);
    ir_shape want = IR_SHAPE(q.N, q.C, q.OH, q.OW);
    if (!ir_shape_eq(&gy->shape, &want) || gy->dtype != x->dtype) {
        char a[96], b[96];
        ir_shape_str(&gy->shape, a, sizeof a);
        ir_shape_str(&want, b, sizeof b);
        return ir_fail(g, "MaxPoolGrad: output gradient is %s %s, expected %s %s", ir_dtype_name(gy->dtype), a,
                       ir_dtype_name(x->dtype), b);
    }
    os[0] = x->shape;
    od[0] = x->dtype;
    return 0;
}

static int gap_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    if (pool_float(g, n, n->in[0])) return -1;
    if (x->shape.ndim < 3) return ir_fail(g, "GlobalAveragePool: input must be [N,C,spatial...], got rank %d", x->shape.ndim);
    if (ir_numel(&x->shape) == 0) return ir_fail(g, "GlobalAveragePool: empty input");
    os[0] = x->shape;
    for (int d = 2; d < x->shape.ndim; d++) os[0].d[d] = 1;
    od[0] = x->dtype;
    return 0;
}

int ir_maxpool(ir_graph *g, int x, int kernel, int stride, int pad) {
    int node = ir_node_new(g, OP_MaxPool, &x, 1);
    int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride}, p[4] = {pad, pad, pad, pad};
    ir_set_ints(g, node, "kernel_shape", k, 2);
    ir_set_ints(g, node, "strides", s, 2);
    ir_set_ints(g, node, "pads", p, 4);
    return ir_node_finish(g, node);
}

int ir_global_avg_pool(ir_graph *g, int x) { return ir_simple(g, OP_GlobalAveragePool, &x, 1); }

static int maxpool_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node];
    (void)want;
    int m = ir_node_new(g, OP_MaxPoolGrad, (int[]){gy[0], n.in[0]}, 2);
    if (m < 0) return -1;
    for (int k = 0; k < 3; k++) g->nodes[m].attr[k] = n.attr[k];
    gx[0] = ir_node_finish(g, m);
    return 0;
}

static int gap_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_shape xs = g->vals[g->nodes[node].in[0]].shape;
    double hw = (double)ir_numel(&xs) / (double)(xs.d[0] * xs.d[1]);
    gx[0] = ir_mul_scalar(g, ir_expand(g, gy[0], xs), 1.0 / hw);
    return 0;
}

#define POOL_ATTRS .nattrs = 3, .attrs = {{"kernel_shape", AT_INTS, 0}, {"strides", AT_INTS, 0}, {"pads", AT_INTS, 0}}
REF_PROTO(ref_maxpool);
REF_PROTO(ref_maxpool_grad);
REF_PROTO(ref_global_avg_pool);
const ir_opdef op_MaxPool = {.name = "MaxPool", .min_in = 1, .max_in = 1, .nout = 1, POOL_ATTRS,
                             .infer = maxpool_infer, REF(ref_maxpool), .grad = maxpool_grad};
/* MaxPoolGrad(gY, X) -> dX, attributes as the MaxPool */
const ir_opdef op_MaxPoolGrad = {.name = "MaxPoolGrad", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_GRAD_ONLY,
                                 POOL_ATTRS, .infer = maxpool_grad_infer, REF(ref_maxpool_grad)};
const ir_opdef op_GlobalAveragePool = {.name = "GlobalAveragePool", .min_in = 1, .max_in = 1, .nout = 1,
                                       .infer = gap_infer, REF(ref_global_avg_pool), .grad = gap_grad};
#endif
