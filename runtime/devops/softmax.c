/* SoftmaxCrossEntropyLoss and SoftmaxCrossEntropyLossGrad on the device (kernels: softmax.cuh). */
#include <stdio.h>
#include <string.h>

#include "../devops.h"
#include "softmax.cuh"

/* logits in[xi] f32 [N, C], labels in[xi + 1] i64 [N] */
static int softmax_ce_check(const ref_call *c, int xi, char *err) {
    const ref_tensor *x = &c->in[xi], *lab = &c->in[xi + 1];
    const char *op = ir_optable[c->node->op]->name;
    if (x->dtype != DT_F32 || (xi && c->in[0].dtype != DT_F32)) {
        snprintf(err, IR_ERRLEN, "%s on %s storage has no device kernel (f32 only)", op, ir_dtype_name(x->dtype));
        return -1;
    }
    if (x->shape.ndim != 2 || lab->dtype != DT_I64 || lab->numel != x->shape.d[0]) {
        snprintf(err, IR_ERRLEN, "%s: the device kernel needs logits [N, C] and i64 labels [N]", op);
        return -1;
    }
    return 0;
}

/* scratch of both: (m, s) per row, double */
static int64_t softmax_ce_scratch(const ref_call *c) {
    int xi = c->node->op == OP_SoftmaxCrossEntropyLossGrad;
    return c->in[xi].shape.d[0] * 2 * (int64_t)sizeof(double);
}

static void softmax_ce_stats(const ref_call *c, int xi, void *ws, devop_launch *l) {
    memset(l, 0, sizeof *l);
    l->kernel = "SoftmaxCEStats";
    l->args.n = c->in[xi].shape.d[0];
    l->args.p[0] = c->in[xi].data, l->args.p[1] = ws;
    l->args.i[0] = c->in[xi].shape.d[1];
}

static int softmax_ce_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    if (softmax_ce_check(c, 0, err)) return -1;
    softmax_ce_stats(c, 0, ws, &l[0]);
    memset(&l[1], 0, sizeof l[1]);
    l[1].kernel = "SoftmaxCELoss";
    l[1].args.n = 1;
    l[1].args.p[0] = c->in[0].data, l[1].args.p[1] = c->in[1].data, l[1].args.p[2] = ws;
    l[1].args.p[3] = c->out[0].data;
    l[1].args.i[0] = c->in[0].shape.d[1], l[1].args.i[1] = c->in[0].shape.d[0];
    return 2;
}

/* SoftmaxCrossEntropyLossGrad(gy, logits, labels) */
static int softmax_ce_grad_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    if (softmax_ce_check(c, 1, err)) return -1;
    softmax_ce_stats(c, 1, ws, &l[0]);
    memset(&l[1], 0, sizeof l[1]);
    l[1].kernel = "SoftmaxCEGrad";
    l[1].args.n = c->out[0].numel;
    l[1].args.p[0] = c->in[0].data, l[1].args.p[1] = c->in[1].data, l[1].args.p[2] = c->in[2].data;
    l[1].args.p[3] = ws, l[1].args.p[4] = c->out[0].data;
    l[1].args.i[0] = c->in[1].shape.d[1], l[1].args.i[1] = c->in[1].shape.d[0];
    return 2;
}

static const devop_def defs[] = {{OP_SoftmaxCrossEntropyLoss, softmax_ce_scratch, softmax_ce_prepare},
                                 {OP_SoftmaxCrossEntropyLossGrad, softmax_ce_scratch, softmax_ce_grad_prepare},
                                 {0}};
static const devop_twin twins[] = {{"SoftmaxCEStats", sslc_SoftmaxCEStats},
                                   {"SoftmaxCELoss", sslc_SoftmaxCELoss},
                                   {"SoftmaxCEGrad", sslc_SoftmaxCEGrad},
                                   {0}};
const devop_family devops_softmax = {defs, twins};
