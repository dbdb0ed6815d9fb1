/* Batch normalization with PyTorch semantics over [N,C] or [N,C,spatial...] inputs.
 *
 * BatchNormalization(X, scale, bias, running_mean, running_var)
 *   -> Y, new_running_mean, new_running_var, saved_mean, saved_invstd
 * attributes: epsilon (1e-5), momentum (0.1, PyTorch convention: new = (1-m) running + m batch),
 * training_mode (0/1; ONNX default 0).
 * Training: normalizes with the batch mean and biased batch variance; the running variance is
 * updated with the unbiased one; saved_* are the batch mean and 1/sqrt(var + eps).
 * Eval: normalizes with the running statistics; new_* equal the inputs; saved_* are the running
 * mean and 1/sqrt(running_var + eps).
 * BatchNormalizationGrad(gY, X, scale, saved_mean, saved_invstd) -> dX, dscale, dbias is the
 * training-mode (batch statistics) backward; the eval-mode backward is built from elementwise ops.
 * The running statistics are not differentiable. */
#include "../opkit.h"
#include "parallel.h"

/* ---- kernels (compiled for float and double) ---- */

int KN(ref_batchnorm)(const ref_call *c) {
    const ir_shape *xs = &c->in[0].shape;
    int64_t N = xs->d[0], C = xs->d[1], I = N * C > 0 ? c->in[0].numel / (N * C) : 0, cnt = N * I;
    double eps = ir_get_f(c->node, "epsilon"), mom = ir_get_f(c->node, "momentum");
    int training = ir_get_i(c->node, "training_mode") != 0;
    const real *x = IN(0), *sc = IN(1), *bi = IN(2), *rm = IN(3), *rv = IN(4);
    real *y = OUT(0), *nm = OUT(1), *nv = OUT(2), *sm = OUT(3), *si = OUT(4);
    OMP_FOR_IF(c->in[0].numel > OMP_MIN_WORK)
    for (int64_t ch = 0; ch < C; ch++) {
        double mean, invstd;
        if (training) {
            double s = 0, v = 0;
            for (int64_t n = 0; n < N; n++) {
                const real *xp = x + (n * C + ch) * I;
                for (int64_t i = 0; i < I; i++) s += xp[i];
            }
            mean = s / (double)cnt;
            for (int64_t n = 0; n < N; n++) {
                const real *xp = x + (n * C + ch) * I;
                for (int64_t i = 0; i < I; i++) {
                    double d = xp[i] - mean;
                    v += d * d;
                }
            }
            double var = v / (double)cnt;
            invstd = 1.0 / sqrt(var + eps);
            nm[ch] = (real)((1 - mom) * rm[ch] + mom * mean);
            nv[ch] = (real)((1 - mom) * rv[ch] + mom * (cnt > 1 ? v / (double)(cnt - 1) : var));
        } else {
            mean = rm[ch];
            invstd = 1.0 / sqrt((double)rv[ch] + eps);
            nm[ch] = rm[ch];
            nv[ch] = rv[ch];
        }
        sm[ch] = (real)mean;
        si[ch] = (real)invstd;
        double a = sc[ch] * invstd, b = bi[ch] - mean * a;
        for (int64_t n = 0; n < N; n++) {
            const real *xp = x + (n * C + ch) * I;
            real *yp = y + (n * C + ch) * I;
            for (int64_t i = 0; i < I; i++) yp[i] = (real)(xp[i] * a + b);
        }
    }
    return 0;
}

