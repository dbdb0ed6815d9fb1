#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"
#include "../ir/opkit.h"
#include "rewrite.h"

#define MAP(i) map[n->in[i]]
#define SHP(v) (g->vals[v].shape)

/* axes of x that BatchNorm reduces: all but the channel axis 1 */
static int bn_axes(int ndim, int64_t *axes) {
    int k = 0;
    for (int d = 0; d < ndim; d++)
        if (d != 1) axes[k++] = d;
    return k;
}

/* [C] -> [1,C,1,...] matching x's rank */
static int per_channel(ir_graph *g, int v, int ndim) {
    ir_shape s = {0};
    s.ndim = ndim;
    for (int d = 0; d < ndim; d++) s.d[d] = 1;
    s.d[1] = ir_numel(&SHP(v));
    return ir_reshape(g, v, s);
}

static void set_outs(const ir_node *n, int *map, const int *vals, int nv) {
    for (int k = 0; k < nv; k++) map[n->out[k]] = vals[k];
}

static int lower_bn(const ir_node *n, int *map, ir_graph *g) {
    int x = MAP(0), scale = MAP(1), bias = MAP(2), rm = MAP(3), rv = MAP(4);
    int nd = SHP(x).ndim;
    int64_t axes[IR_MAX_DIMS], C = SHP(x).d[1];
    int na = bn_axes(nd, axes);
    double eps = ir_get_f(n, "epsilon"), mom = ir_get_f(n, "momentum");
    double cnt = (double)ir_numel(&SHP(x)) / (double)C;
    ir_shape cs = IR_SHAPE(C);
    if (!ir_get_i(n, "training_mode")) {
        int inv = ir_div(g, ir_scalar(g, 1.0), ir_sqrt(g, ir_add_scalar(g, per_channel(g, rv, nd), eps)));
        int y = ir_add(g, ir_mul(g, ir_sub(g, x, per_channel(g, rm, nd)), ir_mul(g, inv, per_channel(g, scale, nd))),
                       per_channel(g, bias, nd));
        int outs[5] = {y, ir_identity(g, rm), ir_identity(g, rv), ir_identity(g, rm), ir_reshape(g, inv, cs)};
        set_outs(n, map, outs, 5);
        return 0;
    }
    int mean = ir_mul_scalar(g, ir_reduce_sum(g, x, axes, na, 1), 1.0 / cnt);
    int d = ir_sub(g, x, mean);
    int var = ir_mul_scalar(g, ir_reduce_sum(g, ir_mul(g, d, d), axes, na, 1), 1.0 / cnt);
    int inv = ir_div(g, ir_scalar(g, 1.0), ir_sqrt(g, ir_add_scalar(g, var, eps)));
    int y = ir_add(g, ir_mul(g, d, ir_mul(g, inv, per_channel(g, scale, nd))), per_channel(g, bias, nd));
    int mean_c = ir_reshape(g, mean, cs), var_c = ir_reshape(g, var, cs);
    /* running stats as r + m*(batch - r): every op reads a value of the statistics kernel, so the
     * update fuses into it instead of starting a kernel of its own */
    int nm = ir_add(g, rm, ir_mul_scalar(g, ir_sub(g, mean_c, rm), mom));
    double unbias = cnt > 1 ? cnt / (cnt - 1) : 1.0;
    int nvr = ir_add(g, rv, ir_mul_scalar(g, ir_sub(g, ir_mul_scalar(g, var_c, unbias), rv), mom));
    int outs[5] = {y, nm, nvr, mean_c, ir_reshape(g, inv, cs)};
    set_outs(n, map, outs, 5);
    return 0;
}

/* dX = scale*invstd*(gY - sum(gY)/M - xhat*sum(gY*xhat)/M), dscale = sum(gY*xhat), dbias = sum(gY) */
static int lower_bn_grad(const ir_node *n, int *map, ir_graph *g) {
    int gy = MAP(0), x = MAP(1), scale = MAP(2), mean = MAP(3), inv = MAP(4);
    int nd = SHP(x).ndim;
    int64_t axes[IR_MAX_DIMS], C = SHP(x).d[1];
    int na = bn_axes(nd, axes);
    double cnt = (double)ir_numel(&SHP(x)) / (double)C;
    int inv_r = per_channel(g, inv, nd);
    int xhat = ir_mul(g, ir_sub(g, x, per_channel(g, mean, nd)), inv_r);
    int sg = ir_reduce_sum(g, gy, axes, na, 1), sgx = ir_reduce_sum(g, ir_mul(g, gy, xhat), axes, na, 1);
    int inner = ir_sub(g, ir_sub(g, gy, ir_mul_scalar(g, sg, 1.0 / cnt)), ir_mul(g, xhat, ir_mul_scalar(g, sgx, 1.0 / cnt)));
    /* (inner * invstd) * scale, not inner * (scale * invstd): every op reads a value of the
     * gradient's kernel, so no per-channel product becomes a kernel of its own */
    int dx = ir_mul(g, ir_mul(g, inner, inv_r), per_channel(g, scale, nd));
    int outs[3] = {dx, ir_reshape(g, sgx, IR_SHAPE(C)), ir_reshape(g, sg, IR_SHAPE(C))};
    set_outs(n, map, outs, 3);
    return 0;
}

