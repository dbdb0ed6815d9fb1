/* Comparison and conversion: Equal (numpy broadcasting, bool result) and Cast (ONNX `to`
 * codes). SupCon builds its same-label mask from them: Cast(Equal(y[:,None], y[None,:]), f32).
 * Kernels read the storage dtype of their tensors (float values are f32 or f64 storage as the
 * interpreter chose; integer and bool tensors are stored as themselves). */
#include "../opkit.h"

#include <stdint.h>

/* ---- reference kernels (compiled for float and double) ---- */

static int KN(elem_equal)(const void *a, const void *b, ir_dtype dt) {
    switch (dt) {
    case DT_F32: return *(const float *)a == *(const float *)b;
    case DT_F64: return *(const double *)a == *(const double *)b;
    case DT_BOOL: return (*(const uint8_t *)a != 0) == (*(const uint8_t *)b != 0);
    default: return memcmp(a, b, ir_dtype_size(dt)) == 0; /* integers: bitwise */
    }
}

int KN(ref_equal)(const ref_call *c) {
    const ir_shape *os = &c->out[0].shape;
    ir_dtype dt = c->in[0].dtype;
    if (c->in[1].dtype != dt) {
        snprintf(c->err, IR_ERRLEN, "Equal: inputs stored as %s and %s", ir_dtype_name(dt),
                 ir_dtype_name(c->in[1].dtype));
        return -1;
    }
    size_t es = ir_dtype_size(dt);
    int64_t sa[IR_MAX_DIMS], sb[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0};
    ir_bcast_strides(&c->in[0].shape, os, sa);
    ir_bcast_strides(&c->in[1].shape, os, sb);
    const char *a = c->in[0].data, *b = c->in[1].data;
    uint8_t *y = c->out[0].data;
    int64_t n = c->out[0].numel, oa = 0, ob = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = (uint8_t)KN(elem_equal)(a + oa * (int64_t)es, b + ob * (int64_t)es, dt);
        for (int d = os->ndim - 1; d >= 0; d--) { /* odometer step */
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < os->d[d]) break;
            oa -= sa[d] * idx[d];
            ob -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
    return 0;
}

static int KN(is_float)(ir_dtype dt) { return dt == DT_F32 || dt == DT_F64 || dt == DT_BF16; }

static double KN(load_f)(const void *p, int64_t i, ir_dtype dt) {
    switch (dt) {
    case DT_F32: return ((const float *)p)[i];
    case DT_F64: return ((const double *)p)[i];
    case DT_BF16: return ir_f32_from_bf16(((const uint16_t *)p)[i]);
    case DT_I32: return ((const int32_t *)p)[i];
    case DT_I64: return (double)((const int64_t *)p)[i];
    case DT_U8: return ((const uint8_t *)p)[i];
    default: return ((const uint8_t *)p)[i] != 0; /* bool */
    }
}

static int64_t KN(load_i)(const void *p, int64_t i, ir_dtype dt) {
    switch (dt) {
    case DT_I32: return ((const int32_t *)p)[i];
    case DT_I64: return ((const int64_t *)p)[i];
    case DT_U8: return ((const uint8_t *)p)[i];
    default: return ((const uint8_t *)p)[i] != 0; /* bool */
    }
}

/* float -> integer: truncation toward zero, saturating at the type's range, NaN -> 0 (ONNX
 * leaves out-of-range conversions undefined; this keeps them defined in C) */
static int64_t KN(f_to_i)(double x, int64_t lo, int64_t hi) {
    if (x != x) return 0;
    if (x <= (double)lo) return lo;
    if (x >= (double)hi) return hi; /* (double)INT64_MAX is 2^63: anything below converts */
    return (int64_t)x;
}

