/* QueueWrite on the device (kernels: queue.cuh). */
#include <stdio.h>
#include <string.h>

#include "../devops.h"
#include "queue.cuh"

/* QueueWrite(queue, keys, ptr) -> (queue', ptr') */
static int queue_write_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    int64_t axis = ir_get_i(c->node, "axis");
    const ref_tensor *q = &c->in[0], *k = &c->in[1];
    if (q->dtype != DT_F32 || k->dtype != DT_F32 || c->out[0].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "QueueWrite on %s storage has no device kernel (f32 only)", ir_dtype_name(q->dtype));
        return -1;
    }
    if ((axis != 0 && axis != 1) || q->shape.ndim != 2 || k->shape.ndim != 2 || c->in[2].dtype != DT_I64 ||
        c->in[2].numel != 1 || k->shape.d[1] != q->shape.d[1 - axis]) {
        snprintf(err, IR_ERRLEN, "QueueWrite: the device kernel needs a 2-D queue, keys [N, D] and one i64 pointer");
        return -1;
    }
    memset(l, 0, 2 * sizeof *l);
    l[0].kernel = "QueueWrite";
    l[0].args.n = q->numel;
    l[0].args.p[0] = q->data, l[0].args.p[1] = k->data, l[0].args.p[2] = c->in[2].data;
    l[0].args.p[3] = c->out[0].data, l[0].args.p[4] = c->out[1].data;
    l[0].args.i[0] = axis, l[0].args.i[1] = q->shape.d[axis], l[0].args.i[2] = q->shape.d[1 - axis];
    l[0].args.i[3] = k->shape.d[0];
    l[1] = l[0];
    l[1].kernel = "QueuePtr";
    l[1].args.n = 1;
    return 2;
}

static const devop_def defs[] = {{OP_QueueWrite, NULL, queue_write_prepare}, {0}};
static const devop_twin twins[] = {{"QueueWrite", sslc_QueueWrite}, {"QueuePtr", sslc_QueuePtr}, {0}};
const devop_family devops_queue = {defs, twins};