/* dbias = sum gY; dscale = sum gY xhat; dX = scale invstd (gY - dbias/M - xhat dscale/M), M = N*spatial */
int KN(ref_batchnorm_grad)(const ref_call *c) {
    const ir_shape *xs = &c->in[1].shape;
    int64_t N = xs->d[0], C = xs->d[1], I = N * C > 0 ? c->in[1].numel / (N * C) : 0, cnt = N * I;
    const real *gy = IN(0), *x = IN(1), *sc = IN(2), *sm = IN(3), *si = IN(4);
    real *dx = OUT(0), *dsc = OUT(1), *dbi = OUT(2);
    OMP_FOR_IF(c->in[1].numel > OMP_MIN_WORK)
    for (int64_t ch = 0; ch < C; ch++) {
        double mean = sm[ch], invstd = si[ch], sg = 0, sgx = 0;
        for (int64_t n = 0; n < N; n++) {
            const real *xp = x + (n * C + ch) * I, *gp = gy + (n * C + ch) * I;
            for (int64_t i = 0; i < I; i++) {
                sg += gp[i];
                sgx += gp[i] * (xp[i] - mean);
            }
        }
        sgx *= invstd; /* sum gY * xhat */
        dbi[ch] = (real)sg;
        dsc[ch] = (real)sgx;
        double k = sc[ch] * invstd, mg = sg / (double)cnt, mgx = sgx / (double)cnt;
        for (int64_t n = 0; n < N; n++) {
            const real *xp = x + (n * C + ch) * I, *gp = gy + (n * C + ch) * I;
            real *dp = dx + (n * C + ch) * I;
            for (int64_t i = 0; i < I; i++) dp[i] = (real)(k * (gp[i] - mg - (xp[i] - mean) * invstd * mgx));
        }
    }
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions, builders and gradient rules (compiled once) ---- */

/* inputs 1.. of n must be float [C] tensors of X's dtype */
static int bn_check_vectors(ir_graph *g, const ir_node *n, int first, const char *const *names, int count,
                            int64_t C, ir_dtype dt) {
    const char *op = ir_optable[n->op]->name;
    for (int k = 0; k < count; k++) {
        const ir_value *v = &g->vals[n->in[first + k]];
        if (v->dtype != dt) return ir_fail(g, "%s: %s is %s, input is %s", op, names[k], ir_dtype_name(v->dtype), ir_dtype_name(dt));
        if (v->shape.ndim != 1 || v->shape.d[0] != C) {
            char s[96];
            ir_shape_str(&v->shape, s, sizeof s);
            return ir_fail(g, "%s: %s is %s, expected [%lld] (one per channel)", op, names[k], s, (long long)C);
        }
    }
    return 0;
}

static int bn_check_x(ir_graph *g, const ir_node *n, const ir_value *x) {
    const char *op = ir_optable[n->op]->name;
    if (!ir_dtype_is_float(x->dtype)) return ir_fail(g, "%s: needs a float input, got %s", op, ir_dtype_name(x->dtype));
    if (x->shape.ndim < 2) return ir_fail(g, "%s: input must be [N,C] or [N,C,H,W], got rank %d", op, x->shape.ndim);
    if (ir_numel(&x->shape) == 0) return ir_fail(g, "%s: empty input", op);
    return 0;
}

static int bn_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    static const char *const names[4] = {"scale", "bias", "running_mean", "running_var"};
    const ir_value *x = &g->vals[n->in[0]];
    if (bn_check_x(g, n, x)) return -1;
    int64_t C = x->shape.d[1];
    if (bn_check_vectors(g, n, 1, names, 4, C, x->dtype)) return -1;
    if (ir_get_i(n, "training_mode") && ir_numel(&x->shape) / C < 2)
        return ir_fail(g, "BatchNormalization: training needs more than 1 value per channel");
    if (!(ir_get_f(n, "epsilon") > 0)) return ir_fail(g, "BatchNormalization: epsilon must be > 0");
    os[0] = x->shape;
    for (int k = 1; k < 5; k++) os[k] = IR_SHAPE(C);
    for (int k = 0; k < 5; k++) od[k] = x->dtype;
    return 0;
}

static int bn_grad_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    static const char *const names[3] = {"scale", "saved_mean", "saved_invstd"};
    const ir_value *gy = &g->vals[n->in[0]], *x = &g->vals[n->in[1]];
    if (bn_check_x(g, n, x)) return -1;
    if (gy->dtype != x->dtype || !ir_shape_eq(&gy->shape, &x->shape))
        return ir_fail(g, "BatchNormalizationGrad: output gradient and input differ in shape or dtype");
    int64_t C = x->shape.d[1];
    if (bn_check_vectors(g, n, 2, names, 3, C, x->dtype)) return -1;
    os[0] = x->shape;
    os[1] = os[2] = IR_SHAPE(C);
    for (int k = 0; k < 3; k++) od[k] = x->dtype;
    return 0;
}

