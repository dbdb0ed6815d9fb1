/* ONNX import: a model file -> a backbone builder (see onnx.h).
 *
 * Loading checks everything that does not depend on shapes: the protobuf parses, one float image
 * input, the chosen output exists, every node needed for it (the graph is pruned to the output)
 * is defined in order, uses a supported op with supported attributes, and every initializer's
 * data matches its shape. Building (once per encoder call, at the batch of the graph being
 * built) converts the needed nodes in order through `import_table`: compute ops become IR
 * nodes; shape arithmetic (Shape, Gather, Unsqueeze, Concat... on constants) is evaluated at
 * build time, since sslc graphs are static.
 *
 * Initializers read as data by compute ops become parameters named after them (BatchNorm's mean
 * and variance become state); 0-d initializers and Constant nodes become constants. An Identity
 * of an initializer (torch.onnx.export writes those for tensors with equal contents) gives a
 * separate parameter named after the Identity's output. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../ir/builder.h"
#include "../ir/opkit.h"
#include "../runtime/fileio.h"
#include "../runtime/pbnest.h"
#include "onnx.h"
#include "onnx.pb-c.h"

#define IMPORT_OPSET_MIN 11
#define IMPORT_OPSET_MAX 21
#define IMPORT_MAX_BYTES ((size_t)1 << 31) /* protobuf's own limit */
#define ONNX_MAX_NESTING 100             /* about 30 nested subgraphs */
#define IMPORT_MAX_NAME 200
#define IMPORT_MAX_NUMEL ((int64_t)1 << 31)

/* a constant tensor: float32 or int64 data */
typedef struct {
    int is_float;
    ir_shape shape;
    int64_t numel;
    float *f;
    int64_t *i;
    const char *param_name; /* initializer (or Identity of one) that may become a parameter */
} ctensor;

typedef struct imp_op imp_op;

/* a pattern of nodes fused into one op (see fuse_patterns): the slots it reads */
typedef struct {
    int x, scale, bias; /* slots; scale and bias -1 when absent */
    int naxes;          /* LayerNorm: the ReduceMean axes, as written (the rank is known when building) */
    int64_t axes[IR_MAX_DIMS];
    double eps;
} fused;

struct onnx_model {
    char path[1024];
    Onnx__ModelProto *pb;
    const Onnx__GraphProto *gp;
    int64_t opset;
    int nslots;            /* names: 0 the input, then initializers, then node outputs */
    const char **slot_name;
    int *slot_producer;    /* node index, -1 for the input and initializers */
    ctensor *inits;        /* per initializer (slot 1 + k), decoded */
    int ninits;
    int **node_in;         /* per node: slot of each input, -1 for an absent optional input */
    int **node_out;        /* per node: slot of each output */
    const imp_op **node_op;
    fused *node_aux;       /* per node: what a fused pattern (GELU, LayerNorm) ending there reads */
    int *nreaders;         /* per slot: how many needed nodes read it */
    int (*reader)[2];      /* per slot: the first two of them */
    ctensor *node_const;   /* Constant nodes' values, decoded at load */
    unsigned char *needed; /* per node */
    int out_slot;
    const char *input_name;
    onnx_input_info info;
    int64_t input_batch; /* the declared input's static batch, or -1 */
    uint32_t crc;        /* of the file image */
    /* hash map name -> slot */
    int *map;
    int mapcap;
};

/* ---- names ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int map_find(const onnx_model *m, const char *name) {
    if (!m->mapcap) return -1;
    size_t mask = (size_t)m->mapcap - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        int s = m->map[i];
        if (s < 0) return -1;
        if (!strcmp(m->slot_name[s], name)) return s;
    }
}

static void map_put(onnx_model *m, int slot) {
    size_t mask = (size_t)m->mapcap - 1;
    size_t i = hash_str(m->slot_name[slot]) & mask;
    while (m->map[i] >= 0) i = (i + 1) & mask;
    m->map[i] = slot;
}

static const char *node_label(const onnx_model *m, int idx, char *buf, size_t n) {
    const Onnx__NodeProto *nd = m->gp->node[idx];
    if (nd->name && nd->name[0])
        snprintf(buf, n, "'%.120s'", nd->name);
    else
        snprintf(buf, n, "#%d", idx);
    return buf;
}

/* names in a model are arbitrary bytes: control characters become '?' so a message stays one line */
static void oneline(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

/* one line into err (IR_ERRLEN bytes), truncated where it must be */
static void errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errf(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IR_ERRLEN, fmt, ap);
    va_end(ap);
    oneline(err);
}

static int lfail(char *err, const onnx_model *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lfail(char *err, const onnx_model *m, const char *fmt, ...) {
    char msg[IR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errf(err, "%.300s: %s", m->path, msg);
    return -1;
}

/* ---- tensors ---- */

static void ct_free(ctensor *c) {
    free(c->f);
    free(c->i);
    memset(c, 0, sizeof *c);
}

/* shape from dims: rank <= IR_MAX_DIMS, dims >= 0, numel bounded */
static int make_shape(const int64_t *d, size_t n, ir_shape *s, int64_t *numel, char *why, size_t nwhy) {
    if (n > IR_MAX_DIMS) return snprintf(why, nwhy, "rank %zu (at most %d)", n, IR_MAX_DIMS), -1;
    int64_t k = 1;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < 0) return snprintf(why, nwhy, "negative dimension %lld", (long long)d[i]), -1;
        if (d[i] && k > IMPORT_MAX_NUMEL / d[i]) return snprintf(why, nwhy, "too many elements"), -1;
        k *= d[i];
    }
    *s = ir_shape_make((int)n, d);
    *numel = k;
    return 0;
}

static int ct_alloc(ctensor *c, int is_float, ir_shape s) {
    memset(c, 0, sizeof *c);
    c->is_float = is_float;
    c->shape = s;
    c->numel = ir_numel(&s);
    size_t n = (size_t)(c->numel ? c->numel : 1);
    if (is_float)
        c->f = malloc(n * sizeof(float));
    else
        c->i = malloc(n * sizeof(int64_t));
    return (is_float ? (void *)c->f : (void *)c->i) ? 0 : -1;
}

/* TensorProto -> ctensor (float, double -> float; int64, int32 -> int64) */
static int decode_tensor(const Onnx__TensorProto *t, ctensor *c, char *why, size_t nwhy) {
    ir_shape s;
    int64_t n;
    memset(c, 0, sizeof *c);
    if (make_shape(t->dims, t->n_dims, &s, &n, why, nwhy)) return -1;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return snprintf(why, nwhy, "keeps its data in an external file (not supported)"), -1;
    if (t->segment) return snprintf(why, nwhy, "is segmented (not supported)"), -1;
    int dt = t->has_data_type ? t->data_type : 0;
    size_t esz;
    int is_float;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: esz = 4, is_float = 1; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: esz = 8, is_float = 1; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: esz = 8, is_float = 0; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: esz = 4, is_float = 0; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: esz = 1, is_float = 0; break; /* as 0 / 1 (shape arithmetic) */
    default:
        return snprintf(why, nwhy, "has data type %d (only float, double, int32, int64 and bool are supported)", dt), -1;
    }
    size_t have;
    if (t->has_raw_data) {
        if (t->raw_data.len % esz)
            return snprintf(why, nwhy, "has %zu bytes of raw data, not a multiple of %zu", t->raw_data.len, esz), -1;
        have = t->raw_data.len / esz;
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        have = t->n_float_data;
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        have = t->n_double_data;
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        have = t->n_int64_data;
    else /* int32 and bool */
        have = t->n_int32_data;
    if (have != (size_t)n)
        return snprintf(why, nwhy, "has %zu values, its shape needs %lld", have, (long long)n), -1;
    if (ct_alloc(c, is_float, s)) return snprintf(why, nwhy, "out of memory"), -1;
    const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
    for (int64_t k = 0; k < n; k++) {
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
            float x;
            if (raw)
                memcpy(&x, raw + 4 * k, 4);
            else
                x = t->float_data[k];
            c->f[k] = x;
        } break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: {
            double x;
            if (raw)
                memcpy(&x, raw + 8 * k, 8);
            else
                x = t->double_data[k];
            c->f[k] = (float)x;
        } break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
            if (raw)
                memcpy(&c->i[k], raw + 8 * k, 8);
            else
                c->i[k] = t->int64_data[k];
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: c->i[k] = raw ? raw[k] != 0 : t->int32_data[k] != 0; break;
        default: {
            int32_t x;
            if (raw)
                memcpy(&x, raw + 4 * k, 4);
            else
                x = t->int32_data[k];
            c->i[k] = x;
        }
        }
    }
    return 0;
}

/* ---- attributes ---- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && !strcmp(n->attribute[k]->name, name)) return n->attribute[k];
    return NULL;
}

/* ---- the build context ---- */

typedef struct {
    int v;      /* IR value, or -1 */
    ctensor *c; /* constant (not owned) */
} ent;

typedef struct {
    onnx_model *m;
    mbuild *mb;
    ir_graph *g;
    ent *ents;       /* per slot */
    ctensor **owned; /* constants made while building */
    int nowned, capowned;
    int idx; /* node being converted */
    const Onnx__NodeProto *n;
} bctx;

