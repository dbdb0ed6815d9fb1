/* 2-D convolution, NCHW: Conv (ONNX attributes strides, pads, dilations, group) and its gradient
 * ops ConvGradInput (dX from gY and W) and ConvGradWeight (dW from gY and X).
 *
 * Reference kernels: im2col + GEMM. The batch is processed in chunks whose column matrix stays
 * under CONV_COL_LIMIT elements; one GEMM per chunk and group keeps the GEMMs large (BLAS
 * threads them), and im2col/col2im run under OpenMP over (sample, channel). */
#include "../opkit.h"
#include "parallel.h"

#define CONV_COL_LIMIT ((int64_t)1 << 22) /* elements of one column matrix */

/* ---- geometry shared by the three ops (compiled in both kernel builds) ---- */

typedef struct {
    int64_t N, C, H, W;    /* input */
    int64_t M, Cg, KH, KW; /* weight [M, Cg, KH, KW] */
    int64_t G, Mg;         /* groups, output channels per group */
    int64_t OH, OW;
    int64_t sh, sw, phb, pwb, phe, pwe, dh, dw;
} conv_geom;

/* Fills q from the node's attributes and the input/weight shapes; returns 0, or -1 with a reason
 * in why (when why is not NULL). */
static int conv_geom_of(const ir_node *n, const ir_shape *xs, const ir_shape *ws, conv_geom *q, char *why,
                        size_t nwhy) {
    const ir_attrval *st = ir_get(n, "strides"), *pd = ir_get(n, "pads"), *dl = ir_get(n, "dilations");
    memset(q, 0, sizeof *q);
#define BAD(...)                                                                                                   \
    do {                                                                                                           \
        if (why) snprintf(why, nwhy, __VA_ARGS__);                                                                 \
        return -1;                                                                                                 \
    } while (0)
    if (xs->ndim != 4) BAD("input must be [N,C,H,W], got rank %d", xs->ndim);
    if (ws->ndim != 4) BAD("weight must be [M,C/group,kH,kW], got rank %d", ws->ndim);
    if (st->n != 0 && st->n != 2) BAD("strides needs 2 values, got %d", st->n);
    if (pd->n != 0 && pd->n != 4) BAD("pads needs 4 values (h_begin,w_begin,h_end,w_end), got %d", pd->n);
    if (dl->n != 0 && dl->n != 2) BAD("dilations needs 2 values, got %d", dl->n);
    q->N = xs->d[0], q->C = xs->d[1], q->H = xs->d[2], q->W = xs->d[3];
    q->M = ws->d[0], q->Cg = ws->d[1], q->KH = ws->d[2], q->KW = ws->d[3];
    q->G = ir_get_i(n, "group");
    q->sh = st->n ? st->v[0] : 1, q->sw = st->n ? st->v[1] : 1;
    q->phb = pd->n ? pd->v[0] : 0, q->pwb = pd->n ? pd->v[1] : 0;
    q->phe = pd->n ? pd->v[2] : 0, q->pwe = pd->n ? pd->v[3] : 0;
    q->dh = dl->n ? dl->v[0] : 1, q->dw = dl->n ? dl->v[1] : 1;
    if (q->G < 1) BAD("group must be >= 1, got %lld", (long long)q->G);
    if (q->sh < 1 || q->sw < 1 || q->dh < 1 || q->dw < 1) BAD("strides and dilations must be >= 1");
    if (q->phb < 0 || q->pwb < 0 || q->phe < 0 || q->pwe < 0) BAD("pads must be >= 0");
    for (int i = 0; i < 4; i++)
        if (xs->d[i] < 1 || ws->d[i] < 1) BAD("empty input or weight");
    if (q->C % q->G || q->M % q->G)
        BAD("group %lld does not divide input channels %lld and output channels %lld", (long long)q->G,
            (long long)q->C, (long long)q->M);
    if (q->Cg != q->C / q->G)
        BAD("weight has %lld input channels, input has %lld channels in %lld group(s)", (long long)q->Cg,
            (long long)q->C, (long long)q->G);
    q->Mg = q->M / q->G;
    /* eh = H + pads - dilation * (K - 1) - 1, checked: attributes read from files are untrusted */
    int64_t eh, ew, sph, spw;
    if (__builtin_mul_overflow(q->dh, q->KH - 1, &sph) || __builtin_mul_overflow(q->dw, q->KW - 1, &spw) ||
        __builtin_add_overflow(q->H, q->phb, &eh) || __builtin_add_overflow(eh, q->phe, &eh) ||
        __builtin_sub_overflow(eh, sph, &eh) || __builtin_sub_overflow(eh, 1, &eh) ||
        __builtin_add_overflow(q->W, q->pwb, &ew) || __builtin_add_overflow(ew, q->pwe, &ew) ||
        __builtin_sub_overflow(ew, spw, &ew) || __builtin_sub_overflow(ew, 1, &ew))
        BAD("sizes, pads or dilations are too large");
    if (eh < 0 || ew < 0) BAD("kernel %lldx%lld is larger than the padded input", (long long)q->KH, (long long)q->KW);
    q->OH = eh / q->sh + 1;
    q->OW = ew / q->sw + 1;
    return 0;
#undef BAD
}

