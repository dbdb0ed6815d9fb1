/* The one op table, generated from ops.def. */
#include "ir.h"

#define OP(name) extern const ir_opdef op_##name;
#include "ops.def"
#undef OP

#define OP(name) &op_##name,
const ir_opdef *const ir_optable[OP__COUNT] = {
#include "ops.def"
};
#undef OP

#include <stdio.h>
#include <stdlib.h>

int ir_ref_run(const ir_opdef *def, const ref_call *c, int f64) {
    ref_kernel kern = f64 ? def->ref_f64 : def->ref_f32;
    if (!kern) {
        snprintf(c->err, IR_ERRLEN, "%s has no %s reference kernel", def->name, f64 ? "float64" : "float32");
        return -1;
    }
    int widen = 0;
    for (int k = 0; k < c->nin; k++) widen |= c->in[k].dtype == DT_BF16;
    if (!widen || def == &op_Cast) return kern(c);
    ref_call w = *c;
    int rc = -1;
    for (int k = 0; k < c->nin; k++) {
        if (c->in[k].dtype != DT_BF16) continue;
        const uint16_t *src = c->in[k].data;
        int64_t n = c->in[k].numel;
        w.in[k].dtype = f64 ? DT_F64 : DT_F32;
        w.in[k].data = malloc((size_t)(n ? n : 1) * (f64 ? 8 : 4));
        if (!w.in[k].data) {
            snprintf(c->err, IR_ERRLEN, "%s: out of memory widening a bfloat16 input", def->name);
            goto out;
        }
        for (int64_t i = 0; i < n; i++) {
            float v = ir_f32_from_bf16(src[i]);
            if (f64)
                ((double *)w.in[k].data)[i] = v;
            else
                ((float *)w.in[k].data)[i] = v;
        }
    }
    rc = kern(&w);
out:
    for (int k = 0; k < c->nin; k++)
        if (c->in[k].dtype == DT_BF16) free(w.in[k].data);
    return rc;
}
