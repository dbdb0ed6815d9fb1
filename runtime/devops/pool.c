/* MaxPool and MaxPoolGrad on the device (kernels: pool.cuh). */
#include <stdio.h>
#include <string.h>

#include "../devops.h"
#include "pool.cuh"

/* the geometry in i[0..10) from the attributes (checked by shape inference) and the shapes of x
 * and of the pooled tensor, or -1 with err */
static int pool_geometry(const ref_call *c, const ref_tensor *x, const ref_tensor *y, devop_args *a, char *err) {
    const char *op = ir_optable[c->node->op]->name;
    const ir_attrval *ks = ir_get(c->node, "kernel_shape"), *st = ir_get(c->node, "strides"),
                     *pd = ir_get(c->node, "pads");
    for (int k = 0; k < c->nin; k++)
        if (c->in[k].dtype != DT_F32) {
            snprintf(err, IR_ERRLEN, "%s on %s storage has no device kernel (f32 only)", op,
                     ir_dtype_name(c->in[k].dtype));
            return -1;
        }
    if (x->shape.ndim != 4 || y->shape.ndim != 4 || ks->n != 2) {
        snprintf(err, IR_ERRLEN, "%s: the device kernel needs [N,C,H,W] tensors and a 2-D kernel", op);
        return -1;
    }
    memset(a, 0, sizeof *a);
    a->i[0] = x->shape.d[2], a->i[1] = x->shape.d[3];
    a->i[2] = ks->v[0], a->i[3] = ks->v[1];
    a->i[4] = st->n ? st->v[0] : 1, a->i[5] = st->n ? st->v[1] : 1;
    a->i[6] = pd->n ? pd->v[0] : 0, a->i[7] = pd->n ? pd->v[1] : 0;
    a->i[8] = y->shape.d[2], a->i[9] = y->shape.d[3];
    int64_t ph = a->i[6] + (pd->n ? pd->v[2] : 0), pw = a->i[7] + (pd->n ? pd->v[3] : 0);
    if (a->i[4] < 1 || a->i[5] < 1 || a->i[8] != (a->i[0] + ph - a->i[2]) / a->i[4] + 1 ||
        a->i[9] != (a->i[1] + pw - a->i[3]) / a->i[5] + 1) {
        snprintf(err, IR_ERRLEN, "%s: the pooled shape does not follow from the attributes", op);
        return -1;
    }
    return 0;
}

static int maxpool_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    memset(l, 0, sizeof *l);
    if (pool_geometry(c, &c->in[0], &c->out[0], &l->args, err)) return -1;
    l->kernel = "MaxPool";
    l->args.n = c->out[0].numel;
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->out[0].data;
    return 1;
}

/* MaxPoolGrad(gY, X) -> dX; scratch: the argmax of each window (i64 per element of gY) */
static int64_t maxpool_grad_scratch(const ref_call *c) { return c->in[0].numel * (int64_t)sizeof(int64_t); }

static int maxpool_grad_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    memset(l, 0, 2 * sizeof *l);
    if (pool_geometry(c, &c->in[1], &c->in[0], &l[0].args, err)) return -1;
    l[0].kernel = "MaxPoolArgmax";
    l[0].args.n = c->in[0].numel;
    l[0].args.p[0] = c->in[0].data, l[0].args.p[1] = c->in[1].data, l[0].args.p[2] = c->out[0].data;
    l[0].args.p[3] = ws;
    l[1] = l[0];
    l[1].kernel = "MaxPoolGrad";
    l[1].args.n = c->out[0].numel;
    return 2;
}

static const devop_def defs[] = {
    {OP_MaxPool, NULL, maxpool_prepare}, {OP_MaxPoolGrad, maxpool_grad_scratch, maxpool_grad_prepare}, {0}};
static const devop_twin twins[] = {
    {"MaxPool", sslc_MaxPool}, {"MaxPoolArgmax", sslc_MaxPoolArgmax}, {"MaxPoolGrad", sslc_MaxPoolGrad}, {0}};
const devop_family devops_pool = {defs, twins};
