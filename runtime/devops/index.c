/* ArgMax and Gather on the device (kernels: index.cuh). */
#include <stdio.h>
#include <string.h>

#include "../../ir/opkit.h"
#include "../devops.h"
#include "index.cuh"

static int argmax_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    const ir_shape *xs = &c->in[0].shape;
    if (c->in[0].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "ArgMax of %s has no device kernel (f32 only)", ir_dtype_name(c->in[0].dtype));
        return -1;
    }
    int axis = ir_norm_axis(ir_get_i(c->node, "axis"), xs->ndim);
    int64_t inner = 1;
    for (int d = axis + 1; d < xs->ndim; d++) inner *= xs->d[d];
    memset(l, 0, sizeof *l);
    l->kernel = "ArgMax";
    l->args.n = c->out[0].numel;
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->out[0].data;
    l->args.i[0] = xs->d[axis], l->args.i[1] = inner;
    return 1;
}

static int gather_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    size_t es = ir_dtype_size(c->in[0].dtype);
    if (es != 4 && es != 8) {
        snprintf(err, IR_ERRLEN, "Gather of %s has no device kernel (4- and 8-byte elements only)",
                 ir_dtype_name(c->in[0].dtype));
        return -1;
    }
    int64_t K = c->in[0].shape.d[0], row = c->in[0].numel / K;
    memset(l, 0, sizeof *l);
    l->kernel = "Gather";
    l->args.n = c->out[0].numel * (int64_t)(es / 4);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->out[0].data;
    l->args.i[0] = K, l->args.i[1] = row * (int64_t)(es / 4);
    return 1;
}

static const devop_def defs[] = {{OP_ArgMax, NULL, argmax_prepare}, {OP_Gather, NULL, gather_prepare}, {0}};
static const devop_twin twins[] = {{"ArgMax", sslc_ArgMax}, {"Gather", sslc_Gather}, {0}};
const devop_family devops_index = {defs, twins};
