/* ONNX export: an eval-mode IR graph with its weights -> ModelProto (see onnx.h).
 *
 * Every IR op that can appear in an encoder's eval forward has one entry in `export_table`
 * (bottom of this file): either "same" (the ONNX op of the same name with the IR attributes,
 * which follow ONNX's names and conventions) or a function that emits the ONNX nodes for it.
 * Ops without an entry (gradient, loss and state ops) are refused with one line.
 *
 * The batch dimension: the graph is static, so it is built twice (batch 2 and 3). Dimensions
 * that differ are the batch: "N" in the model's input/output types; shapes fed to Reshape and
 * Expand are computed from Shape(images) where they depend on it. Every other attribute must be
 * the same in both builds. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/fileio.h"
#include "onnx.h"
#include "onnx.pb-c.h"

#define ONNX_IR_VERSION 8 /* IR version of opsets 13..17 (onnx 1.10-1.12) */
#define EXPORT_PREFIX "backbone."
#define TMP_PREFIX "sslc::"

typedef struct ex {
    const ir_graph *g, *g3;
    const float *const *w;
    const onnx_export_opts *o;
    char *err;
    int failed;
    void **pool; /* every allocation of the model, freed together */
    int npool, cappool;
    Onnx__NodeProto **nodes;
    int nn, capn;
    Onnx__TensorProto **inits;
    int ni, capi;
    char **name;            /* ONNX name of each IR value */
    unsigned char *emitted; /* initializer of a persistent value written */
    int *uses;              /* node inputs reading each value */
    unsigned char *is_out;  /* value is a graph output */
    int *fold;              /* Conv node: BN node folded into it; BN node: -2 when folded; else -1 */
    int ntmp;
    const char *batch; /* int64 [1] tensor holding N, once emitted */
    int images;        /* the input value */
    int cur;           /* node being exported, for messages */
} ex;

