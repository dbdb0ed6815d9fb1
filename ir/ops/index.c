/* Index ops: ArgMax (the index of a maximum along an axis) and Gather (rows of a tensor picked
 * by i64 indices), NNCLR's nearest-neighbour lookup in its support set. */
#include "../opkit.h"

/* outer × len × inner view of x around `axis` */
static void KN(split_axis)(const ir_shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= s->d[d];
    for (int d = axis + 1; d < s->ndim; d++) *inner *= s->d[d];
    *len = s->d[axis];
}

/* ArgMax(x; axis, keepdims) -> i64: the first index of the maximum (as torch.argmax and ONNX's
 * select_last_index = 0); a NaN counts as the maximum, as torch.argmax. */
int KN(ref_argmax)(const ref_call *c) {
    const ir_shape *xs = &c->in[0].shape;
    int axis = ir_norm_axis(ir_get_i(c->node, "axis"), xs->ndim);
    int64_t outer, len, inner;
    KN(split_axis)(xs, axis, &outer, &len, &inner);
    const real *x = IN(0);
    int64_t *y = (int64_t *)c->out[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            const real *row = x + o * len * inner + in;
            int64_t best = 0;
            for (int64_t j = 1; j < len && row[best * inner] == row[best * inner]; j++)
                if (row[j * inner] > row[best * inner] || row[j * inner] != row[j * inner]) best = j;
            y[o * inner + in] = best;
        }
    return 0;
}

/* Gather(data, indices; axis = 0): out[i, ...] = data[indices[i], ...], indices in [-K, K)
 * (negative ones count from the end, as ONNX); elements move as bits, whatever their dtype. */
int KN(ref_gather)(const ref_call *c) {
    int64_t K = c->in[0].shape.d[0], n = c->in[1].numel;
    int64_t row = K ? c->in[0].numel / K : 0;
    size_t es = ir_dtype_size(c->in[0].dtype), rb = (size_t)row * es;
    const int64_t *idx = IN_I64(1);
    const char *x = c->in[0].data;
    char *y = c->out[0].data;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = idx[i] < 0 ? idx[i] + K : idx[i];
        if (k < 0 || k >= K) {
            snprintf(c->err, IR_ERRLEN, "Gather: index %lld is outside [-%lld, %lld)", (long long)idx[i],
                     (long long)K, (long long)K);
            return -1;
        }
        memcpy(y + (size_t)i * rb, x + (size_t)k * rb, rb);
    }
    return 0;
}

#ifndef SSLC_REF_F64
static int argmax_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    if (x->dtype != DT_F32 && x->dtype != DT_F64)
        return ir_fail(g, "ArgMax: the input must be a float tensor, got %s", ir_dtype_name(x->dtype));
    int axis = ir_norm_axis(ir_get_i(n, "axis"), x->shape.ndim);
    if (x->shape.ndim < 1 || axis < 0)
        return ir_fail(g, "ArgMax: axis %lld is outside the input's %d dimensions", (long long)ir_get_i(n, "axis"),
                       x->shape.ndim);
    if (x->shape.d[axis] < 1) return ir_fail(g, "ArgMax: axis %d has no elements", axis);
    int keep = ir_get_i(n, "keepdims") != 0;
    ir_shape s = {0};
    for (int d = 0; d < x->shape.ndim; d++)
        if (d != axis)
            s.d[s.ndim++] = x->shape.d[d];
        else if (keep)
            s.d[s.ndim++] = 1;
    os[0] = s;
    od[0] = DT_I64;
    return 0;
}

static int gather_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]], *idx = &g->vals[n->in[1]];
    if (ir_get_i(n, "axis") != 0)
        return ir_fail(g, "Gather: only axis 0 is supported, got %lld", (long long)ir_get_i(n, "axis"));
    if (x->shape.ndim < 1 || x->shape.d[0] < 1) return ir_fail(g, "Gather: the data needs at least one row");
    if (idx->dtype != DT_I64) return ir_fail(g, "Gather: indices must be i64, got %s", ir_dtype_name(idx->dtype));
    if (idx->shape.ndim + x->shape.ndim - 1 > IR_MAX_DIMS)
        return ir_fail(g, "Gather: the output would have more than %d dimensions", IR_MAX_DIMS);
    ir_shape s = idx->shape;
    for (int d = 1; d < x->shape.ndim; d++) s.d[s.ndim++] = x->shape.d[d];
    os[0] = s;
    od[0] = x->dtype;
    return 0;
}

static int64_t argmax_flops(const ir_graph *g, const ir_node *n) { return ir_numel(&g->vals[n->in[0]].shape); }
static int64_t gather_flops(const ir_graph *g, const ir_node *n) {
    (void)g, (void)n;
    return 0; /* a copy */
}

int ir_argmax(ir_graph *g, int x, int axis, int keepdims) {
    if (g->failed) return -1;
    int node = ir_node_new(g, OP_ArgMax, &x, 1);
    ir_set_i(g, node, "axis", axis);
    ir_set_i(g, node, "keepdims", keepdims);
    return ir_node_finish(g, node);
}

int ir_gather(ir_graph *g, int data, int indices) {
    if (g->failed) return -1;
    int node = ir_node_new(g, OP_Gather, (int[]){data, indices}, 2);
    ir_set_i(g, node, "axis", 0);
    return ir_node_finish(g, node);
}

/* d data = onehotᵀ gy: onehot [N, K] marks each index's row (a negative index its row from the
 * end), so rows picked several times sum their gradients; exact, and made of Equal, Cast and
 * Gemm, which every backend runs. */
static int gather_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    if (!want[0]) return 0;
    const ir_node *n = &g->nodes[node];
    int data = n->in[0], idx = n->in[1];
    ir_shape ds = g->vals[data].shape;
    int64_t K = ds.d[0], N = ir_numel(&g->vals[idx].shape), row = ir_numel(&ds) / K;
    int64_t *ar = malloc((size_t)K * sizeof(int64_t)), *neg = malloc((size_t)K * sizeof(int64_t));
    if (!ar || !neg) {
        free(ar), free(neg);
        return ir_fail(g, "out of memory");
    }
    for (int64_t k = 0; k < K; k++) ar[k] = k, neg[k] = k - K;
    int a = ir_const(g, DT_I64, IR_SHAPE(1, K), ar), b = ir_const(g, DT_I64, IR_SHAPE(1, K), neg);
    free(ar), free(neg);
    int col = ir_reshape(g, idx, IR_SHAPE(N, 1));
    ir_dtype dt = g->vals[gy[0]].dtype;
    int onehot = ir_add(g, ir_cast(g, ir_equal(g, col, a), dt), ir_cast(g, ir_equal(g, col, b), dt));
    int d = ir_gemm(g, onehot, ir_reshape(g, gy[0], IR_SHAPE(N, row)), -1, 1, 0, 1.0, 0.0);
    gx[0] = ir_reshape(g, d, ds);
    return 0;
}

REF_PROTO(ref_argmax);
REF_PROTO(ref_gather);
const ir_opdef op_ArgMax = {.name = "ArgMax", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_NO_GRAD, .nattrs = 2,
                            .attrs = {{"axis", AT_INT, 0}, {"keepdims", AT_INT, 1}}, .infer = argmax_infer,
                            REF(ref_argmax), .flops = argmax_flops};
const ir_opdef op_Gather = {.name = "Gather", .min_in = 2, .max_in = 2, .nout = 1, .nattrs = 1,
                            .attrs = {{"axis", AT_INT, 0}}, .infer = gather_infer, REF(ref_gather),
                            .grad = gather_grad, .flops = gather_flops};
#endif