int KN(ref_cast)(const ref_call *c) {
    ir_dtype from = c->in[0].dtype, to = c->out[0].dtype;
    const void *x = c->in[0].data;
    void *y = c->out[0].data;
    int64_t n = c->out[0].numel;
    int ff = KN(is_float)(from);
    for (int64_t i = 0; i < n; i++) {
        switch (to) {
        case DT_F32: ((float *)y)[i] = (float)KN(load_f)(x, i, from); break;
        case DT_F64: ((double *)y)[i] = KN(load_f)(x, i, from); break;
        /* through float32 (as every bf16 producer rounds): one rounding rule for all backends */
        case DT_BF16: ((uint16_t *)y)[i] = ir_bf16_from_f32((float)KN(load_f)(x, i, from)); break;
        case DT_BOOL: ((uint8_t *)y)[i] = ff ? KN(load_f)(x, i, from) != 0 : KN(load_i)(x, i, from) != 0; break;
        case DT_U8:
            ((uint8_t *)y)[i] = (uint8_t)(ff ? KN(f_to_i)(KN(load_f)(x, i, from), 0, 255) : KN(load_i)(x, i, from));
            break;
        case DT_I32:
            ((int32_t *)y)[i] = (int32_t)(ff ? KN(f_to_i)(KN(load_f)(x, i, from), INT32_MIN, INT32_MAX)
                                             : KN(load_i)(x, i, from));
            break;
        case DT_I64:
            ((int64_t *)y)[i] = ff ? KN(f_to_i)(KN(load_f)(x, i, from), INT64_MIN, INT64_MAX) : KN(load_i)(x, i, from);
            break;
        default:
            snprintf(c->err, IR_ERRLEN, "Cast: cannot produce %s", ir_dtype_name(to));
            return -1;
        }
    }
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions, builders and gradient rules (compiled once) ---- */

/* ONNX TensorProto.DataType codes, the values of Cast's `to` (stable in plan files) */
static const struct {
    int onnx;
    ir_dtype dt;
} cast_codes[] = {{1, DT_F32}, {11, DT_F64}, {16, DT_BF16}, {6, DT_I32}, {7, DT_I64}, {2, DT_U8}, {9, DT_BOOL}};
#define NCODES (int)(sizeof cast_codes / sizeof cast_codes[0])

static int supported(ir_dtype dt) {
    for (int i = 0; i < NCODES; i++)
        if (cast_codes[i].dt == dt) return 1;
    return 0;
}

static int equal_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    ir_dtype dt = g->vals[n->in[0]].dtype;
    if (!supported(dt) || dt == DT_BF16) return ir_fail(g, "Equal: %s tensors are not supported", ir_dtype_name(dt));
    if (ir_infer_broadcast(g, n, os, od)) return -1;
    od[0] = DT_BOOL;
    return 0;
}

static int cast_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    ir_dtype from = g->vals[n->in[0]].dtype;
    int64_t to = ir_get_i(n, "to");
    if (!supported(from)) return ir_fail(g, "Cast: %s input is not supported", ir_dtype_name(from));
    for (int i = 0; i < NCODES; i++)
        if (cast_codes[i].onnx == to) {
            os[0] = g->vals[n->in[0]].shape;
            od[0] = cast_codes[i].dt;
            return 0;
        }
    return ir_fail(g, "Cast: unsupported target type code %lld (ONNX codes: 1 float, 11 double, 16 bfloat16, 6 int32, 7 int64, "
                      "2 uint8, 9 bool)",
                   (long long)to);
}

int ir_equal(ir_graph *g, int a, int b) {
    int in[2] = {a, b};
    return ir_simple(g, OP_Equal, in, 2);
}

int ir_cast(ir_graph *g, int x, ir_dtype to) {
    if (g->failed || x < 0) return -1;
    for (int i = 0; i < NCODES; i++)
        if (cast_codes[i].dt == to) {
            int n = ir_node_new(g, OP_Cast, &x, 1);
            ir_set_i(g, n, "to", cast_codes[i].onnx);
            return ir_node_finish(g, n);
        }
    return ir_fail(g, "Cast: cannot produce %s", ir_dtype_name(to));
}

/* float -> float: the gradient cast back; from or to an integer/bool type there is none */
static int cast_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_dtype from = g->vals[g->nodes[node].in[0]].dtype, to = g->vals[g->nodes[node].out[0]].dtype;
    gx[0] = ir_dtype_is_float(from) && ir_dtype_is_float(to) ? ir_cast(g, gy[0], from) : -1;
    return 0;
}

REF_PROTO(ref_equal);
REF_PROTO(ref_cast);
/* Equal(a, b) -> bool, numpy broadcasting, inputs of one dtype; not differentiable */
const ir_opdef op_Equal = {.name = "Equal", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_NO_GRAD,
                           .infer = equal_infer, REF(ref_equal)};
/* Cast(x, to = ONNX type code); float -> integer truncates toward zero and saturates */
const ir_opdef op_Cast = {.name = "Cast", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                          .attrs = {{"to", AT_INT, 1}}, .infer = cast_infer, REF(ref_cast), .grad = cast_grad};
#endif