static int exfail(ex *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int exfail(ex *e, const char *fmt, ...) {
    if (!e->failed) {
        char msg[IR_ERRLEN];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (e->cur >= 0)
            snprintf(e->err, IR_ERRLEN, "export: node %d (%s): %.400s", e->cur, ir_optable[e->g->nodes[e->cur].op]->name,
                     msg);
        else
            snprintf(e->err, IR_ERRLEN, "export: %.480s", msg);
        e->failed = 1;
    }
    return -1;
}

static void *palloc(ex *e, size_t n) {
    if (e->failed) return NULL;
    if (e->npool == e->cappool) {
        int nc = e->cappool ? 2 * e->cappool : 256;
        void **p = realloc(e->pool, (size_t)nc * sizeof *p);
        if (!p) return exfail(e, "out of memory"), NULL;
        e->pool = p, e->cappool = nc;
    }
    void *p = calloc(1, n ? n : 1);
    if (!p) return exfail(e, "out of memory (%zu bytes)", n), NULL;
    e->pool[e->npool++] = p;
    return p;
}

static char *pstr(ex *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *pstr(ex *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = palloc(e, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static int push(ex *e, void ***arr, int *n, int *cap, void *x) {
    if (!x || e->failed) return -1;
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        void **p = realloc(*arr, (size_t)nc * sizeof *p);
        if (!p) return exfail(e, "out of memory");
        *arr = p, *cap = nc;
    }
    (*arr)[(*n)++] = x;
    return 0;
}

static const char *tmp_name(ex *e) { return pstr(e, TMP_PREFIX "t%d", e->ntmp++); }

/* ---- initializers ---- */

static int onnx_dtype(ir_dtype t) {
    switch (t) {
    case DT_F32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    case DT_F64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    case DT_F16: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    case DT_BF16: return ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
    case DT_I32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    case DT_I64: return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    case DT_U8: return ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    case DT_BOOL: return ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    default: return 0;
    }
}

/* raw little-endian data (this code assumes a little-endian host, as the plan format does) */
static const char *add_init(ex *e, const char *name, ir_dtype dt, int ndim, const int64_t *dims, const void *data) {
    Onnx__TensorProto *t = palloc(e, sizeof *t);
    int64_t *d = palloc(e, (size_t)(ndim ? ndim : 1) * sizeof *d);
    if (!t || !d) return NULL;
    onnx__tensor_proto__init(t);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) d[i] = dims[i], n *= dims[i];
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = onnx_dtype(dt);
    t->name = (char *)name;
    t->has_raw_data = 1;
    t->raw_data.len = (size_t)n * ir_dtype_size(dt);
    t->raw_data.data = (uint8_t *)data;
    if (!t->data_type) return exfail(e, "no ONNX type for %s", ir_dtype_name(dt)), NULL;
    if (push(e, (void ***)&e->inits, &e->ni, &e->capi, t)) return NULL;
    return name;
}

static const char *const_i64(ex *e, const int64_t *v, int n) {
    int64_t *copy = palloc(e, (size_t)(n ? n : 1) * sizeof *copy);
    if (!copy) return NULL;
    memcpy(copy, v, (size_t)n * sizeof *copy);
    int64_t dim = n;
    return add_init(e, tmp_name(e), DT_I64, 1, &dim, copy);
}

static const char *const_f32(ex *e, float x) {
    float *copy = palloc(e, sizeof *copy);
    if (!copy) return NULL;
    *copy = x;
    return add_init(e, tmp_name(e), DT_F32, 0, NULL, copy);
}

static const void *value_data(ex *e, int v) {
    const ir_value *x = &e->g->vals[v];
    if (x->kind == VK_CONST) return x->data;
    if (x->kind == VK_PARAM || x->kind == VK_STATE) return x->dtype == DT_F32 ? e->w[v] : NULL;
    return NULL;
}

/* the ONNX name of value v; a parameter, state or constant is written as an initializer on first use */
static const char *vname(ex *e, int v) {
    const ir_value *x = &e->g->vals[v];
    if ((x->kind == VK_PARAM || x->kind == VK_STATE || x->kind == VK_CONST) && !e->emitted[v]) {
        const void *data = value_data(e, v);
        if (!data) return exfail(e, "'%s' has no data to export", e->name[v]), NULL;
        e->emitted[v] = 1;
        if (!add_init(e, e->name[v], x->dtype, x->shape.ndim, x->shape.d, data)) return NULL;
    }
    return e->name[v];
}

/* ---- nodes and attributes ---- */

static Onnx__NodeProto *emit(ex *e, const char *op, int nin, const char *const *in, int nout, const char *const *out) {
    Onnx__NodeProto *n = palloc(e, sizeof *n);
    char **ins = palloc(e, (size_t)(nin ? nin : 1) * sizeof(char *));
    char **outs = palloc(e, (size_t)(nout ? nout : 1) * sizeof(char *));
    if (!n || !ins || !outs) return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++) {
        if (!in[i]) return NULL; /* an earlier failure */
        ins[i] = (char *)in[i];
    }
    for (int i = 0; i < nout; i++) {
        if (!out[i]) return NULL;
        outs[i] = (char *)out[i];
    }
    n->n_input = (size_t)nin, n->input = ins;
    n->n_output = (size_t)nout, n->output = outs;
    n->op_type = (char *)op;
    n->name = pstr(e, "%s_%d", op, e->nn);
    if (push(e, (void ***)&e->nodes, &e->nn, &e->capn, n)) return NULL;
    return n;
}

/* one-output node; returns the output name */
static const char *emit1(ex *e, const char *op, int nin, const char *const *in, const char *out) {
    return emit(e, op, nin, in, 1, &out) ? out : NULL;
}

static Onnx__AttributeProto *new_attr(ex *e, Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType t) {
    if (!n) return NULL;
    Onnx__AttributeProto *a = palloc(e, sizeof *a);
    Onnx__AttributeProto **arr = palloc(e, (n->n_attribute + 1) * sizeof *arr);
    if (!a || !arr) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = t;
    if (n->n_attribute) memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = a;
    n->attribute = arr;
    return a;
}
static void attr_i(ex *e, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}
static void attr_f(ex *e, Onnx__NodeProto *n, const char *name, double v) {
    Onnx__AttributeProto *a = new_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = (float)v;
}
static void attr_ints(ex *e, Onnx__NodeProto *n, const char *name, const int64_t *v, int k) {
    Onnx__AttributeProto *a = new_attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = palloc(e, (size_t)(k ? k : 1) * sizeof *copy);
    if (!a || !copy) return;
    memcpy(copy, v, (size_t)k * sizeof *copy);
    a->n_ints = (size_t)k, a->ints = copy;
}

/* ---- the batch dimension ---- */

/* int64 [1] tensor holding the runtime batch size: Slice(Shape(images), [0], [1]) */
static const char *batch_tensor(ex *e) {
    if (e->batch) return e->batch;
    const char *shape = emit1(e, "Shape", 1, (const char *[]){vname(e, e->images)}, TMP_PREFIX "image_shape");
    int64_t zero = 0, one = 1;
    const char *in[3] = {shape, const_i64(e, &zero, 1), const_i64(e, &one, 1)};
    e->batch = emit1(e, "Slice", 3, in, TMP_PREFIX "batch");
    return e->batch;
}

/* An int64 shape tensor with the dimensions d (batch 2) / d3 (batch 3): a constant when they
 * agree, else a Concat of constant runs and batch multiples Mul(N, k). */
static const char *shape_tensor(ex *e, const int64_t *d, const int64_t *d3, int n) {
    int dyn = 0;
    for (int i = 0; i < n; i++) dyn |= d[i] != d3[i];
    if (!dyn) return const_i64(e, d, n);
    const char *parts[IR_MAX_INTS];
    int np = 0;
    for (int i = 0; i < n;) {
        if (d[i] == d3[i]) {
            int j = i;
            while (j < n && d[j] == d3[j]) j++;
            parts[np++] = const_i64(e, d + i, j - i);
            i = j;
            continue;
        }
        int64_t k = d[i] / 2;
        if (d[i] % 2 || d3[i] != 3 * k || k < 1)
            return exfail(e, "a shape dimension (%lld at batch 2, %lld at batch 3) is not a multiple of the batch",
                          (long long)d[i], (long long)d3[i]),
                   NULL;
        const char *b = batch_tensor(e);
        parts[np++] = k == 1 ? b : emit1(e, "Mul", 2, (const char *[]){b, const_i64(e, &k, 1)}, tmp_name(e));
        i++;
    }
    if (np == 1) return parts[0];
    Onnx__NodeProto *c = emit(e, "Concat", np, parts, 1, (const char *[]){tmp_name(e)});
    attr_i(e, c, "axis", 0);
    return c ? c->output[0] : NULL;
}

/* ---- per-op exporters ---- */

typedef int (*export_fn)(ex *e, const ir_node *n, int idx);

static const char *in_name(ex *e, const ir_node *n, int k) { return vname(e, n->in[k]); }
static const char *out_name(ex *e, const ir_node *n, int k) { return e->name[n->out[k]]; }

static int check_single_output(ex *e, const ir_node *n) {
    for (int k = 1; k < n->nout; k++)
        if (e->uses[n->out[k]] || e->is_out[n->out[k]]) return exfail(e, "output %d is used; only output 0 is exported", k);
    return 0;
}

/* the ONNX op of the same name, with every IR attribute that is set (they follow ONNX) */
static int ex_same_as(ex *e, const ir_node *n, const char *op) {
    if (check_single_output(e, n)) return -1;
    const char *in[IR_MAX_IN];
    for (int k = 0; k < n->nin; k++) in[k] = in_name(e, n, k);
    Onnx__NodeProto *p = emit(e, op, n->nin, in, 1, (const char *[]){out_name(e, n, 0)});
    const ir_opdef *def = ir_optable[n->op];
    for (int a = 0; a < def->nattrs && p; a++) {
        const ir_attrval *v = &n->attr[a];
        switch (def->attrs[a].type) {
        case AT_INT: attr_i(e, p, def->attrs[a].name, v->i); break;
        case AT_FLOAT: attr_f(e, p, def->attrs[a].name, v->f); break;
        case AT_INTS:
            if (v->n) attr_ints(e, p, def->attrs[a].name, v->v, v->n);
            break;
        default: break;
        }
    }
    return p ? 0 : -1;
}
static int ex_same(ex *e, const ir_node *n, int idx) {
    (void)idx;
    return ex_same_as(e, n, ir_optable[n->op]->name);
}
static int ex_identity(ex *e, const ir_node *n, int idx) {
    (void)idx;
    return emit1(e, "Identity", 1, (const char *[]){in_name(e, n, 0)}, out_name(e, n, 0)) ? 0 : -1;
}

/* exact GELU (opset < 20 has no Gelu): 0.5 * x * (1 + erf(x / sqrt(2))) */
static int ex_gelu(ex *e, const ir_node *n, int idx) {
    (void)idx;
    const char *x = in_name(e, n, 0);
    const char *a = emit1(e, "Div", 2, (const char *[]){x, const_f32(e, (float)M_SQRT2)}, tmp_name(e));
    const char *b = emit1(e, "Erf", 1, (const char *[]){a}, tmp_name(e));
    const char *c = emit1(e, "Add", 2, (const char *[]){b, const_f32(e, 1.0f)}, tmp_name(e));
    const char *d = emit1(e, "Mul", 2, (const char *[]){x, c}, tmp_name(e));
    return emit1(e, "Mul", 2, (const char *[]){d, const_f32(e, 0.5f)}, out_name(e, n, 0)) ? 0 : -1;
}

/* ReduceSum takes axes as an input from opset 13; ReduceMean/ReduceMax until opset 18 as an attribute */
static int ex_reduce(ex *e, const ir_node *n, int idx) {
    (void)idx;
    const ir_attrval *axes = ir_get(n, "axes");
    int axes_input = n->op == OP_ReduceSum;
    const char *in[2] = {in_name(e, n, 0), NULL};
    int nin = 1;
    if (axes_input && axes->n) in[nin++] = const_i64(e, axes->v, axes->n);
    Onnx__NodeProto *p = emit(e, ir_optable[n->op]->name, nin, in, 1, (const char *[]){out_name(e, n, 0)});
    if (!axes_input && axes->n) attr_ints(e, p, "axes", axes->v, axes->n);
    attr_i(e, p, "keepdims", ir_get_i(n, "keepdims"));
    return p ? 0 : -1;
}

/* Reshape / Expand: the target shape as a (possibly batch-dependent) tensor */
static int ex_shape_op(ex *e, const ir_node *n, int idx) {
    const ir_attrval *s = ir_get(n, "shape"), *s3 = ir_get(&e->g3->nodes[idx], "shape");
    if (s->n != s3->n) return exfail(e, "the target rank depends on the batch size");
    const char *in[2] = {in_name(e, n, 0), shape_tensor(e, s->v, s3->v, s->n)};
    return emit1(e, ir_optable[n->op]->name, 2, in, out_name(e, n, 0)) ? 0 : -1;
}

static int ex_slice(ex *e, const ir_node *n, int idx) {
    (void)idx;
    const ir_attrval *ax = ir_get(n, "axes"), *st = ir_get(n, "starts"), *en = ir_get(n, "ends"), *sp = ir_get(n, "steps");
    const char *in[5] = {in_name(e, n, 0), const_i64(e, st->v, st->n), const_i64(e, en->v, en->n), NULL, NULL};
    int nin = 3;
    if (ax->n || sp->n) {
        int64_t all[IR_MAX_INTS];
        for (int i = 0; i < st->n; i++) all[i] = i;
        in[nin++] = ax->n ? const_i64(e, ax->v, ax->n) : const_i64(e, all, st->n);
    }
    if (sp->n) in[nin++] = const_i64(e, sp->v, sp->n);
    return emit1(e, "Slice", nin, in, out_name(e, n, 0)) ? 0 : -1;
}

static int ex_pad(ex *e, const ir_node *n, int idx) {
    (void)idx;
    const ir_attrval *b = ir_get(n, "pads_begin"), *en = ir_get(n, "pads_end");
    int r = e->g->vals[n->in[0]].shape.ndim;
    int64_t pads[2 * IR_MAX_DIMS] = {0};
    for (int i = 0; i < r; i++) {
        pads[i] = i < b->n ? b->v[i] : 0;
        pads[r + i] = i < en->n ? en->v[i] : 0;
    }
    const char *in[2] = {in_name(e, n, 0), const_i64(e, pads, 2 * r)};
    return emit1(e, "Pad", 2, in, out_name(e, n, 0)) ? 0 : -1;
}

static int ex_batchnorm(ex *e, const ir_node *n, int idx) {
    if (e->fold[idx] == -2) return 0; /* folded into the Conv before it, which writes our output */
    if (ir_get_i(n, "training_mode"))
        return exfail(e, "training-mode BatchNormalization (build the graph in eval mode)");
    if (check_single_output(e, n)) return -1;
    const char *in[5];
    for (int k = 0; k < 5; k++) in[k] = in_name(e, n, k);
    Onnx__NodeProto *p = emit(e, "BatchNormalization", 5, in, 1, (const char *[]){out_name(e, n, 0)});
    attr_f(e, p, "epsilon", ir_get_f(n, "epsilon"));
    attr_f(e, p, "momentum", 1.0 - ir_get_f(n, "momentum")); /* ONNX: new = running*m + batch*(1-m) */
    return p ? 0 : -1;
}

/* LayerNormalization: the ONNX op from opset 17, before it the same arithmetic in basic ops:
 * d = X - mean(X), Y = d / sqrt(mean(d*d) + eps) * Scale + B over the axes from `axis` on */
static int ex_layernorm(ex *e, const ir_node *n, int idx) {
    (void)idx;
    if (check_single_output(e, n)) return -1;
    int r = e->g->vals[n->in[0]].shape.ndim;
    int64_t axis = ir_get_i(n, "axis");
    if (axis < 0) axis += r;
    double eps = ir_get_f(n, "epsilon");
    const char *x = in_name(e, n, 0), *scale = in_name(e, n, 1), *bias = n->nin > 2 ? in_name(e, n, 2) : NULL;
    if (e->o->opset >= 17) {
        const char *in[3] = {x, scale, bias};
        Onnx__NodeProto *p = emit(e, "LayerNormalization", bias ? 3 : 2, in, 1, (const char *[]){out_name(e, n, 0)});
        attr_i(e, p, "axis", axis);
        attr_f(e, p, "epsilon", eps);
        return p ? 0 : -1;
    }
    int64_t axes[IR_MAX_DIMS];
    int na = 0;
    for (int64_t d = axis; d < r; d++) axes[na++] = d;
    Onnx__NodeProto *m = emit(e, "ReduceMean", 1, &x, 1, (const char *[]){tmp_name(e)});
    attr_ints(e, m, "axes", axes, na);
    const char *d = emit1(e, "Sub", 2, (const char *[]){x, m ? m->output[0] : NULL}, tmp_name(e));
    const char *sq = emit1(e, "Mul", 2, (const char *[]){d, d}, tmp_name(e));
    Onnx__NodeProto *v = emit(e, "ReduceMean", 1, &sq, 1, (const char *[]){tmp_name(e)});
    attr_ints(e, v, "axes", axes, na);
    const char *ve = emit1(e, "Add", 2, (const char *[]){v ? v->output[0] : NULL, const_f32(e, (float)eps)}, tmp_name(e));
    const char *sd = emit1(e, "Sqrt", 1, &ve, tmp_name(e));
    const char *y = emit1(e, "Div", 2, (const char *[]){d, sd}, tmp_name(e));
    if (!bias) return emit1(e, "Mul", 2, (const char *[]){y, scale}, out_name(e, n, 0)) ? 0 : -1;
    y = emit1(e, "Mul", 2, (const char *[]){y, scale}, tmp_name(e));
    return emit1(e, "Add", 2, (const char *[]){y, bias}, out_name(e, n, 0)) ? 0 : -1;
}

/* Conv, with the eval-mode BatchNormalization after it folded in when fold_bn is set:
 * W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps) per output channel. */
static int ex_conv(ex *e, const ir_node *n, int idx) {
    int b = e->fold[idx];
    if (b < 0) return ex_same(e, n, idx);
    const ir_node *bn = &e->g->nodes[b];
    const ir_value *wv = &e->g->vals[n->in[1]];
    const float *W = value_data(e, n->in[1]), *cb = n->nin > 2 ? value_data(e, n->in[2]) : NULL;
    const float *gam = value_data(e, bn->in[1]), *beta = value_data(e, bn->in[2]);
    const float *mean = value_data(e, bn->in[3]), *var = value_data(e, bn->in[4]);
    if (!W || !gam || !beta || !mean || !var || (n->nin > 2 && !cb)) return exfail(e, "BatchNorm folding: missing data");
    int64_t M = wv->shape.d[0], per = ir_numel(&wv->shape) / (M ? M : 1);
    float *W2 = palloc(e, (size_t)(M * per) * sizeof(float)), *b2 = palloc(e, (size_t)M * sizeof(float));
    if (!W2 || !b2) return -1;
    double eps = ir_get_f(bn, "epsilon");
    for (int64_t m = 0; m < M; m++) {
        double s = gam[m] / sqrt((double)var[m] + eps);
        for (int64_t i = 0; i < per; i++) W2[m * per + i] = (float)(W[m * per + i] * s);
        b2[m] = (float)(((cb ? cb[m] : 0.0) - mean[m]) * s + beta[m]);
    }
    /* names: the conv's weight (used only here), and its bias or "<weight stem>.bias" */
    const char *wname = e->name[n->in[1]];
    const char *bname;
    if (n->nin > 2)
        bname = e->name[n->in[2]];
    else {
        size_t L = strlen(wname);
        bname = L > 7 && !strcmp(wname + L - 7, ".weight") ? pstr(e, "%.*s.bias", (int)(L - 7), wname)
                                                           : pstr(e, "%s.bias", wname);
    }
    int64_t bdim = M;
    const char *in[3] = {add_init(e, wname, DT_F32, wv->shape.ndim, wv->shape.d, W2), in_name(e, n, 0), NULL};
    in[2] = add_init(e, bname, DT_F32, 1, &bdim, b2);
    const char *t = in[0];
    in[0] = in[1], in[1] = t; /* X, W, B */
    Onnx__NodeProto *p = emit(e, "Conv", 3, in, 1, (const char *[]){out_name(e, n, 0)});
    const ir_opdef *def = ir_optable[n->op];
    for (int a = 0; a < def->nattrs && p; a++) {
        if (def->attrs[a].type == AT_INT) attr_i(e, p, def->attrs[a].name, n->attr[a].i);
        if (def->attrs[a].type == AT_INTS && n->attr[a].n) attr_ints(e, p, def->attrs[a].name, n->attr[a].v, n->attr[a].n);
    }
    return p ? 0 : -1;
}

/* The one table: IR op -> exporter. */
static const struct {
    int op;
    export_fn fn;
} export_table[] = {
    {OP_Add, ex_same},         {OP_Sub, ex_same},          {OP_Mul, ex_same},          {OP_Div, ex_same},
    {OP_Neg, ex_same},         {OP_Exp, ex_same},          {OP_Log, ex_same},          {OP_Sqrt, ex_same},
    {OP_Pow, ex_same},         {OP_Max, ex_same},          {OP_Relu, ex_same},         {OP_Identity, ex_identity},
    {OP_StopGradient, ex_identity}, {OP_Gelu, ex_gelu},    {OP_ReduceSum, ex_reduce},  {OP_ReduceMean, ex_reduce},
    {OP_ReduceMax, ex_reduce}, {OP_Expand, ex_shape_op},   {OP_Reshape, ex_shape_op},  {OP_Flatten, ex_same},
    {OP_Concat, ex_same},      {OP_Slice, ex_slice},       {OP_Pad, ex_pad},           {OP_Transpose, ex_same},
    {OP_MatMul, ex_same},      {OP_Gemm, ex_same},         {OP_Softmax, ex_same},      {OP_LogSoftmax, ex_same},
    {OP_Conv, ex_conv},        {OP_MaxPool, ex_same},      {OP_GlobalAveragePool, ex_same},
    {OP_BatchNormalization, ex_batchnorm}, {OP_LayerNormalization, ex_layernorm},
};

static export_fn exporter_of(int op) {
    for (size_t i = 0; i < sizeof export_table / sizeof export_table[0]; i++)
        if (export_table[i].op == op) return export_table[i].fn;
    return NULL;
}

/* ---- whole graph ---- */

static int attrs_equal(const ir_node *a, const ir_node *b, int nattrs) {
    for (int k = 0; k < nattrs; k++) {
        const ir_attrval *x = &a->attr[k], *y = &b->attr[k];
        if (x->i != y->i || x->n != y->n || memcmp(&x->f, &y->f, sizeof x->f)) return 0;
        for (int j = 0; j < x->n && j < IR_MAX_INTS; j++)
            if (x->v[j] != y->v[j]) return 0;
    }
    return 1;
}

/* the two builds have the same structure; attributes agree except the shapes of Reshape/Expand */
static int check_builds(ex *e) {
    const ir_graph *g = e->g, *g3 = e->g3;
    if (g->nnodes != g3->nnodes || g->nvals != g3->nvals || g->noutputs != g3->noutputs)
        return exfail(e, "the encoder graph's structure depends on the batch size");
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *a = &g->nodes[i], *b = &g3->nodes[i];
        e->cur = i;
        if (a->op != b->op || a->nin != b->nin || a->nout != b->nout || memcmp(a->in, b->in, sizeof a->in[0] * (size_t)a->nin))
            return exfail(e, "the encoder graph's structure depends on the batch size");
        if (a->op != OP_Reshape && a->op != OP_Expand && !attrs_equal(a, b, ir_optable[a->op]->nattrs))
            return exfail(e, "its attributes depend on the batch size, which ONNX export cannot express");
    }
    e->cur = -1;
    for (int v = 0; v < g->nvals; v++) {
        ir_kind k = g->vals[v].kind;
        if ((k == VK_PARAM || k == VK_STATE || k == VK_CONST) && !ir_shape_eq(&g->vals[v].shape, &g3->vals[v].shape))
            return exfail(e, "the shape of '%s' depends on the batch size", g->vals[v].name ? g->vals[v].name : "a constant");
    }
    return 0;
}

