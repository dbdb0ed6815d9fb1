/* Cast on the device (kernel: cast.cuh). */
#include <stdio.h>
#include <string.h>

#include "../devops.h"
#include "cast.cuh"

static int cast_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    ir_dtype from = c->in[0].dtype, to = c->out[0].dtype;
    int known_from = from == DT_F32 || from == DT_F64 || from == DT_I32 || from == DT_I64 || from == DT_U8 || from == DT_BOOL;
    int known_to = to == DT_F32 || to == DT_F64 || to == DT_I32 || to == DT_I64 || to == DT_U8 || to == DT_BOOL;
    if (!known_from || !known_to) {
        snprintf(err, IR_ERRLEN, "Cast from %s to %s has no device kernel", ir_dtype_name(from), ir_dtype_name(to));
        return -1;
    }
    memset(l, 0, sizeof *l);
    l->kernel = "Cast";
    l->args.n = c->out[0].numel;
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->out[0].data;
    l->args.i[0] = from, l->args.i[1] = to;
    return 1;
}

static const devop_def defs[] = {{OP_Cast, NULL, cast_prepare}, {0}};
static const devop_twin twins[] = {{"Cast", sslc_Cast}, {0}};
const devop_family devops_cast = {defs, twins};