/* first/last+1 output index o with 0 <= o*s + off < L, clamped to [0, O) */
static void conv_valid_range(int64_t off, int64_t s, int64_t L, int64_t O, int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = L - off <= 0 ? 0 : (L - off + s - 1) / s;
    if (a > O) a = O;
    if (b > O) b = O;
    if (b < a) b = a;
    *lo = a, *hi = b;
}

static int64_t conv_chunk(const conv_geom *q) {
    int64_t per = q->Cg * q->KH * q->KW * q->OH * q->OW;
    int64_t ch = per > 0 ? CONV_COL_LIMIT / per : 1;
    if (ch < 1) ch = 1;
    if (ch > q->N) ch = q->N;
    return ch;
}

/* ---- kernels (compiled for float and double) ---- */

/* Rows (c, ki, kj) of the column matrix for one channel plane xc [H, W]: col has row stride ld and
 * this sample's columns start at col (P = OH*OW of them). */
static void KN(im2col_plane)(const conv_geom *q, const real *xc, real *col, int64_t ld) {
    for (int64_t ki = 0; ki < q->KH; ki++)
        for (int64_t kj = 0; kj < q->KW; kj++) {
            real *row = col + (ki * q->KW + kj) * ld;
            int64_t ohlo, ohhi, owlo, owhi, offh = ki * q->dh - q->phb, offw = kj * q->dw - q->pwb;
            conv_valid_range(offh, q->sh, q->H, q->OH, &ohlo, &ohhi);
            conv_valid_range(offw, q->sw, q->W, q->OW, &owlo, &owhi);
            memset(row, 0, (size_t)(ohlo * q->OW) * sizeof(real));
            for (int64_t oh = ohlo; oh < ohhi; oh++) {
                real *r = row + oh * q->OW;
                const real *xr = xc + (oh * q->sh + offh) * q->W + offw;
                for (int64_t ow = 0; ow < owlo; ow++) r[ow] = 0;
                if (q->sw == 1)
                    memcpy(r + owlo, xr + owlo, (size_t)(owhi - owlo) * sizeof(real));
                else
                    for (int64_t ow = owlo; ow < owhi; ow++) r[ow] = xr[ow * q->sw];
                for (int64_t ow = owhi; ow < q->OW; ow++) r[ow] = 0;
            }
            memset(row + ohhi * q->OW, 0, (size_t)((q->OH - ohhi) * q->OW) * sizeof(real));
        }
}

/* Adds the column rows of one channel back into its plane dxc [H, W] (transpose of im2col). */
static void KN(col2im_plane)(const conv_geom *q, const real *col, int64_t ld, real *dxc) {
    for (int64_t ki = 0; ki < q->KH; ki++)
        for (int64_t kj = 0; kj < q->KW; kj++) {
            const real *row = col + (ki * q->KW + kj) * ld;
            int64_t ohlo, ohhi, owlo, owhi, offh = ki * q->dh - q->phb, offw = kj * q->dw - q->pwb;
            conv_valid_range(offh, q->sh, q->H, q->OH, &ohlo, &ohhi);
            conv_valid_range(offw, q->sw, q->W, q->OW, &owlo, &owhi);
            for (int64_t oh = ohlo; oh < ohhi; oh++) {
                const real *r = row + oh * q->OW;
                real *xr = dxc + (oh * q->sh + offh) * q->W + offw;
                for (int64_t ow = owlo; ow < owhi; ow++) xr[ow * q->sw] += r[ow];
            }
        }
}