/* LayerNormalization over the trailing axes from `axis` (keepdims statistics, as ONNX) */
static int lower_ln(const ir_node *n, int *map, ir_graph *g) {
    int x = MAP(0), scale = MAP(1), bias = n->nin > 2 ? MAP(2) : -1;
    int nd = SHP(x).ndim, axis = ir_norm_axis(ir_get_i(n, "axis"), nd);
    int64_t axes[IR_MAX_DIMS];
    int na = 0;
    double cnt = 1;
    for (int d = axis; d < nd; d++) axes[na++] = d, cnt *= (double)SHP(x).d[d];
    int mean = ir_mul_scalar(g, ir_reduce_sum(g, x, axes, na, 1), 1.0 / cnt);
    int d = ir_sub(g, x, mean);
    int var = ir_mul_scalar(g, ir_reduce_sum(g, ir_mul(g, d, d), axes, na, 1), 1.0 / cnt);
    int inv = ir_div(g, ir_scalar(g, 1.0), ir_sqrt(g, ir_add_scalar(g, var, ir_get_f(n, "epsilon"))));
    int y = ir_mul(g, ir_mul(g, d, inv), scale);
    if (bias >= 0) y = ir_add(g, y, bias);
    int outs[3] = {y, mean, inv};
    set_outs(n, map, outs, 3);
    return 0;
}

/* dX = inv (g - mean(g) - xhat mean(g xhat)), g = gY scale; dScale, dB summed over the rows */
static int lower_ln_grad(const ir_node *n, int *map, ir_graph *g) {
    int gy = MAP(0), x = MAP(1), scale = MAP(2), mean = MAP(3), inv = MAP(4);
    int nd = SHP(x).ndim, axis = ir_norm_axis(ir_get_i(n, "axis"), nd);
    int64_t inner[IR_MAX_DIMS], outer[IR_MAX_DIMS];
    int ni = 0, no = 0;
    double cnt = 1;
    for (int d = 0; d < nd; d++) {
        if (d >= axis)
            inner[ni++] = d, cnt *= (double)SHP(x).d[d];
        else
            outer[no++] = d;
    }
    int xhat = ir_mul(g, ir_sub(g, x, mean), inv);
    int gs = ir_mul(g, gy, scale);
    int m1 = ir_mul_scalar(g, ir_reduce_sum(g, gs, inner, ni, 1), 1.0 / cnt);
    int m2 = ir_mul_scalar(g, ir_reduce_sum(g, ir_mul(g, gs, xhat), inner, ni, 1), 1.0 / cnt);
    int dx = ir_mul(g, inv, ir_sub(g, ir_sub(g, gs, m1), ir_mul(g, xhat, m2)));
    ir_shape ps = SHP(scale);
    int dscale = no ? ir_reshape(g, ir_reduce_sum(g, ir_mul(g, gy, xhat), outer, no, 0), ps) : ir_mul(g, gy, xhat);
    int dbias = no ? ir_reshape(g, ir_reduce_sum(g, gy, outer, no, 0), ps) : ir_identity(g, gy);
    int outs[3] = {dx, dscale, dbias};
    set_outs(n, map, outs, 3);
    return 0;
}

static int softmax_axis(const ir_graph *g, const ir_node *n, int x) {
    return ir_norm_axis(ir_get_i(n, "axis"), SHP(x).ndim);
}

static int lower_softmax(const ir_node *n, int *map, ir_graph *g, int log_) {
    int x = MAP(0);
    int64_t ax = softmax_axis(g, n, x);
    int sh = ir_sub(g, x, ir_reduce_max(g, x, &ax, 1, 1));
    int e = ir_exp(g, sh);
    int s = ir_reduce_sum(g, e, &ax, 1, 1);
    map[n->out[0]] = log_ ? ir_sub(g, sh, ir_log(g, s)) : ir_div(g, e, s);
    return 0;
}

static int lower_softmax_grad(const ir_node *n, int *map, ir_graph *g, int log_) {
    int gy = MAP(0), y = MAP(1);
    int64_t ax = SHP(y).ndim - 1;
    if (log_) /* gx = gy - exp(y) * sum(gy) */
        map[n->out[0]] = ir_sub(g, gy, ir_mul(g, ir_exp(g, y), ir_reduce_sum(g, gy, &ax, 1, 1)));
    else /* gx = y * (gy - sum(gy*y)) */
        map[n->out[0]] = ir_mul(g, y, ir_sub(g, gy, ir_reduce_sum(g, ir_mul(g, gy, y), &ax, 1, 1)));
    return 0;
}