static int assign_names(ex *e, const char *const *out_names) {
    const ir_graph *g = e->g;
    e->images = -1;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *x = &g->vals[v];
        const char *nm = x->name;
        if (x->kind == VK_INPUT) {
            if (e->images >= 0) return exfail(e, "the encoder graph has more than one input");
            e->images = v;
            e->name[v] = pstr(e, "%s", nm ? nm : "images");
        } else if ((x->kind == VK_PARAM || x->kind == VK_STATE) && nm) {
            size_t k = strlen(EXPORT_PREFIX);
            e->name[v] = pstr(e, "%s", strncmp(nm, EXPORT_PREFIX, k) == 0 && nm[k] ? nm + k : nm);
        } else {
            e->name[v] = pstr(e, TMP_PREFIX "%s%d", x->kind == VK_INTER ? "v" : "c", v);
        }
    }
    if (e->images < 0) return exfail(e, "the encoder graph has no input");
    for (int k = 0; k < g->noutputs; k++) {
        int v = g->outputs[k];
        if (e->is_out[v]) return exfail(e, "output '%s' is listed twice", out_names[k]);
        e->is_out[v] = 1;
        if (g->vals[v].kind == VK_INTER) e->name[v] = pstr(e, "%s", out_names[k]);
    }
    return e->failed ? -1 : 0;
}