/* Column matrix [Cg*KH*KW, ns*P] of group g for samples n0 .. n0+ns-1. */
static void KN(im2col)(const conv_geom *q, const real *x, int64_t n0, int64_t ns, int64_t g, real *col) {
    int64_t P = q->OH * q->OW, ld = ns * P, kk = q->KH * q->KW;
    OMP_FOR2_IF(ns * q->Cg * kk * P > OMP_MIN_WORK)
    for (int64_t s = 0; s < ns; s++)
        for (int64_t c = 0; c < q->Cg; c++) {
            const real *xc = x + (((n0 + s) * q->C) + g * q->Cg + c) * q->H * q->W;
            KN(im2col_plane)(q, xc, col + c * kk * ld + s * P, ld);
        }
}

static void KN(col2im)(const conv_geom *q, const real *col, int64_t n0, int64_t ns, int64_t g, real *dx) {
    int64_t P = q->OH * q->OW, ld = ns * P, kk = q->KH * q->KW;
    OMP_FOR2_IF(ns * q->Cg * kk * P > OMP_MIN_WORK)
    for (int64_t s = 0; s < ns; s++)
        for (int64_t c = 0; c < q->Cg; c++) {
            real *dxc = dx + (((n0 + s) * q->C) + g * q->Cg + c) * q->H * q->W;
            KN(col2im_plane)(q, col + c * kk * ld + s * P, ld, dxc);
        }
}

/* gYc [Mg, ns*P] <- rows of group g of gY [N, M, P] for samples n0.. */
static void KN(gather_gy)(const conv_geom *q, const real *gy, int64_t n0, int64_t ns, int64_t g, real *gyc) {
    int64_t P = q->OH * q->OW;
    OMP_FOR2_IF(ns * q->Mg * P > OMP_MIN_WORK)
    for (int64_t m = 0; m < q->Mg; m++)
        for (int64_t s = 0; s < ns; s++)
            memcpy(gyc + m * ns * P + s * P, gy + ((n0 + s) * q->M + g * q->Mg + m) * P, (size_t)P * sizeof(real));
}

static int KN(conv_oom)(const ref_call *c, const char *op) {
    snprintf(c->err, IR_ERRLEN, "%s: out of memory for the column buffer", op);
    return -1;
}

int KN(ref_conv)(const ref_call *c) {
    conv_geom q;
    if (conv_geom_of(c->node, &c->in[0].shape, &c->in[1].shape, &q, c->err, IR_ERRLEN)) return -1;
    const real *x = IN(0), *w = IN(1), *b = c->nin > 2 ? IN(2) : NULL;
    real *y = OUT(0);
    int64_t P = q.OH * q.OW, K = q.Cg * q.KH * q.KW, chunk = conv_chunk(&q);
    real *col = malloc((size_t)(K * chunk * P) * sizeof(real));
    real *tmp = chunk > 1 ? malloc((size_t)(q.Mg * chunk * P) * sizeof(real)) : NULL;
    if (!col || (chunk > 1 && !tmp)) {
        free(col), free(tmp);
        return KN(conv_oom)(c, "Conv");
    }
    for (int64_t n0 = 0; n0 < q.N; n0 += chunk) {
        int64_t ns = q.N - n0 < chunk ? q.N - n0 : chunk;
        for (int64_t g = 0; g < q.G; g++) {
            KN(im2col)(&q, x, n0, ns, g, col);
            const real *wg = w + g * q.Mg * K;
            if (ns == 1) { /* straight into Y */
                REF_GEMM(0, 0, q.Mg, P, K, 1, wg, K, col, P, 0, y + (n0 * q.M + g * q.Mg) * P, P);
                continue;
            }
            REF_GEMM(0, 0, q.Mg, ns * P, K, 1, wg, K, col, ns * P, 0, tmp, ns * P);
            OMP_FOR2_IF(ns * q.Mg * P > OMP_MIN_WORK)
            for (int64_t s = 0; s < ns; s++)
                for (int64_t m = 0; m < q.Mg; m++)
                    memcpy(y + ((n0 + s) * q.M + g * q.Mg + m) * P, tmp + m * ns * P + s * P, (size_t)P * sizeof(real));
        }
    }
    if (b) {
        OMP_FOR2_IF(q.N * q.M * P > OMP_MIN_WORK)
        for (int64_t n = 0; n < q.N; n++)
            for (int64_t m = 0; m < q.M; m++) {
                real *yp = y + (n * q.M + m) * P, bm = b[m];
                for (int64_t p = 0; p < P; p++) yp[p] += bm;
            }
    }
    free(col);
    free(tmp);
    return 0;
}

