/* Reductions over axes (ReduceSum, ReduceMean, ReduceMax) and Expand (broadcast to a shape). */
#include "../opkit.h"

/* Maps every input element to its output element: out index = in index with reduced axes 0. */
static int KN(reduce)(const ref_call *c, int kind /*0 sum,1 mean,2 max*/) {
    const ir_shape *xs = &c->in[0].shape;
    const real *x = IN(0);
    real *y = OUT(0);
    int64_t ny = c->out[0].numel, nx = c->in[0].numel;
    /* reduced shape with keepdims for stride computation */
    ir_shape ks = *xs;
    const ir_attrval *ax = ir_get(c->node, "axes");
    unsigned char red[IR_MAX_DIMS] = {0};
    if (ax->n == 0)
        for (int d = 0; d < xs->ndim; d++) red[d] = 1;
    for (int j = 0; j < ax->n; j++) red[ir_norm_axis(ax->v[j], xs->ndim)] = 1;
    for (int d = 0; d < xs->ndim; d++)
        if (red[d]) ks.d[d] = 1;
    int64_t ystr[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0};
    ir_bcast_strides(&ks, xs, ystr);
    int64_t cnt = ny ? nx / ny : 0;
    /* sums accumulate in double in both widths, as the fused kernels do */
    double *acc = kind == 2 ? NULL : calloc((size_t)ny + 1, sizeof(double));
    if (kind != 2 && !acc) {
        snprintf(c->err, IR_ERRLEN, "out of memory in a reduction");
        return -1;
    }
    for (int64_t i = 0; i < ny; i++) y[i] = kind == 2 ? -INFINITY : 0;
    int64_t oy = 0;
    for (int64_t i = 0; i < nx; i++) {
        if (kind == 2) {
            if (x[i] > y[oy] || x[i] != x[i]) y[oy] = x[i]; /* NaN propagates, as torch.amax */
        } else
            acc[oy] += (double)x[i];
        for (int d = xs->ndim - 1; d >= 0; d--) {
            idx[d]++;
            oy += ystr[d];
            if (idx[d] < xs->d[d]) break;
            oy -= ystr[d] * idx[d];
            idx[d] = 0;
        }
    }
    if (acc) {
        for (int64_t i = 0; i < ny; i++) y[i] = (real)(kind == 1 && cnt > 0 ? acc[i] / (double)cnt : acc[i]);
        free(acc);
    }
    return 0;
}
int KN(ref_reduce_sum)(const ref_call *c) { return KN(reduce)(c, 0); }
int KN(ref_reduce_mean)(const ref_call *c) { return KN(reduce)(c, 1); }
int KN(ref_reduce_max)(const ref_call *c) { return KN(reduce)(c, 2); }

/* copies elements of the storage dtype's size, so integer tensors expand too */
int KN(ref_expand)(const ref_call *c) {
    const ir_shape *os = &c->out[0].shape;
    int64_t sx[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0}, ox = 0;
    ir_bcast_strides(&c->in[0].shape, os, sx);
    size_t es = ir_dtype_size(c->out[0].dtype);
    const char *x = c->in[0].data;
    char *y = c->out[0].data;
    if (c->in[0].dtype != c->out[0].dtype) return -1;
    for (int64_t i = 0; i < c->out[0].numel; i++) {
        memcpy(y + (size_t)i * es, x + (size_t)ox * es, es);
        for (int d = os->ndim - 1; d >= 0; d--) {
            idx[d]++;
            ox += sx[d];
            if (idx[d] < os->d[d]) break;
            ox -= sx[d] * idx[d];
            idx[d] = 0;
        }
    }
    return 0;
}

#ifndef SSLC_REF_F64
static int reduce_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    const ir_attrval *ax = ir_get(n, "axes");
    int keep = (int)ir_get_i(n, "keepdims");
    unsigned char red[IR_MAX_DIMS] = {0};
    if (!ir_dtype_is_float(x->dtype)) return ir_fail(g, "%s: needs a float input", ir_optable[n->op]->name);
    if (ax->n == 0)
        for (int d = 0; d < x->shape.ndim; d++) red[d] = 1;
    for (int j = 0; j < ax->n; j++) {
        int a = ir_norm_axis(ax->v[j], x->shape.ndim);
        if (a < 0) return ir_fail(g, "%s: axis %lld out of range for rank %d", ir_optable[n->op]->name, (long long)ax->v[j], x->shape.ndim);
        red[a] = 1;
    }
    ir_shape s = {0};
    for (int d = 0; d < x->shape.ndim; d++) {
        if (!red[d])
            s.d[s.ndim++] = x->shape.d[d];
        else if (keep)
            s.d[s.ndim++] = 1;
    }
    os[0] = s;
    od[0] = x->dtype;
    return 0;
}

static int reduce_build(ir_graph *g, int op, int x, const int64_t *axes, int n, int keepdims) {
    int node = ir_node_new(g, op, &x, 1);
    ir_set_ints(g, node, "axes", axes, n);
    ir_set_i(g, node, "keepdims", keepdims);
    return ir_node_finish(g, node);
}
int ir_reduce_sum(ir_graph *g, int x, const int64_t *axes, int n, int keepdims) {
    return reduce_build(g, OP_ReduceSum, x, axes, n, keepdims);
}
int ir_reduce_mean(ir_graph *g, int x, const int64_t *axes, int n, int keepdims) {
    return reduce_build(g, OP_ReduceMean, x, axes, n, keepdims);
}
int ir_reduce_max(ir_graph *g, int x, const int64_t *axes, int n, int keepdims) {
    return reduce_build(g, OP_ReduceMax, x, axes, n, keepdims);
}