/* [C] constant filled with v, in dtype dt (f32 or f64) */
static int bn_fill_const(ir_graph *g, ir_dtype dt, int64_t C, double v) {
    size_t es = dt == DT_F64 ? sizeof(double) : sizeof(float);
    void *buf = malloc((size_t)C * es + 1);
    if (!buf) return ir_fail(g, "out of memory");
    for (int64_t i = 0; i < C; i++) {
        if (dt == DT_F64)
            ((double *)buf)[i] = v;
        else
            ((float *)buf)[i] = (float)v;
    }
    int r = ir_const(g, dt == DT_F64 ? DT_F64 : DT_F32, IR_SHAPE(C), buf);
    free(buf);
    return r;
}

int ir_batchnorm(ir_graph *g, int x, int scale, int bias, int mean, int var, double eps, double momentum,
                 int training, int *new_mean, int *new_var) {
    if (new_mean) *new_mean = -1;
    if (new_var) *new_var = -1;
    if (g->failed) return -1;
    if (x < 0 || x >= g->nvals) return ir_fail(g, "BatchNormalization: input 0 is invalid");
    const ir_value *xv = &g->vals[x];
    int64_t C = xv->shape.ndim >= 2 ? xv->shape.d[1] : 1;
    ir_dtype dt = xv->dtype;
    if (scale < 0) scale = bn_fill_const(g, dt, C, 1.0); /* affine=False */
    if (bias < 0) bias = bn_fill_const(g, dt, C, 0.0);
    int node = ir_node_new(g, OP_BatchNormalization, (int[]){x, scale, bias, mean, var}, 5);
    ir_set_f(g, node, "epsilon", eps);
    ir_set_f(g, node, "momentum", momentum);
    ir_set_i(g, node, "training_mode", training ? 1 : 0);
    int y = ir_node_finish(g, node);
    if (y < 0) return -1;
    if (training) {
        if (new_mean) *new_mean = g->nodes[node].out[1];
        if (new_var) *new_var = g->nodes[node].out[2];
    }
    return y;
}

static int bn_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node]; /* copy: new nodes may move g->nodes */
    if (gy[0] < 0 || !(want[0] || want[1] || want[2])) return 0; /* running stats carry no gradient */
    int x = n.in[0], scale = n.in[1];
    if (ir_get_i(&n, "training_mode")) {
        int m = ir_node_new(g, OP_BatchNormalizationGrad, (int[]){gy[0], x, scale, n.out[3], n.out[4]}, 5);
        if (ir_node_finish(g, m) < 0) return -1;
        for (int k = 0; k < 3; k++)
            if (want[k]) gx[k] = g->nodes[m].out[k];
        return 0;
    }
    /* eval: Y = (X - mean) * invstd * scale + bias with constant mean, invstd */
    ir_shape xs = g->vals[x].shape, bs = xs;
    int64_t axes[IR_MAX_DIMS];
    int nax = 0;
    for (int d = 0; d < xs.ndim; d++) {
        if (d != 1) bs.d[d] = 1, axes[nax++] = d;
    }
    if (want[0]) gx[0] = ir_mul(g, gy[0], ir_reshape(g, ir_mul(g, scale, n.out[4]), bs));
    if (want[1]) {
        int xhat = ir_mul(g, ir_sub(g, x, ir_reshape(g, n.out[3], bs)), ir_reshape(g, n.out[4], bs));
        gx[1] = ir_reduce_sum(g, ir_mul(g, gy[0], xhat), axes, nax, 0);
    }
    if (want[2]) gx[2] = ir_reduce_sum(g, gy[0], axes, nax, 0);
    return 0;
}

REF_PROTO(ref_batchnorm);
REF_PROTO(ref_batchnorm_grad);
const ir_opdef op_BatchNormalization = {
    .name = "BatchNormalization", .min_in = 5, .max_in = 5, .nout = 5, .nattrs = 3,
    .attrs = {{"epsilon", AT_FLOAT, 1e-5}, {"momentum", AT_FLOAT, 0.1}, {"training_mode", AT_INT, 0}},
    .infer = bn_infer, REF(ref_batchnorm), .grad = bn_grad};
const ir_opdef op_BatchNormalizationGrad = {.name = "BatchNormalizationGrad", .min_in = 5, .max_in = 5, .nout = 3,
                                            .flags = OPF_GRAD_ONLY, .infer = bn_grad_infer,
                                            REF(ref_batchnorm_grad)};
#endif
