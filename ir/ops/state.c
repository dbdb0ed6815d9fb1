/* State ops: Increment (integer +1, e.g. BatchNorm's num_batches_tracked). */
#include "../opkit.h"

/* integer kernel: the same for both float widths */
int KN(ref_increment)(const ref_call *c) {
    int64_t n = c->in[0].numel, by = ir_get_i(c->node, "by");
    if (c->in[0].dtype == DT_I64) {
        const int64_t *x = c->in[0].data;
        int64_t *y = c->out[0].data;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] + by;
    } else if (c->in[0].dtype == DT_I32) {
        const int32_t *x = c->in[0].data;
        int32_t *y = c->out[0].data;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] + (int32_t)by;
    } else {
        snprintf(c->err, IR_ERRLEN, "Increment: needs an i64 or i32 tensor, got %s", ir_dtype_name(c->in[0].dtype));
        return -1;
    }
    return 0;
}

#ifndef SSLC_REF_F64
static int increment_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    ir_dtype dt = g->vals[n->in[0]].dtype;
    if (dt != DT_I64 && dt != DT_I32) return ir_fail(g, "Increment: needs an i64 or i32 tensor, got %s", ir_dtype_name(dt));
    return ir_infer_same(g, n, os, od);
}

int ir_increment(ir_graph *g, int x) { return ir_simple(g, OP_Increment, &x, 1); }

REF_PROTO(ref_increment);
/* Increment(x) = x + by (default 1) for integer tensors; not differentiable */
const ir_opdef op_Increment = {.name = "Increment", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_NO_GRAD,
                               .nattrs = 1, .attrs = {{"by", AT_INT, 1}},
                               .infer = increment_infer, REF(ref_increment)};
#endif
