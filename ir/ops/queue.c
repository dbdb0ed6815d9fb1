/* Queue ops (method state): QueueWrite, MoCo's dequeue-and-enqueue. */
#include "../opkit.h"

/* QueueWrite(queue, keys, ptr) -> (queue', ptr').
 * axis = 1: queue [D, K] holds one entry per column (PySSL's MoCo layout), queue'[:, p+i] = keys[i, :];
 * axis = 0: queue [K, D] holds one entry per row, queue'[p+i, :] = keys[i, :].
 * keys [N, D], ptr i64 with one element p; ptr' = (p + N) mod K. Entries p .. p+N-1 must lie
 * inside the queue (MoCo keeps p a multiple of N and requires K divisible by N). */
int KN(ref_queue_write)(const ref_call *c) {
    int axis = (int)ir_get_i(c->node, "axis");
    const ir_shape *qs = &c->in[0].shape;
    int64_t K = qs->d[axis], D = qs->d[1 - axis], N = c->in[1].shape.d[0];
    int64_t p = IN_I64(2)[0];
    if (p < 0 || p > K - N) {
        snprintf(c->err, IR_ERRLEN, "QueueWrite: pointer %lld with %lld keys runs outside the queue of length %lld",
                 (long long)p, (long long)N, (long long)K);
        return -1;
    }
    const real *q = IN(0), *k = IN(1);
    real *y = OUT(0);
    memcpy(y, q, (size_t)c->out[0].numel * sizeof(real));
    for (int64_t i = 0; i < N; i++)
        for (int64_t d = 0; d < D; d++) {
            int64_t o = axis ? d * K + (p + i) : (p + i) * D + d;
            y[o] = k[i * D + d];
        }
    ((int64_t *)c->out[1].data)[0] = (p + N) % K;
    return 0;
}

#ifndef SSLC_REF_F64
static int queue_write_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *q = &g->vals[n->in[0]], *k = &g->vals[n->in[1]], *p = &g->vals[n->in[2]];
    int64_t axis = ir_get_i(n, "axis");
    if (axis != 0 && axis != 1) return ir_fail(g, "QueueWrite: axis must be 0 or 1, got %lld", (long long)axis);
    if (!ir_dtype_is_float(q->dtype) || q->dtype != k->dtype)
        return ir_fail(g, "QueueWrite: queue and keys must be float tensors of one dtype, got %s and %s",
                       ir_dtype_name(q->dtype), ir_dtype_name(k->dtype));
    if (p->dtype != DT_I64 || ir_numel(&p->shape) != 1)
        return ir_fail(g, "QueueWrite: the pointer must be one i64 element, got %s with %lld elements",
                       ir_dtype_name(p->dtype), (long long)ir_numel(&p->shape));
    if (q->shape.ndim != 2 || k->shape.ndim != 2)
        return ir_fail(g, "QueueWrite: queue and keys must be 2-D, got %d-D and %d-D", q->shape.ndim, k->shape.ndim);
    int64_t K = q->shape.d[axis], D = q->shape.d[1 - axis], N = k->shape.d[0];
    if (k->shape.d[1] != D)
        return ir_fail(g, "QueueWrite: keys have %lld features, the queue entries %lld", (long long)k->shape.d[1],
                       (long long)D);
    if (N < 1 || N > K)
        return ir_fail(g, "QueueWrite: %lld keys do not fit a queue of length %lld", (long long)N, (long long)K);
    os[0] = q->shape;
    od[0] = q->dtype;
    os[1] = p->shape;
    od[1] = DT_I64;
    return 0;
}

static int64_t queue_write_flops(const ir_graph *g, const ir_node *n) {
    (void)g, (void)n;
    return 0; /* a copy */
}

int ir_queue_write(ir_graph *g, int queue, int keys, int ptr, int axis, int *new_ptr) {
    if (new_ptr) *new_ptr = -1;
    if (g->failed) return -1;
    int node = ir_node_new(g, OP_QueueWrite, (int[]){queue, keys, ptr}, 3);
    ir_set_i(g, node, "axis", axis);
    int y = ir_node_finish(g, node);
    if (y >= 0 && new_ptr) *new_ptr = g->nodes[node].out[1];
    return y;
}

REF_PROTO(ref_queue_write);
const ir_opdef op_QueueWrite = {.name = "QueueWrite", .min_in = 3, .max_in = 3, .nout = 2, .flags = OPF_NO_GRAD,
                                .nattrs = 1, .attrs = {{"axis", AT_INT, 1}}, .infer = queue_write_infer,
                                REF(ref_queue_write), .flops = queue_write_flops};
#endif