/* BatchNorm folding: Conv -> eval BN where the conv's output and weights have no other reader */
static void plan_folds(ex *e) {
    const ir_graph *g = e->g;
    for (int i = 0; i < g->nnodes; i++) e->fold[i] = -1;
    if (!e->o->fold_bn) return;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *bn = &g->nodes[i];
        if (bn->op != OP_BatchNormalization || ir_get_i(bn, "training_mode")) continue;
        int c = g->vals[bn->in[0]].producer;
        if (c < 0 || g->nodes[c].op != OP_Conv) continue;
        const ir_node *cv = &g->nodes[c];
        int ok = e->uses[cv->out[0]] == 1 && !e->is_out[cv->out[0]] && e->uses[cv->in[1]] == 1 &&
                 g->vals[cv->in[1]].dtype == DT_F32 && (cv->nin < 3 || e->uses[cv->in[2]] == 1) &&
                 value_data(e, cv->in[1]) && (cv->nin < 3 || value_data(e, cv->in[2]));
        for (int k = 1; k < 5 && ok; k++) ok = value_data(e, bn->in[k]) != NULL;
        for (int k = 1; k < bn->nout && ok; k++) ok = !e->uses[bn->out[k]] && !e->is_out[bn->out[k]];
        if (!ok) continue;
        e->fold[c] = i;
        e->fold[i] = -2;
        e->name[cv->out[0]] = e->name[bn->out[0]];
    }
}

