/* Shape ops: Reshape, Flatten (more shape ops: Concat, Slice, Pad, Transpose). */
#include "../opkit.h"

int KN(ref_copy)(const ref_call *c) {
    memcpy(c->out[0].data, c->in[0].data, (size_t)c->out[0].numel * ir_dtype_size(c->out[0].dtype));
    return 0;
}

#ifndef SSLC_REF_F64
int ir_reshape(ir_graph *g, int x, ir_shape to) {
    int n = ir_node_new(g, OP_Reshape, &x, 1);
    ir_set_ints(g, n, "shape", to.d, to.ndim);
    return ir_node_finish(g, n);
}

int ir_flatten(ir_graph *g, int x, int axis) {
    int n = ir_node_new(g, OP_Flatten, &x, 1);
    ir_set_i(g, n, "axis", axis);
    return ir_node_finish(g, n);
}

static int reshape_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    const ir_attrval *sh = ir_get(n, "shape");
    ir_shape to = ir_shape_make(sh->n, sh->v);
    int64_t numel = 1; /* checked: shapes read from files are untrusted */
    int bad = 0;
    for (int d = 0; d < to.ndim; d++)
        if (to.d[d] < 0 || __builtin_mul_overflow(numel, to.d[d], &numel)) bad = 1;
    if (bad || numel != ir_numel(&x->shape)) {
        char a[96], b[96];
        ir_shape_str(&x->shape, a, sizeof a);
        ir_shape_str(&to, b, sizeof b);
        return ir_fail(g, "Reshape: cannot reshape %s to %s", a, b);
    }
    os[0] = to;
    od[0] = x->dtype;
    return 0;
}

static int flatten_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    int64_t axis = ir_get_i(n, "axis");
    if (axis < 0) axis += x->shape.ndim;
    if (axis < 0 || axis > x->shape.ndim) return ir_fail(g, "Flatten: axis %lld out of range", (long long)axis);
    int64_t a = 1, b = 1;
    for (int d = 0; d < x->shape.ndim; d++) {
        if (d < axis)
            a *= x->shape.d[d];
        else
            b *= x->shape.d[d];
    }
    os[0] = IR_SHAPE(a, b);
    od[0] = x->dtype;
    return 0;
}

static int reshape_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_reshape(g, gy[0], g->vals[g->nodes[node].in[0]].shape);
    return 0;
}

REF_PROTO(ref_copy);
const ir_opdef op_Reshape = {.name = "Reshape", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                             .attrs = {{"shape", AT_INTS, 0}}, .infer = reshape_infer, REF(ref_copy),
                             .grad = reshape_grad};
const ir_opdef op_Flatten = {.name = "Flatten", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                             .attrs = {{"axis", AT_INT, 1}}, .infer = flatten_infer, REF(ref_copy),
                             .grad = reshape_grad};
#endif