int lower_graph(const ir_graph *in, ir_graph *out, char *err) {
    ir_graph_init(out);
    int *map = malloc(((size_t)in->nvals + 1) * sizeof(int));
    if (!map) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int v = 0; v < in->nvals; v++) map[v] = in->vals[v].kind == VK_INTER ? -1 : rw_copy_leaf(in, v, out);
    for (int i = 0; i < in->nnodes && !out->failed; i++) {
        const ir_node *n = &in->nodes[i];
        const char *skip = getenv("SSLC_LOWER_KEEP"); /* debugging: keep one op type unlowered */
        switch (skip && !strcmp(skip, ir_optable[n->op]->name) ? -1 : (int)n->op) {
        case OP_BatchNormalization: lower_bn(n, map, out); break;
        case OP_BatchNormalizationGrad: lower_bn_grad(n, map, out); break;
        case OP_LayerNormalization: lower_ln(n, map, out); break;
        case OP_LayerNormalizationGrad: lower_ln_grad(n, map, out); break;
        case OP_Softmax: lower_softmax(n, map, out, 0); break;
        case OP_LogSoftmax: lower_softmax(n, map, out, 1); break;
        case OP_SoftmaxGrad: lower_softmax_grad(n, map, out, 0); break;
        case OP_LogSoftmaxGrad: lower_softmax_grad(n, map, out, 1); break;
        case OP_Increment: {
            /* Increment(Increment(x)) -> Increment(x, by=2): one step per counter instead of one
             * per forward pass (num_batches_tracked of a BatchNorm used by two views) */
            int src = map[n->in[0]], p = out->vals[src].producer;
            int uses = 0;
            for (int j = 0; j < in->nnodes; j++)
                for (int k = 0; k < in->nodes[j].nin; k++) uses += in->nodes[j].in[k] == n->in[0];
            for (int u = 0; u < in->noutputs; u++) uses += in->outputs[u] == n->in[0];
            for (int u = 0; u < in->nupdates; u++) uses += in->updates[u].src == n->in[0];
            if (p >= 0 && out->nodes[p].op == OP_Increment && uses == 1 && !out->vals[src].name) {
                int x = out->nodes[p].in[0]; /* a copy: ir_node_new may move out->nodes */
                int nn = ir_node_new(out, OP_Increment, &x, 1);
                ir_set_i(out, nn, "by", ir_get_i(&out->nodes[p], "by") + ir_get_i(n, "by"));
                map[n->out[0]] = ir_node_finish(out, nn);
            } else
                rw_copy_node(in, n, map, out);
            break;
        }
        case OP_GlobalAveragePool: {
            const ir_shape *s = &in->vals[n->in[0]].shape;
            int64_t axes[2] = {2, 3};
            map[n->out[0]] = ir_mul_scalar(out, ir_reduce_sum(out, map[n->in[0]], axes, 2, 1),
                                           1.0 / (double)(s->d[2] * s->d[3]));
            break;
        }
        case OP_ReduceMean: {
            const ir_attrval *ax = ir_get(n, "axes");
            const ir_shape *xs = &in->vals[n->in[0]].shape, *ys = &in->vals[n->out[0]].shape;
            double cnt = (double)ir_numel(xs) / (double)(ir_numel(ys) ? ir_numel(ys) : 1);
            map[n->out[0]] = ir_mul_scalar(out, ir_reduce_sum(out, map[n->in[0]], ax->v, ax->n, (int)ir_get_i(n, "keepdims")),
                                           1.0 / cnt);
            break;
        }
        default: rw_copy_node(in, n, map, out);
        }
        if (getenv("SSLC_LOWER_NAMES")) /* debugging: name every output after its source node */
            for (int k = 0; k < n->nout; k++)
                if (map[n->out[k]] >= 0 && !out->vals[map[n->out[k]]].name && out->vals[map[n->out[k]]].kind == VK_INTER) {
                    char nm[64];
                    snprintf(nm, sizeof nm, "node%d.%d", i, k);
                    ir_set_name(out, map[n->out[k]], nm);
                }
        for (int k = 0; k < n->nout && !out->failed; k++) { /* keep names (loss, grad.*) */
            int o = map[n->out[k]];
            const char *nm = in->vals[n->out[k]].name;
            if (o < 0 || !nm || (out->vals[o].name && !strcmp(out->vals[o].name, nm))) continue;
            if (out->vals[o].kind != VK_INTER || out->vals[o].name) o = map[n->out[k]] = ir_identity(out, o);
            ir_set_name(out, o, nm);
        }
        for (int k = 0; k < n->nout && !out->failed; k++)
            if ((in->vals[n->out[k]].flags & VF_FORWARD_LOSS) && map[n->out[k]] >= 0)
                out->vals[map[n->out[k]]].flags |= VF_FORWARD_LOSS;
    }
    int rc = out->failed ? -1 : rw_finish(in, map, out);
    if (rc) snprintf(err, IR_ERRLEN, "lowering: %.400s", out->err);
    free(map);
    return rc;
}