/* ConvGradInput(gY, W): dX = col2im(W_g^T gY_g) per group. */
int KN(ref_conv_grad_input)(const ref_call *c) {
    conv_geom q;
    if (conv_geom_of(c->node, &c->out[0].shape, &c->in[1].shape, &q, c->err, IR_ERRLEN)) return -1;
    const real *gy = IN(0), *w = IN(1);
    real *dx = OUT(0);
    int64_t P = q.OH * q.OW, K = q.Cg * q.KH * q.KW, chunk = conv_chunk(&q);
    real *col = malloc((size_t)(K * chunk * P) * sizeof(real));
    real *gyc = chunk > 1 ? malloc((size_t)(q.Mg * chunk * P) * sizeof(real)) : NULL;
    if (!col || (chunk > 1 && !gyc)) {
        free(col), free(gyc);
        return KN(conv_oom)(c, "ConvGradInput");
    }
    memset(dx, 0, (size_t)c->out[0].numel * sizeof(real));
    for (int64_t n0 = 0; n0 < q.N; n0 += chunk) {
        int64_t ns = q.N - n0 < chunk ? q.N - n0 : chunk;
        for (int64_t g = 0; g < q.G; g++) {
            const real *a = gy + (n0 * q.M + g * q.Mg) * P;
            if (ns > 1) {
                KN(gather_gy)(&q, gy, n0, ns, g, gyc);
                a = gyc;
            }
            REF_GEMM(1, 0, K, ns * P, q.Mg, 1, w + g * q.Mg * K, K, a, ns * P, 0, col, ns * P);
            KN(col2im)(&q, col, n0, ns, g, dx);
        }
    }
    free(col);
    free(gyc);
    return 0;
}

