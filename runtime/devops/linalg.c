/* Gemm's bias fill on the device (kernel: linalg.cuh); the product itself is cuBLAS's. No op of
 * its own: the cuda backend prepares it beside its cuBLAS call (devop_gemm_bias). */
#include <string.h>

#include "../../ir/opkit.h"
#include "../devops.h"
#include "linalg.cuh"

void devop_gemm_bias(const ref_call *c, devop_launch *l) {
    const ir_shape *ys = &c->out[0].shape;
    int64_t st[IR_MAX_DIMS];
    ir_bcast_strides(&c->in[2].shape, ys, st);
    memset(l, 0, sizeof *l);
    l->kernel = "GemmBias";
    l->args.n = ys->d[0] * ys->d[1];
    l->args.p[0] = c->in[2].data, l->args.p[1] = c->out[0].data;
    l->args.i[0] = ys->d[1], l->args.i[1] = st[0], l->args.i[2] = st[1];
    l->args.f[0] = ir_get_f(c->node, "beta");
}

static const devop_def defs[] = {{0}};
static const devop_twin twins[] = {{"GemmBias", sslc_GemmBias}, {0}};
const devop_family devops_linalg = {defs, twins};