static Onnx__ValueInfoProto *value_info(ex *e, int v, const char *name) {
    const ir_value *x = &e->g->vals[v], *x3 = &e->g3->vals[v];
    Onnx__ValueInfoProto *vi = palloc(e, sizeof *vi);
    Onnx__TypeProto *tp = palloc(e, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = palloc(e, sizeof *tt);
    Onnx__TensorShapeProto *sp = palloc(e, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = palloc(e, (size_t)(x->shape.ndim + 1) * sizeof *dims);
    if (!vi || !tp || !tt || !sp || !dims) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    for (int d = 0; d < x->shape.ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dm = palloc(e, sizeof *dm);
        if (!dm) return NULL;
        onnx__tensor_shape_proto__dimension__init(dm);
        if (x->shape.d[d] == x3->shape.d[d]) {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm->dim_value = x->shape.d[d];
        } else {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dm->dim_param = x->shape.d[d] == 2 && x3->shape.d[d] == 3 ? "N" : pstr(e, "d%d", d);
        }
        dims[d] = dm;
    }
    sp->n_dim = (size_t)x->shape.ndim;
    sp->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = onnx_dtype(x->dtype);
    tt->shape = sp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    return vi;
}

static int export_graph(ex *e, const char *const *out_names, Onnx__GraphProto *gp) {
    const ir_graph *g = e->g;
    if (check_builds(e) || assign_names(e, out_names)) return -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) e->uses[g->nodes[i].in[k]]++;
    plan_folds(e);
    if (e->failed) return -1;
    for (int i = 0; i < g->nnodes && !e->failed; i++) {
        const ir_node *n = &g->nodes[i];
        e->cur = i;
        int used = 0;
        for (int k = 0; k < n->nout; k++) used |= e->uses[n->out[k]] || e->is_out[n->out[k]];
        if (!used) continue; /* dead (e.g. BatchNorm statistics outputs) */
        export_fn fn = exporter_of(n->op);
        if (!fn) return exfail(e, "no ONNX mapping for this op (it does not belong in an encoder's eval forward)");
        if (fn(e, n, i) && !e->failed) return exfail(e, "could not be exported");
    }
    e->cur = -1;
    /* outputs that no node writes under their name (a parameter, the input itself) */
    for (int k = 0; k < g->noutputs && !e->failed; k++) {
        int v = g->outputs[k];
        if (g->vals[v].kind != VK_INTER) emit1(e, "Identity", 1, (const char *[]){vname(e, v)}, pstr(e, "%s", out_names[k]));
    }
    if (e->failed) return -1;
    Onnx__ValueInfoProto **ins = palloc(e, sizeof *ins), **outs = palloc(e, (size_t)g->noutputs * sizeof *outs + 1);
    if (!ins || !outs) return -1;
    ins[0] = value_info(e, e->images, e->name[e->images]);
    for (int k = 0; k < g->noutputs; k++) outs[k] = value_info(e, g->outputs[k], out_names[k]);
    if (e->failed) return -1;
    gp->name = "sslc_encoder";
    gp->n_node = (size_t)e->nn, gp->node = e->nodes;
    gp->n_initializer = (size_t)e->ni, gp->initializer = e->inits;
    gp->n_input = 1, gp->input = ins;
    gp->n_output = (size_t)g->noutputs, gp->output = outs;
    /* initializer names must be unique (an IR name could collide with a generated one) */
    for (int i = 0; i < e->ni; i++)
        for (int j = i + 1; j < e->ni; j++)
            if (!strcmp(e->inits[i]->name, e->inits[j]->name))
                return exfail(e, "two initializers are named '%s'", e->inits[i]->name);
    return 0;
}

int onnx_export(const ir_graph *g, const ir_graph *g3, const float *const *weights, const char *const *out_names,
                const onnx_export_opts *o, const char *path, char *err) {
    if (o->opset < ONNX_OPSET_MIN || o->opset > ONNX_OPSET_MAX) {
        snprintf(err, IR_ERRLEN, "--opset must be in [%d, %d], got %d", ONNX_OPSET_MIN, ONNX_OPSET_MAX, o->opset);
        return -1;
    }
    ex e;
    memset(&e, 0, sizeof e);
    e.g = g, e.g3 = g3, e.w = weights, e.o = o, e.err = err, e.cur = -1;
    size_t nv = (size_t)g->nvals + 1;
    e.name = calloc(nv, sizeof *e.name);
    e.emitted = calloc(nv, 1);
    e.uses = calloc(nv, sizeof *e.uses);
    e.is_out = calloc(nv, 1);
    e.fold = calloc((size_t)g->nnodes + 1, sizeof *e.fold);
    int rc = -1;
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__operator_set_id_proto__init(&opset);
    if (!e.name || !e.emitted || !e.uses || !e.is_out || !e.fold) {
        exfail(&e, "out of memory");
        goto out;
    }
    if (export_graph(&e, out_names, &graph)) goto out;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = o->opset;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    model.has_ir_version = 1;
    model.ir_version = ONNX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "sslc";
    model.producer_version = SSLC_VERSION;
    model.doc_string = (char *)o->doc;
    model.graph = &graph;
    Onnx__StringStringEntryProto *meta = calloc((size_t)o->nmeta + 1, sizeof *meta);
    Onnx__StringStringEntryProto **metap = calloc((size_t)o->nmeta + 1, sizeof *metap);
    if (!meta || !metap) {
        free(meta);
        free(metap);
        exfail(&e, "out of memory");
        goto out;
    }
    for (int i = 0; i < o->nmeta; i++) {
        onnx__string_string_entry_proto__init(&meta[i]);
        meta[i].key = (char *)o->meta_keys[i];
        meta[i].value = (char *)o->meta_values[i];
        metap[i] = &meta[i];
    }
    model.n_metadata_props = (size_t)o->nmeta;
    model.metadata_props = metap;
    size_t len = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf) onnx__model_proto__pack(&model, buf);
    free(meta);
    free(metap);
    if (!buf) {
        exfail(&e, "out of memory (%zu bytes)", len);
        goto out;
    }
    const void *parts[1] = {buf};
    rc = sslc_write_atomic(path, parts, &len, 1, err);
    free(buf);
out:
    for (int i = 0; i < e.npool; i++) free(e.pool[i]);
    free(e.pool);
    free(e.nodes);
    free(e.inits);
    free(e.name);
    free(e.emitted);
    free(e.uses);
    free(e.is_out);
    free(e.fold);
    return rc;
}