/* ConvGradWeight(gY, X): dW_g = sum over samples of gY_g col^T. */
int KN(ref_conv_grad_weight)(const ref_call *c) {
    conv_geom q;
    if (conv_geom_of(c->node, &c->in[1].shape, &c->out[0].shape, &q, c->err, IR_ERRLEN)) return -1;
    const real *gy = IN(0), *x = IN(1);
    real *dw = OUT(0);
    int64_t P = q.OH * q.OW, K = q.Cg * q.KH * q.KW, chunk = conv_chunk(&q);
    real *col = malloc((size_t)(K * chunk * P) * sizeof(real));
    real *gyc = chunk > 1 ? malloc((size_t)(q.Mg * chunk * P) * sizeof(real)) : NULL;
    if (!col || (chunk > 1 && !gyc)) {
        free(col), free(gyc);
        return KN(conv_oom)(c, "ConvGradWeight");
    }
    for (int64_t n0 = 0; n0 < q.N; n0 += chunk) {
        int64_t ns = q.N - n0 < chunk ? q.N - n0 : chunk;
        for (int64_t g = 0; g < q.G; g++) {
            KN(im2col)(&q, x, n0, ns, g, col);
            const real *a = gy + (n0 * q.M + g * q.Mg) * P;
            if (ns > 1) {
                KN(gather_gy)(&q, gy, n0, ns, g, gyc);
                a = gyc;
            }
            REF_GEMM(0, 1, q.Mg, K, ns * P, 1, a, ns * P, col, ns * P, n0 ? 1 : 0, dw + g * q.Mg * K, K);
        }
    }
    free(col);
    free(gyc);
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions, builders and gradient rules (compiled once) ---- */

#define CONV_ATTRS                                                                                                 \
    {"strides", AT_INTS, 0}, {"pads", AT_INTS, 0}, {"dilations", AT_INTS, 0}, { "group", AT_INT, 1 }
#define CONV_NATTRS 4 /* the attributes every conv op carries first, in this order */

static int conv_fail(ir_graph *g, const ir_node *n, const char *why) {
    return ir_fail(g, "%s: %s", ir_optable[n->op]->name, why);
}

static int conv_check_float(ir_graph *g, const ir_node *n) {
    ir_dtype dt = g->vals[n->in[0]].dtype;
    if (!ir_dtype_is_float(dt)) return conv_fail(g, n, "needs float tensors");
    for (int k = 1; k < n->nin; k++) /* a bias stays in the accumulation dtype (float32 for bf16) */
        if (g->vals[n->in[k]].dtype != (k == 2 ? ir_acc_dtype(dt) : dt))
            return ir_fail(g, "%s: input %d is %s, input 0 is %s", ir_optable[n->op]->name, k,
                           ir_dtype_name(g->vals[n->in[k]].dtype), ir_dtype_name(dt));
    return 0;
}

static int shape_attr(ir_graph *g, const ir_node *n, const char *attr, ir_shape *s) {
    const ir_attrval *a = ir_get(n, attr);
    if (a->n != 4) return ir_fail(g, "%s: attribute %s needs 4 values, got %d", ir_optable[n->op]->name, attr, a->n);
    *s = ir_shape_make(4, a->v);
    return 0;
}

static int check_gy(ir_graph *g, const ir_node *n, const conv_geom *q) {
    ir_shape want = IR_SHAPE(q->N, q->M, q->OH, q->OW);
    if (ir_shape_eq(&g->vals[n->in[0]].shape, &want)) return 0;
    char a[96], b[96];
    ir_shape_str(&g->vals[n->in[0]].shape, a, sizeof a);
    ir_shape_str(&want, b, sizeof b);
    return ir_fail(g, "%s: output gradient is %s, expected %s", ir_optable[n->op]->name, a, b);
}

static int conv_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    char why[200];
    conv_geom q;
    if (conv_check_float(g, n)) return -1;
    if (conv_geom_of(n, &g->vals[n->in[0]].shape, &g->vals[n->in[1]].shape, &q, why, sizeof why))
        return conv_fail(g, n, why);
    if (n->nin > 2) {
        const ir_shape *bs = &g->vals[n->in[2]].shape;
        if (bs->ndim != 1 || bs->d[0] != q.M)
            return ir_fail(g, "Conv: bias must be [%lld] (one per output channel)", (long long)q.M);
    }
    os[0] = IR_SHAPE(q.N, q.M, q.OH, q.OW);
    od[0] = ir_acc_dtype(g->vals[n->in[0]].dtype);
    return 0;
}

static int conv_grad_input_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    char why[200];
    conv_geom q;
    ir_shape xs;
    if (conv_check_float(g, n) || shape_attr(g, n, "input_shape", &xs)) return -1;
    if (conv_geom_of(n, &xs, &g->vals[n->in[1]].shape, &q, why, sizeof why)) return conv_fail(g, n, why);
    if (check_gy(g, n, &q)) return -1;
    os[0] = xs;
    od[0] = ir_acc_dtype(g->vals[n->in[0]].dtype);
    return 0;
}

static int conv_grad_weight_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    char why[200];
    conv_geom q;
    ir_shape ws;
    if (conv_check_float(g, n) || shape_attr(g, n, "weight_shape", &ws)) return -1;
    if (conv_geom_of(n, &g->vals[n->in[1]].shape, &ws, &q, why, sizeof why)) return conv_fail(g, n, why);
    if (check_gy(g, n, &q)) return -1;
    os[0] = ws;
    od[0] = ir_acc_dtype(g->vals[n->in[0]].dtype);
    return 0;
}