static int bfail(bctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bfail(bctx *b, const char *fmt, ...) {
    char msg[IR_ERRLEN], lab[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ir_fail(b->g, "%.200s: node %s (%s): %s", b->m->path, node_label(b->m, b->idx, lab, sizeof lab), b->n->op_type, msg);
    oneline(b->g->err);
    return -1;
}

/* attribute `name` holding kind 'i' (integer), 'f' (float) or 's' (string); NULL when absent or
 * of another kind (which fails the build) */
static const Onnx__AttributeProto *attr_typed(bctx *b, const char *name, char kind) {
    const Onnx__AttributeProto *a = attr(b->n, name);
    if (a && !(kind == 'i' ? a->has_i : kind == 'f' ? a->has_f : a->has_s)) {
        bfail(b, "attribute '%s' must be %s", name, kind == 'i' ? "an integer" : kind == 'f' ? "a float" : "a string");
        return NULL;
    }
    return a;
}
static int64_t attr_i(bctx *b, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr_typed(b, name, 'i');
    return a ? a->i : def;
}
static double attr_f(bctx *b, const char *name, double def) {
    const Onnx__AttributeProto *a = attr_typed(b, name, 'f');
    return a ? a->f : def;
}
/* ints attribute: count, or -1 when absent; fails when longer than max */
static int attr_ints(bctx *b, const char *name, int64_t *out, int max) {
    const Onnx__AttributeProto *a = attr(b->n, name);
    if (!a) return -1;
    if (a->n_ints > (size_t)max) return bfail(b, "attribute '%s' has %zu values (at most %d)", name, a->n_ints, max), -2;
    for (size_t k = 0; k < a->n_ints; k++) out[k] = a->ints[k];
    return (int)a->n_ints;
}
static const char *attr_s(bctx *b, const char *name, const char *def, char *buf, size_t n) {
    const Onnx__AttributeProto *a = attr_typed(b, name, 's');
    if (!a) return def;
    size_t k = a->s.len < n - 1 ? a->s.len : n - 1;
    memcpy(buf, a->s.data, k);
    buf[k] = 0;
    return buf;
}

static int nin(const bctx *b) { return (int)b->n->n_input; }
static int has_in(const bctx *b, int k) { return k < nin(b) && b->m->node_in[b->idx][k] >= 0; }

static ent *in_ent(bctx *b, int k) {
    if (!has_in(b, k)) return bfail(b, "input %d is missing", k), NULL;
    ent *e = &b->ents[b->m->node_in[b->idx][k]];
    if (e->v < 0 && !e->c)
        return bfail(b, "input '%.120s' is not available (an output that sslc does not produce)", b->n->input[k]), NULL;
    return e;
}

/* the entry of output k, or NULL when the node does not name it */
static ent *out_ent(bctx *b, int k) {
    if (k >= (int)b->n->n_output || b->m->node_out[b->idx][k] < 0) return NULL;
    return &b->ents[b->m->node_out[b->idx][k]];
}

static int set_out_v(bctx *b, int k, int v) {
    if (v < 0) return -1;
    ent *o = out_ent(b, k);
    if (o) *o = (ent){v, NULL};
    return 0;
}

/* a float initializer (or an Identity of one): becomes a parameter when computed with */
static int is_weight(const ctensor *c) { return c && c->param_name && c->is_float; }
/* a constant that shape arithmetic folds */
static int is_foldable(const ctensor *c) { return c && !is_weight(c); }

static ctensor *new_const(bctx *b, int is_float, ir_shape s) {
    if (b->nowned == b->capowned) {
        int nc = b->capowned ? 2 * b->capowned : 32;
        ctensor **p = realloc(b->owned, (size_t)nc * sizeof *p);
        if (!p) return bfail(b, "out of memory"), NULL;
        b->owned = p, b->capowned = nc;
    }
    ctensor *c = calloc(1, sizeof *c);
    if (!c || ct_alloc(c, is_float, s)) {
        if (c) ct_free(c);
        free(c);
        return bfail(b, "out of memory"), NULL;
    }
    b->owned[b->nowned++] = c;
    return c;
}

/* element j of src into element k of r (same type) */
static void ct_put(ctensor *r, int64_t k, const ctensor *src, int64_t j) {
    if (r->is_float)
        r->f[k] = src->f[j];
    else
        r->i[k] = src->i[j];
}

/* a copy of constant c with shape s (as many elements) */
static ctensor *copy_const(bctx *b, const ctensor *c, ir_shape s) {
    ctensor *r = new_const(b, c->is_float, s);
    if (r) memcpy(r->is_float ? (void *)r->f : (void *)r->i, c->is_float ? (void *)c->f : (void *)c->i,
                  (size_t)r->numel * (r->is_float ? sizeof(float) : sizeof(int64_t)));
    return r;
}

static int set_out_c(bctx *b, int k, ctensor *c) {
    if (!c) return -1;
    ent *o = out_ent(b, k);
    if (o) *o = (ent){-1, c};
    return 0;
}

static int pass_through(bctx *b, const ent *e) {
    ent *o = out_ent(b, 0);
    if (o) *o = *e;
    return 0;
}

enum { ROLE_DATA, ROLE_PARAM, ROLE_STATE };

/* initializer -> parameter / state (shared by name between encoder calls) */
static int make_param(bctx *b, const ctensor *c, int role) {
    ir_graph *g = b->g;
    if (!c->is_float) return bfail(b, "initializer '%.120s' is an integer tensor, used as float data", c->param_name);
    char full[512];
    ir_scoped_name(g, c->param_name, full, sizeof full);
    int existed = ir_find_value(g, full) >= 0;
    ir_init init = {INIT_DATA, 0, 0, -1};
    int v = role == ROLE_STATE ? mb_state(b->mb, c->param_name, DT_F32, c->shape, init)
                               : mb_param(b->mb, c->param_name, c->shape, init, c->shape.ndim <= 1 ? VF_NO_DECAY : 0);
    if (v < 0) return -1;
    int nv = ir_find_value(g, full);
    if (!existed && nv >= 0 && g->vals[nv].init.kind == INIT_DATA && !g->vals[nv].data) {
        size_t bytes = (size_t)(c->numel ? c->numel : 1) * sizeof(float);
        g->vals[nv].data = malloc(bytes);
        if (!g->vals[nv].data) return bfail(b, "out of memory");
        memcpy(g->vals[nv].data, c->f, (size_t)c->numel * sizeof(float));
    }
    if (nv >= 0 && !ir_shape_eq(&g->vals[nv].shape, &c->shape))
        return bfail(b, "'%.120s' is used with two shapes", c->param_name);
    return role == ROLE_STATE ? mb_cur(b->mb, v) : v;
}

/* the IR value of an entry: constants become parameters (initializers), state, or IR constants */
static int ent_value(bctx *b, ent *e, int role) {
    if (e->v >= 0) return e->v;
    const ctensor *c = e->c;
    if (is_weight(c) && (c->shape.ndim > 0 || role != ROLE_DATA)) return make_param(b, c, role);
    int v = c->is_float ? ir_const(b->g, DT_F32, c->shape, c->f) : ir_const(b->g, DT_I64, c->shape, c->i);
    if (v >= 0 && role == ROLE_DATA) e->v = v; /* reuse within this build */
    return v;
}

/* the IR value of input k */
static int in_value(bctx *b, int k, int role) {
    ent *e = in_ent(b, k);
    return e ? ent_value(b, e, role) : -1;
}

/* an input that must be a constant (shapes, axes...) */
static const ctensor *in_const(bctx *b, int k, const char *what) {
    ent *e = in_ent(b, k);
    if (!e) return NULL;
    if (!e->c) return bfail(b, "%s must be a constant (an initializer or computed from shapes)", what), NULL;
    return e->c;
}

/* constant int64 list (1-D or scalar) of at most max values */
static int in_ints(bctx *b, int k, const char *what, int64_t *out, int max) {
    const ctensor *c = in_const(b, k, what);
    if (!c) return -1;
    if (c->is_float || c->shape.ndim > 1) return bfail(b, "%s must be a 1-D integer tensor", what);
    if (c->numel > max) return bfail(b, "%s has %lld values (at most %d)", what, (long long)c->numel, max);
    memcpy(out, c->i, (size_t)c->numel * sizeof *out);
    return (int)c->numel;
}

static const ir_shape *vshape(bctx *b, int v) { return &b->g->vals[v].shape; }

/* input k's entry and shape, computed or constant (shape arithmetic reads either) */
static ent *in_shaped(bctx *b, int k, ir_shape *s) {
    ent *e = in_ent(b, k);
    if (e) *s = e->v >= 0 ? *vshape(b, e->v) : e->c->shape;
    return e;
}

static int norm_axis(bctx *b, int64_t a, int rank, int64_t *out) {
    if (a < -rank || a >= rank) return bfail(b, "axis %lld out of range for rank %d", (long long)a, rank);
    *out = a < 0 ? a + rank : a;
    return 0;
}

/* ---- handlers ---- */

typedef int (*imp_fn)(bctx *b, const imp_op *op);
struct imp_op {
    const char *name;
    imp_fn fn;
    int irop;           /* IR op of generic handlers */
    const char *attrs;  /* supported attribute names, space separated */
};

static int h_unary(bctx *b, const imp_op *op) {
    int x = in_value(b, 0, ROLE_DATA);
    return set_out_v(b, 0, x < 0 ? -1 : ir_simple(b->g, op->irop, &x, 1));
}

/* numpy's broadcast shape of n constants, each of one element or of all of the result's (so
 * element k of the result reads element k, or 0, of each) */
static int fold_shape(bctx *b, const ctensor *const *c, int n, ir_shape *out) {
    *out = c[0]->shape;
    for (int k = 1; k < n; k++)
        if (ir_broadcast_shape(out, &c[k]->shape, out)) return bfail(b, "cannot broadcast these constants");
    int64_t total = ir_numel(out);
    for (int k = 0; k < n; k++)
        if (c[k]->numel != 1 && c[k]->numel != total)
            return bfail(b, "constants are combined at build time only when each has one value or all of them");
    return 0;
}

/* integer arithmetic on constants (shape computations) */
static int fold_binary(bctx *b, const imp_op *op, const ctensor *x, const ctensor *y) {
    if (x->is_float || y->is_float) return bfail(b, "float arithmetic on constants is not supported");
    ir_shape s;
    if (fold_shape(b, (const ctensor *[]){x, y}, 2, &s)) return -1;
    ctensor *r = new_const(b, 0, s);
    if (!r) return -1;
    for (int64_t k = 0; k < r->numel; k++) {
        int64_t p = x->i[x->numel == 1 ? 0 : k], q = y->i[y->numel == 1 ? 0 : k], z = 0;
        switch (op->irop) {
        case OP_Add: z = (int64_t)((uint64_t)p + (uint64_t)q); break;
        case OP_Sub: z = (int64_t)((uint64_t)p - (uint64_t)q); break;
        case OP_Mul: z = (int64_t)((uint64_t)p * (uint64_t)q); break;
        case OP_Equal: z = p == q; break; /* bool as 0 / 1 */
        case OP_Div:
            if (q == 0 || (p == INT64_MIN && q == -1)) return bfail(b, "integer division by zero");
            z = p / q;
            break;
        default: return bfail(b, "not supported on integer constants");
        }
        r->i[k] = z;
    }
    return set_out_c(b, 0, r);
}

static int h_binary(bctx *b, const imp_op *op) {
    ent *ea = in_ent(b, 0), *eb = in_ent(b, 1);
    if (!ea || !eb) return -1;
    if (nin(b) != 2) return bfail(b, "takes exactly 2 inputs here, got %d", nin(b));
    if (is_foldable(ea->c) && is_foldable(eb->c)) return fold_binary(b, op, ea->c, eb->c);
    if (op->irop == OP_Equal) /* a bool tensor: nothing downstream (Cast, Where) takes one */
        return bfail(b, "only supported on constants (shape arithmetic)");
    int in[2] = {in_value(b, 0, ROLE_DATA), in_value(b, 1, ROLE_DATA)};
    if (in[0] < 0 || in[1] < 0) return -1;
    return set_out_v(b, 0, ir_simple(b->g, op->irop, in, 2));
}

static int h_identity(bctx *b, const imp_op *op) {
    (void)op;
    ent *e = in_ent(b, 0);
    if (!e) return -1;
    if (is_weight(e->c) && out_ent(b, 0)) { /* a separate parameter named after this output */
        ctensor *c = copy_const(b, e->c, e->c->shape);
        if (!c) return -1;
        c->param_name = b->n->output[0];
        return set_out_c(b, 0, c);
    }
    return pass_through(b, e);
}

static int h_dropout(bctx *b, const imp_op *op) {
    (void)op;
    if (has_in(b, 2)) { /* training_mode */
        const ctensor *t = in_const(b, 2, "training_mode");
        if (!t) return -1;
        if (t->numel != 1 || (t->is_float ? t->f[0] != 0 : t->i[0] != 0))
            return bfail(b, "training-mode Dropout is not supported");
    }
    ent *e = in_ent(b, 0);
    if (!e) return -1;
    return pass_through(b, e);
}

/* pads for auto_pad SAME_UPPER / SAME_LOWER (ONNX's formula) */
static void same_pads(const int64_t *in, const int64_t *k, const int64_t *s, const int64_t *d, int lower, int64_t *pads) {
    for (int i = 0; i < 2; i++) {
        int64_t out = (in[i] + s[i] - 1) / s[i];
        int64_t total = (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in[i];
        if (total < 0) total = 0;
        int64_t small = total / 2, big = total - small;
        pads[i] = lower ? big : small;
        pads[2 + i] = lower ? small : big;
    }
}

/* strides, dilations, pads of Conv / MaxPool (2-D); k: kernel [2] */
static int window_attrs(bctx *b, const ir_shape *xs, const int64_t *k, int64_t *st, int64_t *dl, int64_t *pads) {
    st[0] = st[1] = dl[0] = dl[1] = 1;
    pads[0] = pads[1] = pads[2] = pads[3] = 0;
    int n;
    if ((n = attr_ints(b, "strides", st, 2)) >= 0 && n != 2) return bfail(b, "strides needs 2 values, got %d", n);
    if ((n = attr_ints(b, "dilations", dl, 2)) >= 0 && n != 2) return bfail(b, "dilations needs 2 values, got %d", n);
    if ((n = attr_ints(b, "pads", pads, 4)) >= 0 && n != 4) return bfail(b, "pads needs 4 values, got %d", n);
    if (b->g->failed) return -1;
    for (int i = 0; i < 2; i++)
        if (st[i] < 1 || dl[i] < 1 || st[i] > 1 << 20 || dl[i] > 1 << 20)
            return bfail(b, "strides and dilations must be in [1, 2^20]");
    for (int i = 0; i < 4; i++)
        if (pads[i] < 0 || pads[i] > 1 << 20) return bfail(b, "pads must be in [0, 2^20]");
    char buf[32];
    const char *ap = attr_s(b, "auto_pad", "NOTSET", buf, sizeof buf);
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"))
        same_pads(xs->d + 2, k, st, dl, ap[5] == 'L', pads);
    else if (!strcmp(ap, "VALID"))
        pads[0] = pads[1] = pads[2] = pads[3] = 0;
    else if (strcmp(ap, "NOTSET"))
        return bfail(b, "auto_pad '%s' is not supported", ap);
    return b->g->failed ? -1 : 0;
}

static int h_conv(bctx *b, const imp_op *op) {
    (void)op;
    int x = in_value(b, 0, ROLE_DATA), w = in_value(b, 1, ROLE_PARAM);
    int bias = has_in(b, 2) ? in_value(b, 2, ROLE_PARAM) : -1;
    if (x < 0 || w < 0 || (has_in(b, 2) && bias < 0)) return -1;
    const ir_shape *xs = vshape(b, x), *ws = vshape(b, w);
    if (xs->ndim != 4 || ws->ndim != 4) return bfail(b, "only 2-D convolution (4-D input and weight) is supported");
    int64_t ks[2], st[2], dl[2], pads[4];
    int n = attr_ints(b, "kernel_shape", ks, 2);
    if (n == -2) return -1;
    if (n >= 0 && (n != 2 || ks[0] != ws->d[2] || ks[1] != ws->d[3]))
        return bfail(b, "kernel_shape does not match the weight's shape");
    if (window_attrs(b, xs, ws->d + 2, st, dl, pads)) return -1;
    int in[3] = {x, w, bias};
    int node = ir_node_new(b->g, OP_Conv, in, bias >= 0 ? 3 : 2);
    ir_set_ints(b->g, node, "strides", st, 2);
    ir_set_ints(b->g, node, "pads", pads, 4);
    ir_set_ints(b->g, node, "dilations", dl, 2);
    ir_set_i(b->g, node, "group", attr_i(b, "group", 1));
    return set_out_v(b, 0, ir_node_finish(b->g, node));
}

static int h_batchnorm(bctx *b, const imp_op *op) {
    (void)op;
    if (attr_i(b, "spatial", 1) != 1) return bfail(b, "spatial=0 is not supported");
    double eps = attr_f(b, "epsilon", 1e-5), mom = attr_f(b, "momentum", 0.9);
    if (!(eps > 0 && eps < 1) || !(mom >= 0 && mom <= 1)) return bfail(b, "epsilon must be in (0, 1) and momentum in [0, 1]");
    for (int k = 0; k < 5; k++)
        if (!has_in(b, k)) return bfail(b, "needs 5 inputs");
    int x = in_value(b, 0, ROLE_DATA), sc = in_value(b, 1, ROLE_PARAM), bi = in_value(b, 2, ROLE_PARAM);
    if (x < 0 || sc < 0 || bi < 0) return -1;
    /* running statistics: state when they are initializers (updated in training), else constants */
    int stat[2], isstate[2];
    for (int k = 0; k < 2; k++) {
        ent *e = in_ent(b, 3 + k);
        if (!e) return -1;
        isstate[k] = e->v < 0 && is_weight(e->c);
        stat[k] = in_value(b, 3 + k, isstate[k] ? ROLE_STATE : ROLE_DATA);
        if (stat[k] < 0) return -1;
    }
    int nm = -1, nv = -1;
    int y = ir_batchnorm(b->g, x, sc, bi, stat[0], stat[1], eps, 1.0 - mom, b->mb->training, &nm, &nv);
    if (y >= 0 && b->mb->training) {
        for (int k = 0; k < 2; k++) {
            if (!isstate[k]) continue;
            char full[512];
            ir_scoped_name(b->g, in_ent(b, 3 + k)->c->param_name, full, sizeof full);
            mb_advance(b->mb, ir_find_value(b->g, full), k ? nv : nm);
        }
    }
    return set_out_v(b, 0, y);
}

static int h_layernorm(bctx *b, const imp_op *op) {
    (void)op; /* Mean / InvStdDev outputs are not produced: a node reading them is refused */
    int x = in_value(b, 0, ROLE_DATA), sc = in_value(b, 1, ROLE_PARAM);
    int bi = has_in(b, 2) ? in_value(b, 2, ROLE_PARAM) : -1;
    if (x < 0 || sc < 0 || (has_in(b, 2) && bi < 0)) return -1;
    int64_t axis = 0;
    if (norm_axis(b, attr_i(b, "axis", -1), vshape(b, x)->ndim, &axis)) return -1;
    double eps = attr_f(b, "epsilon", 1e-5);
    if (!(eps > 0 && eps < 1)) return bfail(b, "epsilon must be in (0, 1)");
    return set_out_v(b, 0, ir_layernorm(b->g, x, sc, bi, (int)axis, eps));
}

static int h_maxpool(bctx *b, const imp_op *op) {
    (void)op;
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    const ir_shape *xs = vshape(b, x);
    if (xs->ndim != 4) return bfail(b, "only 2-D pooling (4-D input) is supported");
    int64_t ks[2], st[2], dl[2], pads[4];
    if (attr_ints(b, "kernel_shape", ks, 2) != 2) return bfail(b, "kernel_shape needs 2 values");
    if (ks[0] < 1 || ks[1] < 1 || ks[0] > 1 << 20 || ks[1] > 1 << 20) return bfail(b, "kernel_shape must be in [1, 2^20]");
    if (window_attrs(b, xs, ks, st, dl, pads)) return -1;
    if (dl[0] != 1 || dl[1] != 1) return bfail(b, "dilations other than 1 are not supported");
    if (attr_i(b, "ceil_mode", 0)) { /* extra end padding (never the maximum) gives ceil's output size */
        for (int i = 0; i < 2; i++) {
            int64_t span = xs->d[2 + i] + pads[i] + pads[2 + i] - ks[i];
            if (span < 0) break;
            int64_t out = (span + st[i] - 1) / st[i] + 1;
            if ((out - 1) * st[i] >= xs->d[2 + i] + pads[i]) out--; /* last window must start inside */
            int64_t extra = (out - 1) * st[i] + ks[i] - (xs->d[2 + i] + pads[i] + pads[2 + i]);
            if (extra > 0) pads[2 + i] += extra;
        }
    }
    int node = ir_node_new(b->g, OP_MaxPool, &x, 1);
    ir_set_ints(b->g, node, "kernel_shape", ks, 2);
    ir_set_ints(b->g, node, "strides", st, 2);
    ir_set_ints(b->g, node, "pads", pads, 4);
    return set_out_v(b, 0, ir_node_finish(b->g, node));
}

static int h_flatten(bctx *b, const imp_op *op) {
    (void)op;
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    int64_t a = attr_i(b, "axis", 1);
    int r = vshape(b, x)->ndim;
    if (a < -r || a > r) return bfail(b, "axis %lld out of range", (long long)a);
    return set_out_v(b, 0, ir_flatten(b->g, x, (int)a));
}

static int h_gemm(bctx *b, const imp_op *op) {
    (void)op;
    int a = in_value(b, 0, ROLE_DATA), w = in_value(b, 1, ROLE_PARAM);
    int c = has_in(b, 2) ? in_value(b, 2, ROLE_PARAM) : -1;
    if (a < 0 || w < 0 || (has_in(b, 2) && c < 0)) return -1;
    int64_t ta = attr_i(b, "transA", 0), tb = attr_i(b, "transB", 0);
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return bfail(b, "transA/transB must be 0 or 1");
    return set_out_v(b, 0, ir_gemm(b->g, a, w, c, (int)ta, (int)tb, attr_f(b, "alpha", 1), attr_f(b, "beta", 1)));
}

/* Reshape target: 0 copies a dimension (unless allowzero), -1 is inferred */
static int resolve_reshape(const ir_shape *xs, const int64_t *t, int n, int allowzero, int64_t *out) {
    int64_t known = 1, inferred = -1;
    for (int i = 0; i < n; i++) {
        int64_t d = t[i];
        if (d == 0 && !allowzero) {
            if (i >= xs->ndim) return -1;
            d = xs->d[i];
        }
        if (d == -1) {
            if (inferred >= 0) return -1;
            inferred = i;
            continue;
        }
        if (d < 0 || (d && known > IMPORT_MAX_NUMEL / d)) return -1;
        out[i] = d;
        known *= d;
    }
    int64_t total = ir_numel(xs);
    if (inferred >= 0) {
        if (known == 0 || total % known) return -1;
        out[inferred] = total / known;
    } else if (known != total)
        return -1;
    return 0;
}

/* a reshaped input: a constant stays one (shape arithmetic), a computed tensor gets a Reshape */
static int reshape_out(bctx *b, ir_shape to) {
    ent *e = in_ent(b, 0);
    if (!e) return -1;
    if (is_foldable(e->c)) return set_out_c(b, 0, copy_const(b, e->c, to));
    int x = in_value(b, 0, ROLE_DATA);
    return set_out_v(b, 0, x < 0 ? -1 : ir_reshape(b->g, x, to));
}

static int h_reshape(bctx *b, const imp_op *op) {
    (void)op;
    int64_t t[IR_MAX_DIMS], to[IR_MAX_DIMS];
    int n = in_ints(b, 1, "the target shape", t, IR_MAX_DIMS);
    if (n < 0) return -1;
    int allowzero = (int)attr_i(b, "allowzero", 0);
    ir_shape xs;
    ent *e = in_shaped(b, 0, &xs);
    if (!e) return -1;
    int ok = resolve_reshape(&xs, t, n, allowzero, to) == 0;
    /* a model exported at a fixed batch size B names B in its Reshapes: use the batch being built */
    if (!ok && b->m->input_batch > 0 && n > 0 && t[0] == b->m->input_batch && xs.ndim > 0) {
        t[0] = xs.d[0];
        ok = resolve_reshape(&xs, t, n, allowzero, to) == 0;
    }
    if (!ok) {
        char a[96];
        ir_shape_str(&xs, a, sizeof a);
        return bfail(b, "cannot reshape %s to the target shape given", a);
    }
    return reshape_out(b, ir_shape_make(n, to));
}

/* Expand: numpy broadcast of the input and the target shape */
static int h_expand(bctx *b, const imp_op *op) {
    (void)op;
    int64_t t[IR_MAX_DIMS], to[IR_MAX_DIMS];
    int n = in_ints(b, 1, "the target shape", t, IR_MAX_DIMS);
    int x = n < 0 ? -1 : in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    ir_shape xs = *vshape(b, x);
    int r = xs.ndim > n ? xs.ndim : n;
    for (int i = 0; i < r; i++) { /* right-aligned */
        int64_t dx = i < r - xs.ndim ? 1 : xs.d[i - (r - xs.ndim)], dt = i < r - n ? 1 : t[i - (r - n)];
        if (dt < 0) return bfail(b, "negative target dimension %lld", (long long)dt);
        if (dx != dt && dx != 1 && dt != 1) return bfail(b, "cannot broadcast dimension %lld to %lld", (long long)dx, (long long)dt);
        to[i] = dx == 1 ? dt : dx;
    }
    if (r > xs.ndim) { /* leading 1s first */
        int64_t pad[IR_MAX_DIMS];
        for (int i = 0; i < r; i++) pad[i] = i < r - xs.ndim ? 1 : xs.d[i - (r - xs.ndim)];
        x = ir_reshape(b->g, x, ir_shape_make(r, pad));
    }
    ir_shape ts = ir_shape_make(r, to);
    if (x >= 0 && ir_shape_eq(vshape(b, x), &ts)) return set_out_v(b, 0, x);
    return set_out_v(b, 0, x < 0 ? -1 : ir_expand(b->g, x, ts));
}

static int h_transpose(bctx *b, const imp_op *op) {
    (void)op;
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    int r = vshape(b, x)->ndim;
    int64_t perm[IR_MAX_DIMS];
    int n = attr_ints(b, "perm", perm, IR_MAX_DIMS);
    if (n == -2) return -1;
    if (n < 0) {
        n = r;
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    }
    return set_out_v(b, 0, ir_transpose(b->g, x, perm, n));
}

static int h_concat(bctx *b, const imp_op *op) {
    (void)op;
    int n = nin(b), allc = 1;
    if (n < 1 || n > IR_MAX_IN) return bfail(b, "takes 1 to %d inputs, got %d", IR_MAX_IN, n);
    for (int k = 0; k < n; k++) {
        ent *e = in_ent(b, k);
        if (!e) return -1;
        allc &= is_foldable(e->c) && !e->c->is_float;
    }
    int64_t axis = attr_i(b, "axis", 0);
    if (allc) { /* 1-D integer constants (shape arithmetic) */
        int64_t tot = 0;
        for (int k = 0; k < n; k++) {
            const ctensor *c = b->ents[b->m->node_in[b->idx][k]].c;
            if (c->shape.ndim != 1) return bfail(b, "only 1-D integer constants are concatenated at build time");
            tot += c->numel;
        }
        if (axis != 0 && axis != -1) return bfail(b, "axis %lld out of range", (long long)axis);
        ctensor *r = new_const(b, 0, IR_SHAPE(tot));
        if (!r) return -1;
        int64_t at = 0;
        for (int k = 0; k < n; k++) {
            const ctensor *c = b->ents[b->m->node_in[b->idx][k]].c;
            memcpy(r->i + at, c->i, (size_t)c->numel * sizeof(int64_t));
            at += c->numel;
        }
        return set_out_c(b, 0, r);
    }
    int xs[IR_MAX_IN];
    for (int k = 0; k < n; k++)
        if ((xs[k] = in_value(b, k, ROLE_DATA)) < 0) return -1;
    int64_t ax = 0;
    if (norm_axis(b, axis, vshape(b, xs[0])->ndim, &ax)) return -1;
    return set_out_v(b, 0, ir_concat(b->g, xs, n, (int)ax));
}

static int h_softmax(bctx *b, const imp_op *op) {
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    int r = vshape(b, x)->ndim;
    int64_t a = 0;
    if (norm_axis(b, attr_i(b, "axis", b->m->opset < 13 ? 1 : -1), r, &a)) return -1;
    if (b->m->opset < 13 && a != r - 1) return bfail(b, "before opset 13 only the last axis is supported");
    return set_out_v(b, 0, op->irop == OP_Softmax ? ir_softmax(b->g, x, (int)a) : ir_log_softmax(b->g, x, (int)a));
}

static int h_reduce(bctx *b, const imp_op *op) {
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    int64_t axes[IR_MAX_DIMS];
    int n;
    int axes_input = op->irop == OP_ReduceSum ? b->m->opset >= 13 : b->m->opset >= 18;
    if (axes_input) {
        if (attr(b->n, "axes")) return bfail(b, "attribute 'axes' is an input from this opset");
        n = has_in(b, 1) ? in_ints(b, 1, "axes", axes, IR_MAX_DIMS) : 0;
    } else {
        if (has_in(b, 1)) return bfail(b, "axes is an attribute before this opset");
        n = attr_ints(b, "axes", axes, IR_MAX_DIMS);
        if (n == -1) n = 0;
    }
    if (n < 0) return -1;
    int64_t keep = attr_i(b, "keepdims", 1);
    if (n == 0 && attr_i(b, "noop_with_empty_axes", 0)) return set_out_v(b, 0, x);
    int r = vshape(b, x)->ndim;
    for (int i = 0; i < n; i++)
        if (norm_axis(b, axes[i], r, &axes[i])) return -1;
    int y = op->irop == OP_ReduceSum    ? ir_reduce_sum(b->g, x, axes, n, keep != 0)
            : op->irop == OP_ReduceMean ? ir_reduce_mean(b->g, x, axes, n, keep != 0)
                                        : ir_reduce_max(b->g, x, axes, n, keep != 0);
    return set_out_v(b, 0, y);
}

static int h_constant(bctx *b, const imp_op *op) {
    (void)op;
    ctensor *c = &b->m->node_const[b->idx]; /* decoded at load */
    return set_out_c(b, 0, c);
}

static int h_shape(bctx *b, const imp_op *op) {
    (void)op;
    ir_shape s;
    ent *e = in_shaped(b, 0, &s);
    if (!e) return -1;
    int64_t r = s.ndim, lo = attr_i(b, "start", 0), hi = attr_i(b, "end", r);
    if (lo < 0) lo += r;
    if (hi < 0) hi += r;
    lo = lo < 0 ? 0 : lo > r ? r : lo;
    hi = hi < lo ? lo : hi > r ? r : hi;
    ctensor *c = new_const(b, 0, IR_SHAPE(hi - lo));
    if (!c) return -1;
    for (int64_t k = lo; k < hi; k++) c->i[k - lo] = s.d[k];
    return set_out_c(b, 0, c);
}

/* Gather: on constants (shape arithmetic) any indices along axis 0 of a 1-D tensor; on IR values
 * a scalar index (e.g. the class token x[:, 0]) as a Slice and a Reshape. */
static int h_gather(bctx *b, const imp_op *op) {
    (void)op;
    ent *e = in_ent(b, 0);
    const ctensor *ix = in_const(b, 1, "indices");
    if (!e || !ix) return -1;
    if (ix->is_float) return bfail(b, "indices must be integers");
    int64_t axis = attr_i(b, "axis", 0);
    if (is_foldable(e->c)) {
        const ctensor *d = e->c;
        if (d->shape.ndim != 1 || (axis != 0 && axis != -1)) return bfail(b, "only 1-D constants are gathered at build time");
        ctensor *r = new_const(b, d->is_float, ix->shape);
        if (!r) return -1;
        for (int64_t k = 0; k < ix->numel; k++) {
            int64_t j = ix->i[k] < 0 ? ix->i[k] + d->numel : ix->i[k];
            if (j < 0 || j >= d->numel) return bfail(b, "index %lld out of range", (long long)ix->i[k]);
            ct_put(r, k, d, j);
        }
        return set_out_c(b, 0, r);
    }
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    ir_shape s = *vshape(b, x);
    int64_t a = 0;
    if (norm_axis(b, axis, s.ndim, &a)) return -1;
    if (ix->shape.ndim != 0) return bfail(b, "only a scalar index is supported on computed tensors");
    int64_t j = ix->i[0] < 0 ? ix->i[0] + s.d[a] : ix->i[0];
    if (j < 0 || j >= s.d[a]) return bfail(b, "index %lld out of range", (long long)ix->i[0]);
    int y = ir_slice(b->g, x, (int)a, j, j + 1);
    ir_shape t = s;
    for (int d = (int)a; d + 1 < s.ndim; d++) t.d[d] = s.d[d + 1];
    t.ndim--;
    return set_out_v(b, 0, y < 0 ? -1 : ir_reshape(b->g, y, t));
}

/* Unsqueeze / Squeeze: axes from the attribute (before opset 13) or the second input */
static int squeeze_axes(bctx *b, int64_t *axes) {
    int n;
    if (b->m->opset >= 13)
        n = has_in(b, 1) ? in_ints(b, 1, "axes", axes, IR_MAX_DIMS) : 0;
    else if ((n = attr_ints(b, "axes", axes, IR_MAX_DIMS)) == -1)
        n = 0;
    return n;
}

/* Unsqueeze inserts size-1 dimensions at the axes (of the result); Squeeze drops them (all of
 * size 1 when no axes are given) */
static int h_squeeze(bctx *b, const imp_op *op) {
    int unsq = !strcmp(op->name, "Unsqueeze");
    ir_shape s;
    if (!in_shaped(b, 0, &s)) return -1;
    int64_t axes[IR_MAX_DIMS];
    int n = squeeze_axes(b, axes);
    if (n < 0) return -1;
    if (unsq && n == 0) return bfail(b, "needs axes");
    int r = unsq ? s.ndim + n : s.ndim; /* the rank the axes refer to */
    if (r > IR_MAX_DIMS) return bfail(b, "result has rank %d (at most %d)", r, IR_MAX_DIMS);
    unsigned char mark[IR_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        int64_t a = 0;
        if (norm_axis(b, axes[i], r, &a)) return -1;
        if (mark[a]) return bfail(b, "axis %lld repeated", (long long)axes[i]);
        if (!unsq && s.d[a] != 1) return bfail(b, "axis %lld has size %lld, not 1", (long long)axes[i], (long long)s.d[a]);
        mark[a] = 1;
    }
    ir_shape t = {0};
    for (int d = 0, k = 0; d < r; d++) {
        if (unsq)
            t.d[t.ndim++] = mark[d] ? 1 : s.d[k++];
        else if (n ? !mark[d] : s.d[d] != 1)
            t.d[t.ndim++] = s.d[d];
    }
    return reshape_out(b, t);
}

static int h_slice(bctx *b, const imp_op *op) {
    (void)op;
    int64_t st[IR_MAX_INTS], en[IR_MAX_INTS], ax[IR_MAX_INTS], sp[IR_MAX_INTS];
    int ns = in_ints(b, 1, "starts", st, IR_MAX_INTS), ne = in_ints(b, 2, "ends", en, IR_MAX_INTS);
    if (ns < 0 || ne < 0) return -1;
    if (ns != ne) return bfail(b, "starts and ends differ in length");
    ir_shape s;
    ent *e = in_shaped(b, 0, &s);
    if (!e) return -1;
    int na = has_in(b, 3) ? in_ints(b, 3, "axes", ax, IR_MAX_INTS) : ns;
    if (!has_in(b, 3))
        for (int i = 0; i < ns; i++) ax[i] = i;
    int np = has_in(b, 4) ? in_ints(b, 4, "steps", sp, IR_MAX_INTS) : ns;
    if (!has_in(b, 4))
        for (int i = 0; i < ns; i++) sp[i] = 1;
    if (na < 0 || np < 0) return -1;
    if (na != ns || np != ns) return bfail(b, "starts, ends, axes and steps differ in length");
    for (int i = 0; i < ns; i++) {
        if (norm_axis(b, ax[i], s.ndim, &ax[i])) return -1;
        if (sp[i] == 0) return bfail(b, "step 0");
    }
    if (is_foldable(e->c)) { /* 1-D constant */
        if (s.ndim != 1 || ns != 1) return bfail(b, "only 1-D constants are sliced at build time");
        int64_t L = s.d[0], a = st[0], z = en[0], step = sp[0];
        if (a < 0) a += L;
        if (z < 0) z += L;
        int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? L : L - 1;
        a = a < lo ? lo : a > hi ? hi : a;
        z = z < lo ? lo : z > hi ? hi : z;
        int64_t cnt = step > 0 ? (z > a ? (z - a + step - 1) / step : 0) : (a > z ? (a - z - step - 1) / -step : 0);
        ctensor *r = new_const(b, e->c->is_float, IR_SHAPE(cnt));
        if (!r) return -1;
        for (int64_t k = 0; k < cnt; k++) {
            ct_put(r, k, e->c, a + k * step);
        }
        return set_out_c(b, 0, r);
    }
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    int node = ir_node_new(b->g, OP_Slice, &x, 1);
    ir_set_ints(b->g, node, "axes", ax, ns);
    ir_set_ints(b->g, node, "starts", st, ns);
    ir_set_ints(b->g, node, "ends", en, ns);
    ir_set_ints(b->g, node, "steps", sp, ns);
    return set_out_v(b, 0, ir_node_finish(b->g, node));
}

static int h_cast(bctx *b, const imp_op *op) {
    (void)op;
    ent *e = in_ent(b, 0);
    if (!e) return -1;
    int64_t to = attr_i(b, "to", 0);
    int tof = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    int toi = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    if (!tof && !toi) return bfail(b, "cast to data type %lld is not supported", (long long)to);
    if (e->v >= 0) {
        if (!tof) return bfail(b, "casting a computed tensor to an integer type is not supported");
        return pass_through(b, e);
    }
    ctensor *c = new_const(b, tof, e->c->shape);
    if (!c) return -1;
    for (int64_t k = 0; k < c->numel; k++) {
        if (tof)
            c->f[k] = e->c->is_float ? e->c->f[k] : (float)e->c->i[k];
        else {
            double x = e->c->is_float ? e->c->f[k] : (double)e->c->i[k];
            if (!(fabs(x) < 9.2e18)) return bfail(b, "value out of the integer range");
            c->i[k] = (int64_t)x;
        }
    }
    return set_out_c(b, 0, c);
}

/* Split along an axis into slices: sizes from the input (opset 13 on) or the attribute (before),
 * else equal parts (from opset 18 num_outputs parts, the last one smaller when uneven) */
static int h_split(bctx *b, const imp_op *op) {
    (void)op;
    int x = in_value(b, 0, ROLE_DATA);
    if (x < 0) return -1;
    const ir_shape *xs = vshape(b, x);
    int64_t axis = 0, sizes[16];
    if (norm_axis(b, attr_i(b, "axis", 0), xs->ndim, &axis)) return -1;
    int nout = (int)b->n->n_output, n = -1;
    if (nout > 16) return bfail(b, "has %d outputs (at most 16)", nout);
    if (b->m->opset < 13)
        n = attr_ints(b, "split", sizes, 16);
    else if (has_in(b, 1))
        n = in_ints(b, 1, "split", sizes, 16);
    if (n == -2 || b->g->failed) return -1;
    int64_t len = xs->d[axis], tot = 0;
    if (n >= 0) {
        if (n != nout) return bfail(b, "split gives %d sizes for %d outputs", n, nout);
    } else {
        if (attr_i(b, "num_outputs", nout) != nout) return bfail(b, "num_outputs differs from the number of outputs");
        int64_t part = (len + nout - 1) / nout;
        if (b->m->opset < 18 && len % nout)
            return bfail(b, "%lld does not split into %d equal parts", (long long)len, nout);
        for (int i = 0; i < nout; i++) sizes[i] = len - i * part < part ? len - i * part : part;
    }
    for (int i = 0; i < nout; i++) {
        if (sizes[i] < 1 || sizes[i] > len)
            return bfail(b, "part %d has size %lld (empty parts are not supported)", i, (long long)sizes[i]);
        tot += sizes[i];
    }
    if (tot != len) return bfail(b, "parts add up to %lld, the axis has %lld", (long long)tot, (long long)len);
    int64_t at = 0;
    for (int i = 0; i < nout; at += sizes[i], i++)
        if (set_out_v(b, i, ir_slice(b->g, x, (int)axis, at, at + sizes[i])) < 0) return -1;
    return 0;
}

/* Gelu (opset 20): the exact one; sslc has no tanh approximation */
static int h_gelu_op(bctx *b, const imp_op *op) {
    char buf[16];
    if (strcmp(attr_s(b, "approximate", "none", buf, sizeof buf), "none"))
        return bfail(b, "approximate='%s' is not supported (only 'none')", buf);
    return h_unary(b, op);
}

/* ConstantOfShape: torch writes it (with Equal and Where) for `expand(n, -1, -1)`; the shape is
 * folded, so the result is a constant too */
static int h_constant_of_shape(bctx *b, const imp_op *op) {
    (void)op;
    int64_t t[IR_MAX_DIMS];
    int n = in_ints(b, 0, "the shape", t, IR_MAX_DIMS);
    if (n < 0) return -1;
    ir_shape s;
    int64_t numel;
    char why[200];
    if (make_shape(t, (size_t)n, &s, &numel, why, sizeof why)) return bfail(b, "shape: %s", why);
    ctensor v = {0};
    const Onnx__AttributeProto *a = attr(b->n, "value");
    if (a) {
        if (!a->t) return bfail(b, "attribute 'value' must be a tensor");
        if (decode_tensor(a->t, &v, why, sizeof why)) return bfail(b, "its value %s", why);
        if (v.numel != 1) {
            ct_free(&v);
            return bfail(b, "its value must have one element");
        }
    } else if (ct_alloc(&v, 1, (ir_shape){0})) /* default: float 0 */
        return bfail(b, "out of memory");
    else
        v.f[0] = 0;
    ctensor *r = new_const(b, v.is_float, s);
    for (int64_t k = 0; r && k < numel; k++) ct_put(r, k, &v, 0);
    ct_free(&v);
    return set_out_c(b, 0, r);
}

/* Where on constants (shape arithmetic): cond ? x : y */
static int h_where(bctx *b, const imp_op *op) {
    (void)op;
    if (nin(b) != 3) return bfail(b, "takes 3 inputs, got %d", nin(b));
    const ctensor *c[3];
    for (int k = 0; k < 3; k++) {
        ent *e = in_ent(b, k);
        if (!e) return -1;
        if (!is_foldable(e->c)) return bfail(b, "only supported on constants (shape arithmetic)");
        c[k] = e->c;
    }
    if (c[0]->is_float || c[1]->is_float != c[2]->is_float)
        return bfail(b, "needs an integer condition and two values of one type");
    ir_shape s;
    if (fold_shape(b, c, 3, &s)) return -1;
    ctensor *r = new_const(b, c[1]->is_float, s);
    if (!r) return -1;
    for (int64_t k = 0; k < r->numel; k++) {
        const ctensor *pick = c[0]->i[c[0]->numel == 1 ? 0 : k] ? c[1] : c[2];
        ct_put(r, k, pick, pick->numel == 1 ? 0 : k);
    }
    return set_out_c(b, 0, r);
}

/* The one table: ONNX op -> converter, with the attributes it understands. */
static const imp_op import_table[] = {
    {"Add", h_binary, OP_Add, ""},
    {"Sub", h_binary, OP_Sub, ""},
    {"Mul", h_binary, OP_Mul, ""},
    {"Div", h_binary, OP_Div, ""},
    {"Pow", h_binary, OP_Pow, ""},
    {"Max", h_binary, OP_Max, ""},
    {"MatMul", h_binary, OP_MatMul, ""},
    {"Relu", h_unary, OP_Relu, ""},
    {"Neg", h_unary, OP_Neg, ""},
    {"Exp", h_unary, OP_Exp, ""},
    {"Log", h_unary, OP_Log, ""},
    {"Sqrt", h_unary, OP_Sqrt, ""},
    {"GlobalAveragePool", h_unary, OP_GlobalAveragePool, ""},
    {"Identity", h_identity, -1, ""},
    {"Dropout", h_dropout, -1, "seed ratio"},
    {"Conv", h_conv, OP_Conv, "auto_pad dilations group kernel_shape pads strides"},
    {"BatchNormalization", h_batchnorm, OP_BatchNormalization, "epsilon momentum training_mode spatial"},
    {"MaxPool", h_maxpool, OP_MaxPool, "auto_pad ceil_mode dilations kernel_shape pads storage_order strides"},
    {"LayerNormalization", h_layernorm, OP_LayerNormalization, "axis epsilon stash_type"},
    {"Flatten", h_flatten, OP_Flatten, "axis"},
    {"Gemm", h_gemm, OP_Gemm, "alpha beta transA transB"},
    {"Reshape", h_reshape, OP_Reshape, "allowzero"},
    {"Transpose", h_transpose, OP_Transpose, "perm"},
    {"Expand", h_expand, OP_Expand, ""},
    {"Concat", h_concat, OP_Concat, "axis"},
    {"Softmax", h_softmax, OP_Softmax, "axis"},
    {"LogSoftmax", h_softmax, OP_LogSoftmax, "axis"},
    {"ReduceMean", h_reduce, OP_ReduceMean, "axes keepdims noop_with_empty_axes"},
    {"ReduceSum", h_reduce, OP_ReduceSum, "axes keepdims noop_with_empty_axes"},
    {"ReduceMax", h_reduce, OP_ReduceMax, "axes keepdims noop_with_empty_axes"},
    {"Constant", h_constant, -1, "value value_float value_floats value_int value_ints"},
    {"Shape", h_shape, -1, "start end"},
    {"Gather", h_gather, -1, "axis"},
    {"Unsqueeze", h_squeeze, -1, "axes"},
    {"Squeeze", h_squeeze, -1, "axes"},
    {"Slice", h_slice, OP_Slice, ""},
    {"Cast", h_cast, -1, "to saturate"},
    {"ConstantOfShape", h_constant_of_shape, -1, "value"},
    {"Equal", h_binary, OP_Equal, ""},
    {"Where", h_where, -1, ""},
    {"Split", h_split, -1, "axis split num_outputs"},
    {"Gelu", h_gelu_op, OP_Gelu, "approximate"},
};
#define NIMPORT (int)(sizeof import_table / sizeof import_table[0])

static const imp_op *find_op(const char *name) {
    for (int i = 0; i < NIMPORT; i++)
        if (!strcmp(import_table[i].name, name)) return &import_table[i];
    return NULL;
}

static int attr_supported(const imp_op *op, const char *name) {
    size_t n = strlen(name);
    for (const char *p = op->attrs; *p;) {
        while (*p == ' ') p++;
        const char *q = p;
        while (*q && *q != ' ') q++;
        if ((size_t)(q - p) == n && n && !strncmp(p, name, n)) return 1;
        p = q;
    }
    return 0;
}

/* ---- loading ---- */

void onnx_model_free(onnx_model *m) {
    if (!m) return;
    for (int k = 0; k < m->ninits; k++) ct_free(&m->inits[k]);
    free(m->inits);
    if (m->gp) {
        for (size_t i = 0; i < m->gp->n_node; i++) {
            if (m->node_in) free(m->node_in[i]);
            if (m->node_out) free(m->node_out[i]);
            if (m->node_const) ct_free(&m->node_const[i]);
        }
    }
    free(m->node_in);
    free(m->node_out);
    free(m->node_op);
    free(m->node_aux);
    free(m->nreaders);
    free(m->reader);
    free(m->node_const);
    free(m->needed);
    free(m->slot_name);
    free(m->slot_producer);
    free(m->map);
    if (m->pb) onnx__model_proto__free_unpacked(m->pb, NULL);
    free(m);
}

onnx_input_info onnx_model_input(const onnx_model *m) { return m->info; }
const char *onnx_model_output(const onnx_model *m) { return m->slot_name[m->out_slot]; }
uint32_t onnx_model_crc32(const onnx_model *m) { return m->crc; }

static int valid_name(const char *s) { return s && s[0] && strlen(s) <= IMPORT_MAX_NAME; }

static int add_slot(onnx_model *m, const char *name, int producer, char *err) {
    if (map_find(m, name) >= 0) return lfail(err, m, "'%.120s' is defined twice", name);
    int s = m->nslots++;
    m->slot_name[s] = name;
    m->slot_producer[s] = producer;
    map_put(m, s);
    return s;
}

/* the image input: the one graph input that is not an initializer */
static int find_input(onnx_model *m, char *err) {
    const Onnx__GraphProto *gp = m->gp;
    const Onnx__ValueInfoProto *in = NULL;
    int count = 0;
    char names[256] = "";
    size_t k = 0;
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *nm = gp->input[i]->name;
        if (!valid_name(nm)) return lfail(err, m, "graph input %zu has no valid name", i);
        int init = 0;
        for (size_t j = 0; j < gp->n_initializer && !init; j++) init = gp->initializer[j]->name && !strcmp(gp->initializer[j]->name, nm);
        if (init) continue;
        in = gp->input[i];
        count++;
        k += (size_t)snprintf(names + k, k < sizeof names ? sizeof names - k : 0, "%s'%.40s'", count > 1 ? ", " : "", nm);
        if (k >= sizeof names) k = sizeof names;
    }
    if (count != 1)
        return lfail(err, m, "has %d inputs%s%s%s: a backbone takes one image input [N, C, H, W]", count,
                     count ? " (" : "", names, count ? ")" : "");
    m->input_name = in->name;
    m->info.channels = m->info.height = m->info.width = -1;
    m->input_batch = -1;
    const Onnx__TypeProto *tp = in->type;
    if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return lfail(err, m, "input '%.120s' is not a tensor", in->name);
    if (tp && tp->tensor_type) {
        const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
        if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return lfail(err, m, "input '%.120s' has element type %d; sslc feeds float32 images", in->name,
                         (int)tt->elem_type);
        if (tt->shape) {
            if (tt->shape->n_dim != 4)
                return lfail(err, m, "input '%.120s' has rank %zu; a backbone takes images [N, C, H, W]", in->name,
                             tt->shape->n_dim);
            int64_t d[4];
            for (int i = 0; i < 4; i++) {
                const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
                d[i] = dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value > 0
                           ? dm->dim_value
                           : -1;
            }
            m->input_batch = d[0];
            m->info.channels = d[1], m->info.height = d[2], m->info.width = d[3];
        }
    }
    return 0;
}

/* ---- fused patterns ----
 * Exporters write some ops as arithmetic that sslc has as one op with its own gradient:
 * - exact GELU, x * (1 + Erf(x / sqrt(2))) * 0.5 (torch.onnx.export and sslc); ONNX has no Gelu
 *   before opset 20, and sslc has no Erf op;
 * - LayerNorm before opset 17: ReduceMean, Sub, Pow 2 (or Mul by itself), ReduceMean, Add eps,
 *   Sqrt, Div, then optionally Mul scale and Add bias. As one LayerNormalization it trains with
 *   the fused kernels and keeps two statistics per row for the backward pass instead of the
 *   intermediates of seven ops.
 * The matched nodes become op_skip; the last one computes the op from what `fused` records.
 * Only nodes whose intermediate outputs nothing else reads are matched. */

static int h_skip(bctx *b, const imp_op *op) { /* a node folded into a later one */
    (void)b, (void)op;
    return 0;
}
static int h_gelu(bctx *b, const imp_op *op) {
    (void)op;
    ent *e = &b->ents[b->m->node_aux[b->idx].x];
    if (e->v < 0) return bfail(b, "GELU of a constant is not supported");
    return set_out_v(b, 0, ir_gelu(b->g, e->v));
}

/* LayerNorm: the LayerNormalization op when the axes are the trailing ones and the scale and
 * bias have the normalized shape, else the same arithmetic (what the model says) in IR ops */
static int h_layernorm_fused(bctx *b, const imp_op *op) {
    (void)op;
    const fused *f = &b->m->node_aux[b->idx];
    ent *e = &b->ents[f->x];
    if (e->v < 0) return bfail(b, "LayerNorm of a constant is not supported");
    int x = e->v, r = vshape(b, x)->ndim, sc = -1, bi = -1;
    if (f->scale >= 0 && (sc = ent_value(b, &b->ents[f->scale], ROLE_DATA)) < 0) return -1;
    if (f->bias >= 0 && (bi = ent_value(b, &b->ents[f->bias], ROLE_DATA)) < 0) return -1;
    int64_t axes[IR_MAX_DIMS];
    unsigned char in_set[IR_MAX_DIMS] = {0};
    int lo = r;
    for (int i = 0; i < f->naxes; i++) {
        if (norm_axis(b, f->axes[i], r, &axes[i])) return -1;
        in_set[axes[i]] = 1;
        if (axes[i] < lo) lo = (int)axes[i];
    }
    int trailing = 1;
    for (int d = lo; d < r; d++) trailing &= in_set[d];
    ir_shape ns = *vshape(b, x);
    ns.ndim = r - lo;
    for (int d = lo; d < r; d++) ns.d[d - lo] = vshape(b, x)->d[d];
    if (trailing && (sc < 0 || ir_shape_eq(vshape(b, sc), &ns)) && (bi < 0 || ir_shape_eq(vshape(b, bi), &ns)))
        return set_out_v(b, 0, ir_layernorm(b->g, x, sc, bi, lo, f->eps));
    ir_graph *g = b->g;
    int d = ir_sub(g, x, ir_reduce_mean(g, x, axes, f->naxes, 1));
    int var = ir_reduce_mean(g, ir_mul(g, d, d), axes, f->naxes, 1);
    int y = ir_div(g, d, ir_sqrt(g, ir_add_scalar(g, var, f->eps)));
    if (sc >= 0) y = ir_mul(g, y, sc);
    if (bi >= 0) y = ir_add(g, y, bi);
    return set_out_v(b, 0, y);
}

static const imp_op op_skip = {"(fused)", h_skip, -1, ""}, op_gelu = {"Gelu", h_gelu, OP_Gelu, ""},
                    op_layernorm = {"LayerNormalization", h_layernorm_fused, OP_LayerNormalization, ""};

/* the constant in slot s: an initializer or a Constant node's value; NULL otherwise */
static const ctensor *const_at(const onnx_model *m, int s) {
    if (s >= 1 && s <= m->ninits) return &m->inits[s - 1];
    int p = s > 0 ? m->slot_producer[s] : -1;
    if (p >= 0 && m->node_op[p] && m->node_op[p]->fn == h_constant) return &m->node_const[p];
    return NULL;
}

/* value of a scalar float constant in slot s */
static int scalar_const(const onnx_model *m, int s, double *v) {
    const ctensor *c = const_at(m, s);
    if (!c || !c->is_float || c->numel != 1) return 0;
    *v = c->f[0];
    return 1;
}

/* a float initializer in slot s, directly or through Identity nodes (torch writes those) */
static int weight_at(const onnx_model *m, int s) {
    for (int hops = 0; s > m->ninits && hops < 8; hops++) {
        int p = m->slot_producer[s];
        if (p < 0 || strcmp(m->gp->node[p]->op_type, "Identity") || m->gp->node[p]->n_input != 1) return 0;
        s = m->node_in[p][0];
    }
    return s >= 1 && s <= m->ninits && m->inits[s - 1].is_float;
}

/* the needed nodes reading slot s (each counted once, up to 2 recorded) */
static void index_readers(onnx_model *m) {
    for (size_t i = 0; i < m->gp->n_node; i++) {
        if (!m->needed[i]) continue;
        for (size_t k = 0; k < m->gp->node[i]->n_input; k++) {
            int s = m->node_in[i][k], again = 0;
            for (size_t j = 0; j < k; j++) again |= m->node_in[i][j] == s; /* Mul(d, d) reads d once */
            if (s < 0 || again) continue;
            if (m->nreaders[s] < 2) m->reader[s][m->nreaders[s]] = (int)i;
            m->nreaders[s]++;
        }
    }
}

/* how many needed nodes read slot s, their indices into who (max of them); -1 for the output */
static int readers(const onnx_model *m, int s, int *who, int max) {
    if (s < 0 || s == m->out_slot) return -1;
    for (int k = 0; k < max && k < m->nreaders[s] && k < 2; k++) who[k] = m->reader[s][k];
    return m->nreaders[s];
}

/* the one needed node reading slot s (which nothing else reads, and is not the output), or -1 */
static int only_reader(const onnx_model *m, int s) {
    int who;
    return readers(m, s, &who, 1) == 1 ? who : -1;
}

/* node i is a converted op with two inputs, one of them slot s; *other gets the other input's slot */
static int binary_with(const onnx_model *m, int i, const char *op, int s, int *other) {
    if (i < 0) return 0;
    const Onnx__NodeProto *nd = m->gp->node[i];
    if (strcmp(nd->op_type, op) || nd->n_input != 2 || m->node_op[i] != find_op(op)) return 0;
    if (m->node_in[i][0] == s) return *other = m->node_in[i][1], 1;
    if (m->node_in[i][1] == s) return *other = m->node_in[i][0], 1;
    return 0;
}

/* node i is op with inputs exactly (s0, s1) in this order (Sub, Div) */
static int binary_is(const onnx_model *m, int i, const char *op, int s0, int s1) {
    int other;
    return binary_with(m, i, op, s0, &other) && m->node_in[i][0] == s0 && m->node_in[i][1] == s1;
}

static int near(double a, double b) { return fabs(a - b) < 1e-4 * fabs(b); }

static int fuse_gelu(onnx_model *m, char *err) {
    for (size_t e = 0; e < m->gp->n_node; e++) {
        if (!m->needed[e] || m->node_op[e]) continue;
        const Onnx__NodeProto *nd = m->gp->node[e];
        char lab[160];
        int ok = nd->n_input == 1 && m->node_in[e][0] >= 0;
        int d = ok ? m->slot_producer[m->node_in[e][0]] : -1, x = -1, a = -1, m1 = -1, m2 = -1, c = -1;
        double v;
        ok = ok && d >= 0 && m->node_op[d] && m->gp->node[d]->n_input == 2 && only_reader(m, m->node_in[e][0]) == (int)e;
        if (ok) { /* x / sqrt(2) or x * (1 / sqrt(2)) */
            x = m->node_in[d][0];
            ok = x >= 0 && scalar_const(m, m->node_in[d][1], &v) &&
                 ((!strcmp(m->gp->node[d]->op_type, "Div") && near(v, M_SQRT2)) ||
                  (!strcmp(m->gp->node[d]->op_type, "Mul") && near(v, M_SQRT1_2)));
        }
        ok = ok && (a = only_reader(m, m->node_out[e][0])) >= 0 && binary_with(m, a, "Add", m->node_out[e][0], &c) &&
             scalar_const(m, c, &v) && near(v, 1.0);
        ok = ok && (m1 = only_reader(m, m->node_out[a][0])) >= 0 && binary_with(m, m1, "Mul", m->node_out[a][0], &c) &&
             c == x;
        ok = ok && (m2 = only_reader(m, m->node_out[m1][0])) >= 0 &&
             binary_with(m, m2, "Mul", m->node_out[m1][0], &c) && scalar_const(m, c, &v) && near(v, 0.5);
        if (!ok)
            return lfail(err, m, "unsupported op 'Erf' in node %s (only as part of an exact GELU "
                                 "x * 0.5 * (1 + erf(x / sqrt(2))))", node_label(m, (int)e, lab, sizeof lab));
        m->node_op[d] = m->node_op[e] = m->node_op[a] = m->node_op[m1] = &op_skip;
        m->node_op[m2] = &op_gelu;
        m->node_aux[m2].x = x;
    }
    return 0;
}

/* ReduceMean node i over its input x: its axes (attribute, or input from opset 18) when it keeps
 * the reduced dimensions; 0 when it does not fit a LayerNorm */
static int mean_axes(const onnx_model *m, int i, int x, int64_t *axes, int *naxes) {
    const Onnx__NodeProto *nd = m->gp->node[i];
    if (m->node_op[i] != find_op("ReduceMean") || nd->n_input < 1 || m->node_in[i][0] != x) return 0;
    const Onnx__AttributeProto *k = attr(nd, "keepdims"), *ax = attr(nd, "axes");
    if ((k && (!k->has_i || k->i != 1)) || (ax != NULL) != (m->opset < 18)) return 0; /* axes: an input from 18 */
    if (ax) {
        if (nd->n_input > 1 || ax->n_ints < 1 || ax->n_ints > IR_MAX_DIMS) return 0;
        for (size_t j = 0; j < ax->n_ints; j++) axes[j] = ax->ints[j];
        *naxes = (int)ax->n_ints;
        return 1;
    }
    const ctensor *c = nd->n_input == 2 ? const_at(m, m->node_in[i][1]) : NULL;
    if (!c || c->is_float || c->shape.ndim != 1 || c->numel < 1 || c->numel > IR_MAX_DIMS) return 0;
    memcpy(axes, c->i, (size_t)c->numel * sizeof *axes);
    *naxes = (int)c->numel;
    return 1;
}

static void fuse_layernorm(onnx_model *m) {
    for (size_t i0 = 0; i0 < m->gp->n_node; i0++) {
        if (!m->needed[i0] || m->node_op[i0] != find_op("ReduceMean") || m->gp->node[i0]->n_input < 1) continue;
        fused f = {.x = m->node_in[i0][0], .scale = -1, .bias = -1};
        int64_t axes2[IR_MAX_DIMS];
        int n2 = 0, r[2], sub, sq, var, add, sqr, div, c;
        double v;
        if (f.x < 0 || !mean_axes(m, (int)i0, f.x, f.axes, &f.naxes)) continue;
        /* d = x - mean, read by the square and the division */
        sub = only_reader(m, m->node_out[i0][0]);
        if (!binary_is(m, sub, "Sub", f.x, m->node_out[i0][0])) continue;
        int d = m->node_out[sub][0];
        if (readers(m, d, r, 2) != 2) continue;
        int div_first = !strcmp(m->gp->node[r[0]]->op_type, "Div") && m->node_in[r[0]][0] == d;
        div = r[div_first ? 0 : 1], sq = r[div_first ? 1 : 0];
        if (!((binary_with(m, sq, "Pow", d, &c) && m->node_in[sq][0] == d && scalar_const(m, c, &v) && v == 2.0) ||
              binary_is(m, sq, "Mul", d, d)))
            continue;
        /* var = mean(d^2); rstd = 1 / sqrt(var + eps) */
        var = only_reader(m, m->node_out[sq][0]);
        if (var < 0 || !mean_axes(m, var, m->node_out[sq][0], axes2, &n2) || n2 != f.naxes ||
            memcmp(axes2, f.axes, (size_t)n2 * sizeof *axes2))
            continue;
        add = only_reader(m, m->node_out[var][0]);
        if (!binary_with(m, add, "Add", m->node_out[var][0], &c) || !scalar_const(m, c, &f.eps) || !(f.eps >= 0))
            continue;
        sqr = only_reader(m, m->node_out[add][0]);
        if (sqr < 0 || m->node_op[sqr] != find_op("Sqrt") || m->gp->node[sqr]->n_input != 1 ||
            only_reader(m, m->node_out[sqr][0]) != div || !binary_is(m, div, "Div", d, m->node_out[sqr][0]))
            continue;
        /* optional affine: * scale + bias, both initializers */
        int last = div, mul = only_reader(m, m->node_out[div][0]), badd = -1;
        if (binary_with(m, mul, "Mul", m->node_out[div][0], &c) && weight_at(m, c)) {
            f.scale = c, last = mul;
            badd = only_reader(m, m->node_out[mul][0]);
            if (binary_with(m, badd, "Add", m->node_out[mul][0], &c) && weight_at(m, c)) f.bias = c, last = badd;
        }
        int nodes[] = {(int)i0, sub, sq, var, add, sqr, div, mul, badd};
        for (int k = 0; k < (int)(sizeof nodes / sizeof nodes[0]) && nodes[k] != last; k++)
            m->node_op[nodes[k]] = &op_skip;
        m->node_op[last] = &op_layernorm;
        m->node_aux[last] = f;
    }
}

static int fuse_patterns(onnx_model *m, char *err) {
    m->nreaders = calloc((size_t)m->nslots + 1, sizeof *m->nreaders);
    m->reader = calloc((size_t)m->nslots + 1, sizeof *m->reader);
    if (!m->nreaders || !m->reader) return lfail(err, m, "out of memory");
    index_readers(m); /* the patterns follow values to their readers */
    fuse_layernorm(m);
    return fuse_gelu(m, err);
}

static int load_graph(onnx_model *m, const char *output, char *err) {
    const Onnx__GraphProto *gp = m->gp;
    if (gp->n_sparse_initializer) return lfail(err, m, "sparse initializers are not supported");
    size_t nn = gp->n_node, maxslots = 1 + gp->n_initializer;
    for (size_t i = 0; i < nn; i++) maxslots += gp->node[i]->n_output;
    if (maxslots > (1u << 26) || nn > (1u << 24)) return lfail(err, m, "graph too large");
    m->slot_name = calloc(maxslots, sizeof *m->slot_name);
    m->slot_producer = calloc(maxslots, sizeof *m->slot_producer);
    m->mapcap = 16;
    while ((size_t)m->mapcap < 2 * maxslots) m->mapcap *= 2;
    m->map = malloc((size_t)m->mapcap * sizeof *m->map);
    m->inits = calloc(gp->n_initializer + 1, sizeof *m->inits);
    m->node_in = calloc(nn + 1, sizeof *m->node_in);
    m->node_out = calloc(nn + 1, sizeof *m->node_out);
    m->node_op = calloc(nn + 1, sizeof *m->node_op);
    m->node_aux = calloc(nn + 1, sizeof *m->node_aux);
    m->node_const = calloc(nn + 1, sizeof *m->node_const);
    m->needed = calloc(nn + 1, 1);
    if (!m->slot_name || !m->slot_producer || !m->map || !m->inits || !m->node_in || !m->node_out || !m->node_op ||
        !m->node_const || !m->needed || !m->node_aux)
        return lfail(err, m, "out of memory");
    for (int i = 0; i < m->mapcap; i++) m->map[i] = -1;
    if (find_input(m, err)) return -1;
    add_slot(m, m->input_name, -1, err);
    for (size_t j = 0; j < gp->n_initializer; j++) {
        const char *nm = gp->initializer[j]->name;
        if (!valid_name(nm)) return lfail(err, m, "initializer %zu has no valid name (1 to %d bytes)", j, IMPORT_MAX_NAME);
        if (add_slot(m, nm, -1, err) < 0) return -1;
    }
    for (size_t i = 0; i < nn; i++) {
        const Onnx__NodeProto *nd = gp->node[i];
        char lab[160];
        if (!nd->op_type) return lfail(err, m, "node %s has no op_type", node_label(m, (int)i, lab, sizeof lab));
        if (nd->n_input > 64 || nd->n_output > 16 || nd->n_output < 1)
            return lfail(err, m, "node %s (%.60s) has %zu inputs and %zu outputs", node_label(m, (int)i, lab, sizeof lab),
                         nd->op_type, nd->n_input, nd->n_output);
        m->node_in[i] = malloc((nd->n_input + 1) * sizeof(int));
        m->node_out[i] = malloc((nd->n_output + 1) * sizeof(int));
        if (!m->node_in[i] || !m->node_out[i]) return lfail(err, m, "out of memory");
        for (size_t k = 0; k < nd->n_input; k++) {
            const char *nm = nd->input[k];
            if (!nm || !nm[0]) {
                m->node_in[i][k] = -1;
                continue;
            }
            int s = map_find(m, nm);
            if (s < 0)
                return lfail(err, m, "node %s (%.60s): input '%.120s' is not defined before it (by an initializer, "
                                     "the graph input or an earlier node)",
                             node_label(m, (int)i, lab, sizeof lab), nd->op_type, nm);
            m->node_in[i][k] = s;
        }
        for (size_t k = 0; k < nd->n_output; k++) {
            const char *nm = nd->output[k];
            if (!nm || !nm[0]) {
                m->node_out[i][k] = -1;
                continue;
            }
            if (!valid_name(nm))
                return lfail(err, m, "node %s (%.60s): output %zu has no valid name", node_label(m, (int)i, lab, sizeof lab),
                             nd->op_type, k);
            int s = add_slot(m, nm, (int)i, err);
            if (s < 0) return -1;
            m->node_out[i][k] = s;
        }
        if (m->node_out[i][0] < 0)
            return lfail(err, m, "node %s (%.60s) has no first output", node_label(m, (int)i, lab, sizeof lab), nd->op_type);
    }
    /* the output */
    if (!output) {
        if (gp->n_output != 1) {
            char names[300] = "";
            size_t k = 0;
            for (size_t i = 0; i < gp->n_output && k < sizeof names; i++)
                k += (size_t)snprintf(names + k, sizeof names - k, "%s'%.40s'", i ? ", " : "",
                                      gp->output[i]->name ? gp->output[i]->name : "");
            return lfail(err, m, "has %zu outputs (%s): choose the feature vector with --backbone-output NAME",
                         gp->n_output, names);
        }
        output = gp->output[0]->name;
        if (!valid_name(output)) return lfail(err, m, "its output has no valid name");
    }
    m->out_slot = map_find(m, output);
    if (m->out_slot < 0) return lfail(err, m, "has no value named '%.120s' (--backbone-output)", output);
    if (m->slot_producer[m->out_slot] < 0)
        return lfail(err, m, "output '%.120s' is %s, not computed by a node", output,
                     m->out_slot == 0 ? "the input" : "an initializer");
    /* prune to what the output needs */
    int *stack = malloc((nn + 1) * sizeof(int)), sp = 0;
    if (!stack) return lfail(err, m, "out of memory");
    stack[sp++] = m->slot_producer[m->out_slot];
    m->needed[stack[0]] = 1;
    while (sp) {
        int i = stack[--sp];
        const Onnx__NodeProto *nd = gp->node[i];
        for (size_t k = 0; k < nd->n_input; k++) {
            int s = m->node_in[i][k];
            int p = s >= 0 ? m->slot_producer[s] : -1;
            if (p >= 0 && !m->needed[p]) {
                m->needed[p] = 1;
                stack[sp++] = p;
            }
        }
    }
    free(stack);
    /* ops and attributes of the needed nodes; Constant values */
    for (size_t i = 0; i < nn; i++) {
        if (!m->needed[i]) continue;
        const Onnx__NodeProto *nd = gp->node[i];
        char lab[160];
        node_label(m, (int)i, lab, sizeof lab);
        int std_domain = !nd->domain || !nd->domain[0] || !strcmp(nd->domain, "ai.onnx");
        const imp_op *op = std_domain ? find_op(nd->op_type) : NULL;
        if (!op && std_domain && !strcmp(nd->op_type, "Erf") && nd->n_attribute == 0) continue; /* GELU? below */
        if (!op)
            return lfail(err, m, "unsupported op '%s%s%.60s' in node %s (supported ops are listed in docs/ONNX.md)",
                         std_domain ? "" : nd->domain, std_domain ? "" : "::", nd->op_type, lab);
        m->node_op[i] = op;
        for (size_t k = 0; k < nd->n_attribute; k++) {
            const char *an = nd->attribute[k]->name;
            if (!an || !attr_supported(op, an))
                return lfail(err, m, "node %s (%s): unsupported attribute '%.60s'", lab, op->name, an ? an : "");
            if (nd->attribute[k]->ref_attr_name) return lfail(err, m, "node %s (%s): attribute references are not supported", lab, op->name);
        }
        if (op->fn == h_constant) {
            char why[200];
            const Onnx__AttributeProto *a = nd->n_attribute == 1 ? nd->attribute[0] : NULL;
            ctensor *c = &m->node_const[i];
            int bad = !a;
            if (!bad && !strcmp(a->name, "value")) {
                if (!a->t) bad = 1;
                else if (decode_tensor(a->t, c, why, sizeof why))
                    return lfail(err, m, "node %s (Constant): its value %s", lab, why);
            } else if (!bad && (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_int"))) {
                int fl = a->name[6] == 'f';
                if (fl ? !a->has_f : !a->has_i) bad = 1;
                else if (ct_alloc(c, fl, (ir_shape){0})) return lfail(err, m, "out of memory");
                else if (fl) c->f[0] = a->f;
                else c->i[0] = a->i;
            } else if (!bad) {
                int fl = !strcmp(a->name, "value_floats");
                size_t n = fl ? a->n_floats : a->n_ints;
                if (n > (size_t)IMPORT_MAX_NUMEL || ct_alloc(c, fl, IR_SHAPE((int64_t)n)))
                    return lfail(err, m, "out of memory");
                for (size_t j = 0; j < n; j++) {
                    if (fl) c->f[j] = a->floats[j];
                    else c->i[j] = a->ints[j];
                }
            }
            if (bad) return lfail(err, m, "node %s (Constant) needs exactly one value attribute", lab);
        }
    }
    /* initializers */
    m->ninits = (int)gp->n_initializer;
    for (size_t j = 0; j < gp->n_initializer; j++) {
        char why[200];
        if (decode_tensor(gp->initializer[j], &m->inits[j], why, sizeof why))
            return lfail(err, m, "initializer '%.120s' %s", gp->initializer[j]->name, why);
        m->inits[j].param_name = gp->initializer[j]->name;
    }
    return fuse_patterns(m, err);
}

int onnx_model_load(onnx_model **out, const char *path, const char *output, unsigned char **image, size_t *image_len,
                    char *err) {
    *out = NULL;
    if (image) *image = NULL, *image_len = 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (sslc_read_file(path, IMPORT_MAX_BYTES, &buf, &len, err)) return -1;
    int rc = onnx_model_decode(out, buf, len, path, output, err);
    if (!rc && image) {
        *image = buf, *image_len = len;
        return 0;
    }
    free(buf);
    return rc;
}

int onnx_model_decode(onnx_model **out, const unsigned char *buf, size_t len, const char *what, const char *output,
                      char *err) {
    *out = NULL;
    onnx_model *m = calloc(1, sizeof *m);
    if (!m) return errf(err, "out of memory"), -1;
    snprintf(m->path, sizeof m->path, "%s", what);
    int rc = -1;
    m->crc = (uint32_t)crc32(0, buf, (uInt)0);
    for (size_t at = 0; at < len;) { /* zlib takes uInt lengths */
        size_t k = len - at > (1u << 30) ? (1u << 30) : len - at;
        m->crc = (uint32_t)crc32(m->crc, buf + at, (uInt)k);
        at += k;
    }
    /* Real models nest at most 14 levels (3 more per If/Loop body); protobuf-c recurses once per
     * level and overflows the stack on a file nested thousands deep, so measure first. */
    if (len && pb_nesting(buf, len, ONNX_MAX_NESTING) > ONNX_MAX_NESTING) {
        lfail(err, m, "not a usable ONNX model (messages nested more than %d levels deep)", ONNX_MAX_NESTING);
        goto out;
    }
    m->pb = len ? onnx__model_proto__unpack(NULL, len, buf) : NULL;
    if (!m->pb) {
        lfail(err, m, "not an ONNX model (%s)", len ? "truncated or malformed protobuf" : "empty file");
        goto out;
    }
    if (!m->pb->has_ir_version || m->pb->ir_version < 3 || !m->pb->graph) {
        lfail(err, m, "not an ONNX model (%s)", !m->pb->graph ? "no graph" : "no valid ir_version");
        goto out;
    }
    m->gp = m->pb->graph;
    m->opset = -1;
    for (size_t i = 0; i < m->pb->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->pb->opset_import[i];
        if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version) m->opset = o->version;
    }
    if (m->opset < IMPORT_OPSET_MIN || m->opset > IMPORT_OPSET_MAX) {
        if (m->opset < 0)
            lfail(err, m, "imports no version of the default ONNX opset");
        else
            lfail(err, m, "uses opset %lld; sslc imports opsets %d to %d", (long long)m->opset, IMPORT_OPSET_MIN,
                  IMPORT_OPSET_MAX);
        goto out;
    }
    /* a backbone's input is the plan's normalized views: an sslc export that normalizes its
     * pixels itself would normalize them twice */
    for (size_t i = 0; i < m->pb->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *p = m->pb->metadata_props[i];
        if (p->key && p->value && !strcmp(p->key, ONNX_META_INPUT) && !strcmp(p->value, ONNX_INPUT_PIXELS)) {
            lfail(err, m, "normalizes its input itself (an `sslc export` without --raw-input), and the plan "
                          "normalizes the views it feeds the backbone: export it again with --raw-input");
            goto out;
        }
    }
    rc = load_graph(m, output, err);
out:
    if (rc) {
        onnx_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* ---- building ---- */

static int model_build(void *ctx, mbuild *mb, int x) {
    onnx_model *m = ctx;
    ir_graph *g = mb->g;
    if (g->failed || x < 0) return -1;
    bctx b;
    memset(&b, 0, sizeof b);
    b.m = m, b.mb = mb, b.g = g;
    b.ents = calloc((size_t)m->nslots + 1, sizeof *b.ents);
    if (!b.ents) return ir_fail(g, "out of memory importing %.300s", m->path);
    for (int s = 0; s < m->nslots; s++) b.ents[s].v = -1;
    b.ents[0].v = x;
    for (int j = 0; j < m->ninits; j++) b.ents[1 + j].c = &m->inits[j];
    int y = -1;
    for (size_t i = 0; i < m->gp->n_node && !g->failed; i++) {
        if (!m->needed[i]) continue;
        b.idx = (int)i;
        b.n = m->gp->node[i];
        int rc = m->node_op[i]->fn(&b, m->node_op[i]);
        if (rc < 0 || g->failed) {
            if (!g->failed) bfail(&b, "could not be converted");
            else if (strncmp(g->err, m->path, strlen(m->path)) != 0) { /* an IR message: say where */
                char msg[IR_ERRLEN], lab[160];
                snprintf(msg, sizeof msg, "%s", g->err);
                errf(g->err, "%.200s: node %s (%s): %.300s", m->path, node_label(m, b.idx, lab, sizeof lab),
                         b.n->op_type, msg);
            }
        }
    }
    int64_t batch = g->vals[x].shape.d[0];
    if (g->failed && m->input_batch > 0 && batch != m->input_batch) { /* the likely cause */
        char msg[IR_ERRLEN];
        snprintf(msg, sizeof msg, "%s", g->err);
        errf(g->err, "%.400s (the model was exported for a fixed batch of %lld, this graph has %lld: export it "
                     "with a dynamic batch axis)", msg, (long long)m->input_batch, (long long)batch);
    }
    if (!g->failed) {
        ent *e = &b.ents[m->out_slot];
        if (e->v >= 0)
            y = e->v;
        else
            ir_fail(g, "%.300s: output '%.120s' is a constant, not computed from the images", m->path,
                    m->slot_name[m->out_slot]);
    }
    for (int k = 0; k < b.nowned; k++) {
        ct_free(b.owned[k]);
        free(b.owned[k]);
    }
    free(b.owned);
    free(b.ents);
    if (g->failed) oneline(g->err);
    return g->failed ? -1 : y;
}

int onnx_model_backbone(onnx_model *m, int channels, int size, backbone_ext *ext, char *err) {
    if (m->info.channels > 0 && m->info.channels != channels) {
        errf(err, "%.300s: input '%.100s' has %lld channels, the images have %d (--channels)", m->path,
                 m->input_name, (long long)m->info.channels, channels);
        return -1;
    }
    ir_graph g;
    mbuild mb;
    ir_graph_init(&g);
    mb_init(&mb, &g, 0);
    int x = ir_input(&g, "images", DT_F32, IR_SHAPE(2, channels, size, size));
    int y = model_build(m, &mb, x);
    int rc = -1;
    if (y < 0) {
        errf(err, "%s", g.err);
    } else {
        const ir_shape *s = &g.vals[y].shape;
        if (s->ndim != 2 || s->d[0] != 2) {
            char sh[96];
            ir_shape_str(s, sh, sizeof sh);
            errf(err,
                     "%.300s: output '%.100s' is %s for a batch of 2: the backbone output must be a feature vector "
                     "[N, F] (choose one with --backbone-output)",
                     m->path, m->slot_name[m->out_slot], sh);
        } else {
            ext->feat_dim = s->d[1];
            ext->build = model_build;
            ext->ctx = m;
            rc = 0;
        }
    }
    mb_free(&mb);
    ir_graph_free(&g);
    return rc;
}
