/* Equal on the device (kernel: compare.cuh). */
#include <stdio.h>
#include <string.h>

#include "../../ir/opkit.h"
#include "../devops.h"
#include "compare.cuh"

static int equal_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    ir_dtype dt = c->in[0].dtype;
    const ir_shape *os = &c->out[0].shape;
    int known = dt == DT_F32 || dt == DT_F64 || dt == DT_I32 || dt == DT_I64 || dt == DT_U8 || dt == DT_BOOL;
    if (!known || c->in[1].dtype != dt || c->out[0].dtype != DT_BOOL) {
        snprintf(err, IR_ERRLEN, "Equal of %s and %s has no device kernel", ir_dtype_name(dt),
                 ir_dtype_name(c->in[1].dtype));
        return -1;
    }
    int64_t sa[IR_MAX_DIMS], sb[IR_MAX_DIMS];
    ir_bcast_strides(&c->in[0].shape, os, sa);
    ir_bcast_strides(&c->in[1].shape, os, sb);
    memset(l, 0, sizeof *l);
    l->kernel = "Equal";
    l->args.n = c->out[0].numel;
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->out[0].data;
    l->args.i[0] = dt, l->args.i[1] = os->ndim;
    for (int d = 0; d < os->ndim; d++) l->args.i[2 + d] = os->d[d], l->args.i[8 + d] = sa[d], l->args.i[14 + d] = sb[d];
    return 1;
}

static const devop_def defs[] = {{OP_Equal, NULL, equal_prepare}, {0}};
static const devop_twin twins[] = {{"Equal", sslc_Equal}, {0}};
const devop_family devops_compare = {defs, twins};