int ir_conv(ir_graph *g, int x, int w, int b, int stride, int pad, int groups) {
    int in[3] = {x, w, b};
    int node = ir_node_new(g, OP_Conv, in, b >= 0 ? 3 : 2);
    int64_t s[2] = {stride, stride}, p[4] = {pad, pad, pad, pad}, d[2] = {1, 1};
    ir_set_ints(g, node, "strides", s, 2);
    ir_set_ints(g, node, "pads", p, 4);
    ir_set_ints(g, node, "dilations", d, 2);
    ir_set_i(g, node, "group", groups);
    return ir_node_finish(g, node);
}

/* gradient op `op` on (a, b) carrying the conv attributes of `fwd` plus the shape to produce */
static int conv_grad_node(ir_graph *g, int op, int a, int b, const ir_node *fwd, const char *shape_attr_name,
                          ir_shape s) {
    int node = ir_node_new(g, op, (int[]){a, b}, 2);
    if (node < 0) return -1;
    for (int k = 0; k < CONV_NATTRS; k++) g->nodes[node].attr[k] = fwd->attr[k];
    ir_set_ints(g, node, shape_attr_name, s.d, s.ndim);
    return ir_node_finish(g, node);
}

static int conv_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node]; /* copy: new nodes may move g->nodes */
    if (gy[0] < 0) return 0;
    if (want[0])
        gx[0] = conv_grad_node(g, OP_ConvGradInput, gy[0], n.in[1], &n, "input_shape", g->vals[n.in[0]].shape);
    if (want[1])
        gx[1] = conv_grad_node(g, OP_ConvGradWeight, gy[0], n.in[0], &n, "weight_shape", g->vals[n.in[1]].shape);
    if (n.nin > 2 && want[2]) {
        int64_t axes[3] = {0, 2, 3};
        gx[2] = ir_reduce_sum(g, gy[0], axes, 3, 0);
    }
    return 0;
}

REF_PROTO(ref_conv);
REF_PROTO(ref_conv_grad_input);
REF_PROTO(ref_conv_grad_weight);
/* Conv(X [N,C,H,W], W [M,C/group,kH,kW] [, B [M]]) -> [N,M,OH,OW]; pads are (h_begin, w_begin, h_end, w_end) */
/* 2 x output elements x (input channels per group x kernel area); the weight (input 1 of Conv
 * and ConvGradInput) or the produced weight gradient carries those three dims */
static int64_t conv_flops(const ir_graph *g, const ir_node *n) {
    const ir_shape *w = n->op == OP_ConvGradWeight ? &g->vals[n->out[0]].shape : &g->vals[n->in[1]].shape;
    const ir_shape *y = n->op == OP_Conv ? &g->vals[n->out[0]].shape : &g->vals[n->in[0]].shape;
    return 2 * ir_numel(y) * w->d[1] * w->d[2] * w->d[3];
}

const ir_opdef op_Conv = {.flops = conv_flops, .name = "Conv", .min_in = 2, .max_in = 3, .nout = 1, .nattrs = CONV_NATTRS,
                          .attrs = {CONV_ATTRS}, .infer = conv_infer, REF(ref_conv), .grad = conv_grad};
/* ConvGradInput(gY, W) -> dX of shape input_shape */
const ir_opdef op_ConvGradInput = {.flops = conv_flops, .name = "ConvGradInput", .min_in = 2, .max_in = 2, .nout = 1,
                                   .flags = OPF_GRAD_ONLY, .nattrs = CONV_NATTRS + 1,
                                   .attrs = {CONV_ATTRS, {"input_shape", AT_INTS, 0}},
                                   .infer = conv_grad_input_infer, REF(ref_conv_grad_input)};
/* ConvGradWeight(gY, X) -> dW of shape weight_shape */
const ir_opdef op_ConvGradWeight = {.flops = conv_flops, .name = "ConvGradWeight", .min_in = 2, .max_in = 2, .nout = 1,
                                    .flags = OPF_GRAD_ONLY, .nattrs = CONV_NATTRS + 1,
                                    .attrs = {CONV_ATTRS, {"weight_shape", AT_INTS, 0}},
                                    .infer = conv_grad_weight_infer, REF(ref_conv_grad_weight)};
#endif
