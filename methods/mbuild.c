#include "mbuild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mb_init(mbuild *mb, ir_graph *g, int training) {
    memset(mb, 0, sizeof *mb);
    mb->g = g;
    mb->training = training;
    mb->sync_ranks = 0;
    mb->ema_momentum = -1;
}

void mb_ema_begin(mbuild *mb, const char *target_prefix, const char *online_prefix, int momentum) {
    snprintf(mb->ema_target, sizeof mb->ema_target, "%s", target_prefix);
    snprintf(mb->ema_online, sizeof mb->ema_online, "%s", online_prefix);
    mb->ema_momentum = momentum;
}

void mb_ema_end(mbuild *mb) { mb->ema_momentum = -1; }

/* In EMA mode: the online value whose name corresponds to the scoped `name`, or -1. */
static int ema_source(mbuild *mb, const char *name) {
    size_t k = strlen(mb->ema_target);
    if (mb->ema_momentum < 0 || strncmp(name, mb->ema_target, k) != 0 || (name[k] != '.' && name[k] != 0)) return -1;
    char online[400];
    snprintf(online, sizeof online, "%s%s", mb->ema_online, name + k);
    int v = ir_find_value(mb->g, online);
    if (v < 0) ir_fail(mb->g, "EMA copy '%s': no online tensor '%s' (build the online encoder first)", name, online);
    return v;
}

void mb_free(mbuild *mb) {
    free(mb->cur);
    mb->cur = NULL;
    mb->cap = 0;
}

int mb_param(mbuild *mb, const char *leaf, ir_shape s, ir_init init, unsigned flags) {
    ir_graph *g = mb->g;
    if (g->failed) return -1;
    char name[320];
    ir_scoped_name(g, leaf, name, sizeof name);
    int v = ir_find_value(g, name);
    if (v >= 0) {
        if (!ir_shape_eq(&g->vals[v].shape, &s)) return ir_fail(g, "parameter '%s' reused with another shape", name);
        return g->vals[v].kind == VK_STATE ? mb_cur(mb, v) : v;
    }
    int src = ema_source(mb, name);
    if (mb->ema_momentum >= 0) {
        if (src < 0) return -1;
        int t = ir_state(g, leaf, DT_F32, s, ir_init_copy(src));
        int m = mb->ema_momentum;
        /* t <- m*t + (1-m)*online, once per step, before the teacher's first use */
        int upd = ir_add(g, ir_mul(g, m, t), ir_mul(g, ir_sub(g, ir_scalar(g, 1.0), m), ir_stop_gradient(g, src)));
        mb_advance(mb, t, upd);
        return upd;
    }
    return ir_param(g, leaf, s, init, flags);
}

static void ensure(mbuild *mb, int v) {
    if (v < mb->cap) return;
    int nc = mb->cap ? mb->cap : 256;
    while (nc <= v) nc *= 2;
    int *p = realloc(mb->cur, (size_t)nc * sizeof(int));
    if (!p) {
        fprintf(stderr, "sslc: out of memory\n");
        abort();
    }
    for (int i = mb->cap; i < nc; i++) p[i] = -1;
    mb->cur = p;
    mb->cap = nc;
}

int mb_state(mbuild *mb, const char *leaf, ir_dtype dt, ir_shape s, ir_init init) {
    ir_graph *g = mb->g;
    if (g->failed) return -1;
    char name[320];
    ir_scoped_name(g, leaf, name, sizeof name);
    int v = ir_find_value(g, name);
    if (v >= 0) return v;
    if (mb->ema_momentum >= 0) { /* teacher buffers start as copies of the online ones */
        int src = ema_source(mb, name);
        if (src < 0) return -1;
        init = ir_init_copy(src);
    }
    return ir_state(g, leaf, dt, s, init);
}

int mb_cur(mbuild *mb, int state) {
    if (state < 0) return -1;
    ensure(mb, state);
    return mb->cur[state] >= 0 ? mb->cur[state] : state;
}

void mb_advance(mbuild *mb, int state, int v) {
    if (state < 0 || v < 0) return;
    ensure(mb, state);
    mb->cur[state] = v;
}

void mb_finish(mbuild *mb) {
    for (int s = 0; s < mb->cap; s++)
        if (mb->cur[s] >= 0 && mb->cur[s] != s) ir_add_update(mb->g, s, mb->cur[s]);
}

int mb_linear(mbuild *mb, const char *name, int x, int64_t in, int64_t out, int bias) {
    ir_graph *g = mb->g;
    double bound = 1.0 / sqrt((double)in);
    ir_scope_push(g, name);
    int w = mb_param(mb, "weight", IR_SHAPE(out, in), ir_init_uniform(-bound, bound), 0);
    int b = bias ? mb_param(mb, "bias", IR_SHAPE(out), ir_init_uniform(-bound, bound), VF_NO_DECAY) : -1;
    ir_scope_pop(g);
    return ir_gemm(g, x, w, b, 0, 1, 1.0, 1.0);
}

int mb_conv(mbuild *mb, const char *name, int x, int64_t cin, int64_t cout, int k, int stride, int pad) {
    ir_graph *g = mb->g;
    double std = sqrt(2.0 / (double)(cout * k * k));
    ir_scope_push(g, name);
    int w = mb_param(mb, "weight", IR_SHAPE(cout, cin, k, k), ir_init_normal(0, std), 0);
    ir_scope_pop(g);
    return ir_conv(g, x, w, -1, stride, pad, 1);
}

/* (1 - m) * old + m * v as old + (v - old) / (1/m): with m = 0.1 the constant 10 is exact in the
 * graph's float32 constants, so a float64 run matches the BatchNormalization op (whose momentum
 * is a double attribute) to float64 rounding */