int ir_expand(ir_graph *g, int x, ir_shape to) {
    int node = ir_node_new(g, OP_Expand, &x, 1);
    ir_set_ints(g, node, "shape", to.d, to.ndim);
    return ir_node_finish(g, node);
}

static int expand_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    const ir_attrval *sh = ir_get(n, "shape");
    ir_shape to = ir_shape_make(sh->n, sh->v), b;
    if (sh->n > IR_MAX_DIMS) return ir_fail(g, "Expand: target has %d dims, at most %d", sh->n, IR_MAX_DIMS);
    if (ir_broadcast_shape(&x->shape, &to, &b) != 0 || !ir_shape_eq(&b, &to)) {
        char a[96], t[96];
        ir_shape_str(&x->shape, a, sizeof a);
        ir_shape_str(&to, t, sizeof t);
        return ir_fail(g, "Expand: %s does not broadcast to %s", a, t);
    }
    os[0] = to;
    od[0] = x->dtype;
    return 0;
}

/* gradient of a reduction: bring gy back to the keepdims shape, then broadcast */
static int keepdims_shape(ir_graph *g, int node, ir_shape *ks) {
    const ir_node *n = &g->nodes[node];
    ir_shape xs = g->vals[n->in[0]].shape;
    const ir_attrval *ax = ir_get(n, "axes");
    *ks = xs;
    if (ax->n == 0)
        for (int d = 0; d < xs.ndim; d++) ks->d[d] = 1;
    for (int j = 0; j < ax->n; j++) ks->d[ir_norm_axis(ax->v[j], xs.ndim)] = 1;
    return 0;
}
static int reduce_sum_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_shape ks, xs = g->vals[g->nodes[node].in[0]].shape;
    keepdims_shape(g, node, &ks);
    gx[0] = ir_expand(g, ir_reshape(g, gy[0], ks), xs);
    return 0;
}
static int reduce_mean_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_shape ks, xs = g->vals[g->nodes[node].in[0]].shape;
    keepdims_shape(g, node, &ks);
    double cnt = (double)ir_numel(&xs) / (double)ir_numel(&ks);
    gx[0] = ir_expand(g, ir_reshape(g, ir_mul_scalar(g, gy[0], 1.0 / cnt), ks), xs);
    return 0;
}
static int reduce_max_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    /* The gradient is shared evenly by the elements equal to the max (torch.amax): ties are
     * common in practice (rows of ReLU zeros), and giving each tied element the whole gradient
     * would multiply it by the number of ties. */
    int x = g->nodes[node].in[0], y = g->nodes[node].out[0];
    ir_shape ks;
    keepdims_shape(g, node, &ks);
    int ymax = ir_reshape(g, y, ks);
    int node_m = ir_node_new(g, OP_Where0, (int[]){ir_sub(g, x, ymax), ir_scalar(g, 1.0)}, 2);
    ir_set_i(g, node_m, "ge", 1); /* x - max >= 0 exactly at the maxima */
    int mask = ir_node_finish(g, node_m);
    const ir_attrval *ax = ir_get(&g->nodes[node], "axes");
    int64_t axes[IR_MAX_INTS];
    int n = ax->n;
    for (int j = 0; j < n; j++) axes[j] = ax->v[j];
    int cnt = ir_reduce_sum(g, mask, axes, n, 1); /* >= 1: the max itself */
    gx[0] = ir_mul(g, mask, ir_div(g, ir_reshape(g, gy[0], ks), cnt));
    return 0;
}
static int expand_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_sum_to(g, gy[0], g->vals[g->nodes[node].in[0]].shape);
    return 0;
}

#define REDUCE_ATTRS .nattrs = 2, .attrs = {{"axes", AT_INTS, 0}, {"keepdims", AT_INT, 1}}
REF_PROTO(ref_reduce_sum);
REF_PROTO(ref_reduce_mean);
REF_PROTO(ref_reduce_max);
REF_PROTO(ref_expand);
const ir_opdef op_ReduceSum = {.name = "ReduceSum", .min_in = 1, .max_in = 1, .nout = 1, REDUCE_ATTRS,
                               .infer = reduce_infer, REF(ref_reduce_sum), .grad = reduce_sum_grad};
const ir_opdef op_ReduceMean = {.name = "ReduceMean", .min_in = 1, .max_in = 1, .nout = 1, REDUCE_ATTRS,
                                .infer = reduce_infer, REF(ref_reduce_mean), .grad = reduce_mean_grad};
const ir_opdef op_ReduceMax = {.name = "ReduceMax", .min_in = 1, .max_in = 1, .nout = 1, REDUCE_ATTRS,
                               .infer = reduce_infer, REF(ref_reduce_max), .grad = reduce_max_grad};
const ir_opdef op_Expand = {.name = "Expand", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                            .attrs = {{"shape", AT_INTS, 0}}, .infer = expand_infer, REF(ref_expand),
                            .grad = expand_grad};
#endif
