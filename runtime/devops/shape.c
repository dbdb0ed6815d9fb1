/* Shape ops on the device (kernels: shape.cuh): Concat, Slice, Pad, Transpose. */
#include <stdio.h>
#include <string.h>

#include "../../ir/opkit.h"
#include "../devops.h"
#include "shape.cuh"

/* bytes of one element, or -1 with err for a dtype whose size the kernels do not move */
static int64_t shape_elem_bytes(const ref_call *c, ir_dtype dt, char *err) {
    size_t es = ir_dtype_size(dt);
    if (es == 1 || es == 2 || es == 4 || es == 8) return (int64_t)es;
    snprintf(err, IR_ERRLEN, "%s of %s (%zu-byte elements) has no device kernel", ir_optable[c->node->op]->name,
             ir_dtype_name(dt), es);
    return -1;
}

/* the gather of Slice and Transpose: out (contiguous) = x[base + sum idx_d * ss_d] */
static int shape_gather(const ref_call *c, const int64_t *ss, int64_t base, devop_launch *l, char *err) {
    int64_t es = shape_elem_bytes(c, c->out[0].dtype, err);
    if (es < 0) return -1;
    const ir_shape *os = &c->out[0].shape;
    memset(l, 0, sizeof *l);
    l->kernel = "ShapeGather";
    l->args.n = c->out[0].numel;
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->out[0].data;
    l->args.i[0] = os->ndim, l->args.i[1] = es, l->args.i[2] = base;
    for (int d = 0; d < os->ndim; d++) l->args.i[3 + d] = os->d[d], l->args.i[9 + d] = ss[d];
    return 1;
}

static int slice_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    const ir_shape *xs = &c->in[0].shape;
    int64_t start[IR_MAX_DIMS], step[IR_MAX_DIMS], cnt[IR_MAX_DIMS], xstr[IR_MAX_DIMS], ss[IR_MAX_DIMS], base = 0;
    if (ir_slice_plan(c->node, xs, start, step, cnt, err, IR_ERRLEN)) return -1;
    ir_strides(xs, xstr);
    for (int d = 0; d < xs->ndim; d++) {
        ss[d] = step[d] * xstr[d];
        base += start[d] * xstr[d];
    }
    return shape_gather(c, ss, base, l, err);
}

static int transpose_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    const ir_attrval *pa = ir_get(c->node, "perm");
    int nd = c->out[0].shape.ndim;
    int64_t xstr[IR_MAX_DIMS], ss[IR_MAX_DIMS];
    ir_strides(&c->in[0].shape, xstr);
    for (int d = 0; d < nd; d++) ss[d] = xstr[pa->n ? pa->v[d] : nd - 1 - d];
    return shape_gather(c, ss, 0, l, err);
}

static int pad_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    const ir_attrval *pb = ir_get(c->node, "pads_begin");
    const ir_shape *xs = &c->in[0].shape, *os = &c->out[0].shape;
    int64_t es = shape_elem_bytes(c, c->out[0].dtype, err);
    if (es < 0) return -1;
    memset(l, 0, sizeof *l);
    l->kernel = "Pad";
    l->args.n = c->out[0].numel;
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->out[0].data;
    l->args.i[0] = os->ndim, l->args.i[1] = es;
    for (int d = 0; d < os->ndim; d++) {
        l->args.i[2 + d] = os->d[d];
        l->args.i[8 + d] = pb->n ? pb->v[d] : 0;
        l->args.i[14 + d] = xs->d[d];
    }
    return 1;
}

/* inputs per launch: p[0] is the output */
enum { CONCAT_PER_LAUNCH = DEVOP_MAX_PTR - 1 };

static int concat_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    const ir_shape *os = &c->out[0].shape;
    int axis = ir_norm_axis(ir_get_i(c->node, "axis"), os->ndim);
    int64_t es = shape_elem_bytes(c, c->out[0].dtype, err);
    if (es < 0) return -1;
    if (axis < 0) {
        snprintf(err, IR_ERRLEN, "Concat: axis %lld out of range for rank %d", (long long)ir_get_i(c->node, "axis"),
                 os->ndim);
        return -1;
    }
    int nl = (c->nin + CONCAT_PER_LAUNCH - 1) / CONCAT_PER_LAUNCH;
    if (nl > DEVOP_MAX_LAUNCHES) {
        snprintf(err, IR_ERRLEN, "Concat of %d inputs has no device kernel (at most %d)", c->nin,
                 DEVOP_MAX_LAUNCHES * CONCAT_PER_LAUNCH);
        return -1;
    }
    int64_t outer = 1, inner = 1, off = 0;
    for (int d = 0; d < axis; d++) outer *= os->d[d];
    for (int d = axis + 1; d < os->ndim; d++) inner *= os->d[d];
    for (int k = 0; k < c->nin; k++)
        if (c->in[k].dtype != c->out[0].dtype) {
            snprintf(err, IR_ERRLEN, "Concat: input %d is stored as %s, the output as %s", k,
                     ir_dtype_name(c->in[k].dtype), ir_dtype_name(c->out[0].dtype));
            return -1;
        }
    for (int g = 0; g < nl; g++) {
        devop_args *a = &l[g].args;
        int k0 = g * CONCAT_PER_LAUNCH, m = c->nin - k0 < CONCAT_PER_LAUNCH ? c->nin - k0 : CONCAT_PER_LAUNCH;
        memset(&l[g], 0, sizeof l[g]);
        l[g].kernel = "Concat";
        a->p[0] = c->out[0].data;
        a->i[0] = es, a->i[1] = outer, a->i[2] = os->d[axis], a->i[3] = inner, a->i[4] = off, a->i[6] = m;
        a->i[7] = off;
        for (int k = 0; k < m; k++) {
            a->p[1 + k] = c->in[k0 + k].data;
            off += c->in[k0 + k].shape.d[axis];
            a->i[8 + k] = off;
        }
        a->i[5] = off - a->i[4];
        a->n = outer * a->i[5] * inner;
    }
    return nl;
}

static const devop_def defs[] = {{OP_Concat, NULL, concat_prepare},
                                 {OP_Slice, NULL, slice_prepare},
                                 {OP_Pad, NULL, pad_prepare},
                                 {OP_Transpose, NULL, transpose_prepare},
                                 {0}};
static const devop_twin twins[] = {{"ShapeGather", sslc_ShapeGather}, {"Concat", sslc_Concat}, {"Pad", sslc_Pad}, {0}};
const devop_family devops_shape = {defs, twins};