static int ema_toward(ir_graph *g, int old, int v, double m) {
    double k = 1.0 / m;
    int d = ir_sub(g, v, old);
    d = k == (double)(float)k && k == (double)(int64_t)k ? ir_div(g, d, ir_scalar(g, k)) : ir_mul_scalar(g, d, m);
    return ir_add(g, old, d);
}

/* Training-mode BatchNorm with statistics over every rank's batch (SyncBatchNorm), built from
 * plain ops and AllReduce(mean) so that autodiff derives its backward (the gradients of the
 * mean and variance cross ranks through AllReduce's rule). Every rank holds the same number of
 * rows, so the global mean is the mean of the ranks' means. Running variance: unbiased over
 * the global count, as torch.nn.SyncBatchNorm. */
static int sync_batchnorm(mbuild *mb, int x, int scale, int bias, int rm, int rv, double eps, double momentum,
                          int *nm, int *nv) {
    ir_graph *g = mb->g;
    int R = mb->sync_ranks;
    ir_shape xs = g->vals[x].shape, bs = xs;
    int64_t axes[IR_MAX_DIMS], count = R;
    int nax = 0;
    for (int d = 0; d < xs.ndim; d++)
        if (d != 1) bs.d[d] = 1, axes[nax++] = d, count *= xs.d[d];
    int64_t C = xs.ndim >= 2 ? xs.d[1] : 1;
    ir_shape cs = IR_SHAPE(C);
    int mean = ir_all_reduce(g, ir_reduce_mean(g, x, axes, nax, 1), R, 1);
    int xc = ir_sub(g, x, mean);
    int var = ir_all_reduce(g, ir_reduce_mean(g, ir_mul(g, xc, xc), axes, nax, 1), R, 1);
    /* var + eps as (var * K + 1) / K with K = 1/eps (1e-5: K = 100000, exact in float32), so
     * that a float64 run adds the double eps as the BatchNormalization op does */
    double K = 1.0 / eps;
    int ve = K == (double)(int64_t)K && K == (double)(float)K
                 ? ir_div(g, ir_add_scalar(g, ir_mul_scalar(g, var, K), 1.0), ir_scalar(g, K))
                 : ir_add_scalar(g, var, eps);
    int y = ir_div(g, xc, ir_sqrt(g, ve));
    if (scale >= 0) y = ir_mul(g, y, ir_reshape(g, scale, bs));
    if (bias >= 0) y = ir_add(g, y, ir_reshape(g, bias, bs));
    int sm = ir_stop_gradient(g, ir_reshape(g, mean, cs)), sv = ir_stop_gradient(g, ir_reshape(g, var, cs));
    /* unbiased: var * M / (M - 1), both integers exact in a float32 constant */
    if (count > 1) sv = ir_div(g, ir_mul_scalar(g, sv, (double)count), ir_scalar(g, (double)(count - 1)));
    *nm = ema_toward(g, rm, sm, momentum);
    *nv = ema_toward(g, rv, sv, momentum);
    return y;
}

/* Training-mode BatchNorm over each of `splits` consecutive row blocks of x, concatenated back;
 * the running statistics from the first block's op (the other blocks' are not kept) */
static int split_batchnorm(mbuild *mb, int x, int splits, int scale, int bias, int rm, int rv, int *nm, int *nv) {
    ir_graph *g = mb->g;
    int64_t n = g->vals[x].shape.d[0];
    if (n % splits != 0) return ir_fail(g, "bn_splits %d does not divide the BatchNorm's %lld rows", splits, (long long)n);
    int parts[64];
    if (splits > (int)(sizeof parts / sizeof parts[0])) return ir_fail(g, "bn_splits %d: at most 64", splits);
    int64_t rows = n / splits;
    for (int s = 0; s < splits; s++) {
        int m = -1, v = -1;
        parts[s] = ir_batchnorm(g, ir_slice(g, x, 0, s * rows, (s + 1) * rows), scale, bias, rm, rv, 1e-5, 0.1, 1, &m, &v);
        if (s == 0) *nm = m, *nv = v;
    }
    return ir_concat(g, parts, splits, 0);
}

int mb_batchnorm(mbuild *mb, const char *name, int x, int64_t c, int affine) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    int scale = affine ? mb_param(mb, "weight", IR_SHAPE(c), ir_init_const(1), VF_NO_DECAY) : -1;
    int bias = affine ? mb_param(mb, "bias", IR_SHAPE(c), ir_init_const(0), VF_NO_DECAY) : -1;
    int rm = mb_state(mb, "running_mean", DT_F32, IR_SHAPE(c), ir_init_const(0));
    int rv = mb_state(mb, "running_var", DT_F32, IR_SHAPE(c), ir_init_const(1));
    ir_shape scalar = {0};
    int nbt = mb_state(mb, "num_batches_tracked", DT_I64, scalar, ir_init_const(0));
    ir_scope_pop(g);
    int nm = -1, nv = -1;
    int y = mb->training && mb->sync_ranks > 0
                ? sync_batchnorm(mb, x, scale, bias, mb_cur(mb, rm), mb_cur(mb, rv), 1e-5, 0.1, &nm, &nv)
            : mb->training && mb->bn_splits > 1
                ? split_batchnorm(mb, x, mb->bn_splits, scale, bias, mb_cur(mb, rm), mb_cur(mb, rv), &nm, &nv)
                : ir_batchnorm(g, x, scale, bias, mb_cur(mb, rm), mb_cur(mb, rv), 1e-5, 0.1, mb->training, &nm, &nv);
    if (mb->training) {
        mb_advance(mb, rm, nm);
        mb_advance(mb, rv, nv);
        mb_advance(mb, nbt, ir_increment(g, mb_cur(mb, nbt)));
    }
    return y;
}
