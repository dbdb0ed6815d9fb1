/* Plan file I/O: header + protobuf payload; graphs are rebuilt through the IR builder on read. */
#include "planfile.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fileio.h"
#include "pbnest.h"
#include "planfile_impl.h"

#define PLAN_MAX_NAME 1024            /* longest value name accepted */
#define PLAN_MAX_VALUES (1 << 26)     /* values per graph */
#define PLAN_MAX_NESTING 16           /* message levels (a valid plan has 7) */

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IR_ERRLEN, fmt, ap);
    va_end(ap);
    for (char *q = err; *q; q++) /* names from a file may hold control characters: keep one line */
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return -1;
}

/* ---- the plan struct ---- */

void plan_init(sslc_plan *p) {
    memset(p, 0, sizeof *p);
    ir_graph_init(&p->train);
    ir_graph_init(&p->eval);
}

void plan_free(sslc_plan *p) {
    free(p->keys);
    free(p->vals);
    ir_graph_free(&p->train);
    ir_graph_free(&p->eval);
    compiled_step_free(&p->step);
    free(p->backbone_onnx);
    plan_init(p);
}

int plan_set_method(sslc_plan *p, const char *method, char *err) {
    if (strlen(method) >= PLAN_KEYLEN)
        return fail(err, "method name '%.40s...' is too long (at most %d bytes)", method, PLAN_KEYLEN - 1);
    snprintf(p->method, sizeof p->method, "%s", method);
    return 0;
}

int plan_set_option(sslc_plan *p, const char *key, const char *val, char *err) {
    if (!key[0]) return fail(err, "option with an empty name");
    if (strlen(key) >= PLAN_KEYLEN)
        return fail(err, "option name '%.40s...' is too long (at most %d bytes)", key, PLAN_KEYLEN - 1);
    if (strlen(val) >= PLAN_VALLEN)
        return fail(err, "value of option '%s' is too long (at most %d bytes)", key, PLAN_VALLEN - 1);
    for (int i = 0; i < p->nopts; i++)
        if (strcmp(p->keys[i], key) == 0) {
            snprintf(p->vals[i], PLAN_VALLEN, "%s", val);
            return 0;
        }
    if (p->nopts == p->cap_opts) {
        int nc = p->cap_opts ? p->cap_opts * 2 : 16;
        char(*k)[PLAN_KEYLEN] = realloc(p->keys, (size_t)nc * sizeof *k);
        if (!k) return fail(err, "out of memory");
        p->keys = k;
        char(*v)[PLAN_VALLEN] = realloc(p->vals, (size_t)nc * sizeof *v);
        if (!v) return fail(err, "out of memory");
        p->vals = v;
        p->cap_opts = nc;
    }
    snprintf(p->keys[p->nopts], PLAN_KEYLEN, "%s", key);
    snprintf(p->vals[p->nopts], PLAN_VALLEN, "%s", val);
    p->nopts++;
    return 0;
}

const char *plan_get_option(const sslc_plan *p, const char *key) {
    for (int i = 0; i < p->nopts; i++)
        if (strcmp(p->keys[i], key) == 0) return p->vals[i];
    return NULL;
}

/* ---- fixed on-disk enum numbers <-> IR enums ---- */

static const struct {
    ir_dtype ir;
    Sslc__DType pb;
} dtype_map[] = {
    {DT_F32, SSLC__DTYPE__DTYPE_F32}, {DT_F64, SSLC__DTYPE__DTYPE_F64}, {DT_BF16, SSLC__DTYPE__DTYPE_BF16},
    {DT_F16, SSLC__DTYPE__DTYPE_F16}, {DT_I32, SSLC__DTYPE__DTYPE_I32}, {DT_I64, SSLC__DTYPE__DTYPE_I64},
    {DT_U8, SSLC__DTYPE__DTYPE_U8},   {DT_BOOL, SSLC__DTYPE__DTYPE_BOOL},
};
static const struct {
    ir_kind ir;
    Sslc__ValueKind pb;
} kind_map[] = {
    {VK_INPUT, SSLC__VALUE_KIND__KIND_INPUT}, {VK_PARAM, SSLC__VALUE_KIND__KIND_PARAM},
    {VK_STATE, SSLC__VALUE_KIND__KIND_STATE}, {VK_CONST, SSLC__VALUE_KIND__KIND_CONST},
    {VK_INTER, SSLC__VALUE_KIND__KIND_INTER},
};
static const struct {
    ir_init_kind ir;
    Sslc__InitKind pb;
} init_map[] = {
    {INIT_NONE, SSLC__INIT_KIND__INIT_NONE},       {INIT_CONST, SSLC__INIT_KIND__INIT_CONST},
    {INIT_NORMAL, SSLC__INIT_KIND__INIT_NORMAL},   {INIT_UNIFORM, SSLC__INIT_KIND__INIT_UNIFORM},
    {INIT_TRUNC_NORMAL, SSLC__INIT_KIND__INIT_TRUNC_NORMAL}, {INIT_COPY, SSLC__INIT_KIND__INIT_COPY},
    {INIT_NORMAL_L2, SSLC__INIT_KIND__INIT_NORMAL_L2},
    {INIT_DATA, SSLC__INIT_KIND__INIT_DATA},
    {INIT_NORMAL_L2_ROWS, SSLC__INIT_KIND__INIT_NORMAL_L2_ROWS},
};
#define NELEM(a) (int)(sizeof(a) / sizeof((a)[0]))

/* Enum fields of unpacked messages hold whatever number the file had (proto3 enums are open).
 * Loading an out-of-range value through the enum type is undefined (UBSan: -fsanitize=enum),
 * so they are read as plain ints. */
_Static_assert(sizeof(Sslc__DType) == sizeof(int) && sizeof(Sslc__ValueKind) == sizeof(int) &&
                   sizeof(Sslc__InitKind) == sizeof(int),
               "protobuf-c enums are int-sized");
static int enum_int(const void *field) {
    int v;
    memcpy(&v, field, sizeof v);
    return v;
}
_Static_assert(NELEM(dtype_map) == DT__COUNT, "every IR dtype needs a plan file number");
_Static_assert(NELEM(kind_map) == VK__COUNT, "every value kind needs a plan file number");

static int dtype_to_pb(ir_dtype t, Sslc__DType *out) {
    for (int i = 0; i < NELEM(dtype_map); i++)
        if (dtype_map[i].ir == t) return *out = dtype_map[i].pb, 0;
    return -1;
}
static int dtype_from_pb(int t, ir_dtype *out) {
    for (int i = 0; i < NELEM(dtype_map); i++)
        if ((int)dtype_map[i].pb == t) return *out = dtype_map[i].ir, 0;
    return -1;
}
static int kind_to_pb(ir_kind k, Sslc__ValueKind *out) {
    for (int i = 0; i < NELEM(kind_map); i++)
        if (kind_map[i].ir == k) return *out = kind_map[i].pb, 0;
    return -1;
}
static int kind_from_pb(int k, ir_kind *out) {
    for (int i = 0; i < NELEM(kind_map); i++)
        if ((int)kind_map[i].pb == k) return *out = kind_map[i].ir, 0;
    return -1;
}
static int init_to_pb(ir_init_kind k, Sslc__InitKind *out) {
    for (int i = 0; i < NELEM(init_map); i++)
        if (init_map[i].ir == k) return *out = init_map[i].pb, 0;
    return -1;
}
static int init_from_pb(int k, ir_init_kind *out) {
    for (int i = 0; i < NELEM(init_map); i++)
        if ((int)init_map[i].pb == k) return *out = init_map[i].ir, 0;
    return -1;
}

/* ---- little-endian header fields ---- */

static void put_u32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *b) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}
static uint64_t get_u64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static uint32_t crc_of(const unsigned char *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { /* zlib takes uInt lengths */
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

/* ---- encoding ---- */

void plan_enc_graph_free(enc_graph *e) {
    free(e->vals);
    free(e->valp);
    free(e->inits);
    free(e->nodes);
    free(e->nodep);
    free(e->attrs);
    free(e->attrp);
    free(e->upd);
    free(e->updp);
}

static char *str_or_empty(const char *s) { return (char *)(s ? s : ""); }

/* the train graph's value named like v, if it holds v's INIT_DATA bytes (the lowered graph
 * refers to them instead of repeating them) */
static const ir_value *data_twin(const ir_graph *src, const ir_value *v) {
    if (!src || !v->name || v->init.kind != INIT_DATA || !v->data) return NULL;
    int t = ir_find_value(src, v->name);
    if (t < 0) return NULL;
    const ir_value *x = &src->vals[t];
    if (x->init.kind != INIT_DATA || !x->data || x->dtype != v->dtype || !ir_shape_eq(&x->shape, &v->shape)) return NULL;
    size_t n = (size_t)ir_numel(&v->shape) * ir_dtype_size(v->dtype);
    return memcmp(x->data, v->data, n) == 0 ? x : NULL;
}

int plan_enc_graph(enc_graph *e, const ir_graph *g, const char *gname, const ir_graph *data_src, char *err) {
    memset(e, 0, sizeof *e);
    sslc__graph__init(&e->graph);
    if (g->failed) return fail(err, "%s graph has a build error: %s", gname, g->err);
    size_t nv = (size_t)g->nvals, nn = (size_t)g->nnodes, nu = (size_t)g->nupdates;
    e->vals = calloc(nv + 1, sizeof *e->vals);
    e->valp = calloc(nv + 1, sizeof *e->valp);
    e->inits = calloc(nv + 1, sizeof *e->inits);
    e->nodes = calloc(nn + 1, sizeof *e->nodes);
    e->nodep = calloc(nn + 1, sizeof *e->nodep);
    e->attrs = calloc((nn + 1) * IR_MAX_ATTRS, sizeof *e->attrs);
    e->attrp = calloc((nn + 1) * IR_MAX_ATTRS, sizeof *e->attrp);
    e->upd = calloc(nu + 1, sizeof *e->upd);
    e->updp = calloc(nu + 1, sizeof *e->updp);
    if (!e->vals || !e->valp || !e->inits || !e->nodes || !e->nodep || !e->attrs || !e->attrp || !e->upd ||
        !e->updp)
        return fail(err, "out of memory encoding the %s graph", gname);
    for (size_t i = 0; i < nv; i++) {
        const ir_value *v = &g->vals[i];
        Sslc__Value *pv = &e->vals[i];
        sslc__value__init(pv);
        pv->name = str_or_empty(v->name);
        if (dtype_to_pb(v->dtype, &pv->dtype) != 0)
            return fail(err, "%s graph: value %zu has an invalid dtype %d", gname, i, (int)v->dtype);
        if (kind_to_pb(v->kind, &pv->kind) != 0)
            return fail(err, "%s graph: value %zu has an invalid kind %d", gname, i, (int)v->kind);
        if (v->shape.ndim < 0 || v->shape.ndim > IR_MAX_DIMS)
            return fail(err, "%s graph: value %zu has rank %d", gname, i, v->shape.ndim);
        pv->n_dims = (size_t)v->shape.ndim;
        pv->dims = (int64_t *)v->shape.d;
        pv->flags = v->flags;
        Sslc__Init *pi = &e->inits[i];
        sslc__init__init(pi);
        if (init_to_pb(v->init.kind, &pi->kind) != 0)
            return fail(err, "%s graph: value %zu has an invalid init kind %d", gname, i, (int)v->init.kind);
        pi->a = v->init.a;
        pi->b = v->init.b;
        pi->src = v->init.src;
        pv->init = pi;
        if (v->init.kind == INIT_DATA && (!v->data || (v->kind != VK_PARAM && v->kind != VK_STATE)))
            return fail(err, "%s graph: value %zu is data-initialized without data", gname, i);
        if (data_twin(data_src, v))
            pv->data_from_train = 1;
        else if ((v->kind == VK_CONST || v->init.kind == INIT_DATA) && v->data) {
            pv->const_data.data = v->data;
            pv->const_data.len = (size_t)ir_numel(&v->shape) * ir_dtype_size(v->dtype);
        }
        e->valp[i] = pv;
    }
    for (size_t k = 0; k < nn; k++) {
        const ir_node *n = &g->nodes[k];
        if (n->op < 0 || n->op >= OP__COUNT) return fail(err, "%s graph: node %zu has an invalid op", gname, k);
        const ir_opdef *def = ir_optable[n->op];
        Sslc__Node *pn = &e->nodes[k];
        sslc__node__init(pn);
        pn->op = (char *)def->name;
        pn->n_inputs = (size_t)n->nin;
        pn->inputs = (int32_t *)n->in;
        pn->n_outputs = (size_t)n->nout;
        pn->outputs = (int32_t *)n->out;
        pn->n_attrs = (size_t)def->nattrs;
        pn->attrs = &e->attrp[k * IR_MAX_ATTRS];
        for (int a = 0; a < def->nattrs; a++) {
            Sslc__Attr *pa = &e->attrs[k * IR_MAX_ATTRS + (size_t)a];
            sslc__attr__init(pa);
            pa->name = (char *)def->attrs[a].name;
            const ir_attrval *av = &n->attr[a];
            switch (def->attrs[a].type) {
            case AT_INT: pa->i = av->i; break;
            case AT_FLOAT: pa->f = av->f; break;
            case AT_INTS:
                pa->n_ints = (size_t)av->n;
                pa->ints = (int64_t *)av->v;
                break;
            default: break;
            }
            pn->attrs[a] = pa;
        }
        e->nodep[k] = pn;
    }
    for (size_t u = 0; u < nu; u++) {
        sslc__update__init(&e->upd[u]);
        e->upd[u].dst = g->updates[u].dst;
        e->upd[u].src = g->updates[u].src;
        e->updp[u] = &e->upd[u];
    }
    e->graph.n_values = nv;
    e->graph.values = e->valp;
    e->graph.n_nodes = nn;
    e->graph.nodes = e->nodep;
    e->graph.n_outputs = (size_t)g->noutputs;
    e->graph.outputs = (int32_t *)g->outputs;
    e->graph.n_updates = nu;
    e->graph.updates = e->updp;
    return 0;
}

static int plan_encode_raw(const sslc_plan *p, unsigned char **buf, size_t *len, char *err) {
    *buf = NULL;
    *len = 0;
    Sslc__Plan pp;
    sslc__plan__init(&pp);
    pp.format_version = PLAN_FORMAT_VERSION;
    pp.sslc_version = (char *)SSLC_VERSION;
    pp.method = (char *)p->method;
    pp.seed = p->seed;
    Sslc__Option *opts = calloc((size_t)p->nopts + 1, sizeof *opts);
    Sslc__Option **optp = calloc((size_t)p->nopts + 1, sizeof *optp);
    enc_graph train, eval;
    enc_step step;
    memset(&train, 0, sizeof train);
    memset(&eval, 0, sizeof eval);
    memset(&step, 0, sizeof step);
    int rc = -1;
    if (!opts || !optp) {
        fail(err, "out of memory encoding the plan");
        goto done;
    }
    for (int i = 0; i < p->nopts; i++) {
        sslc__option__init(&opts[i]);
        opts[i].key = p->keys[i];
        opts[i].value = p->vals[i];
        optp[i] = &opts[i];
    }
    pp.n_options = (size_t)p->nopts;
    pp.options = optp;
    if (plan_enc_graph(&train, &p->train, "train", NULL, err) != 0) goto done;
    pp.train = &train.graph;
    if (p->has_step) {
        if (plan_enc_step(&step, &p->step, &p->train, err) != 0) goto done;
        train.graph.compiled = &step.step;
    }
    if (p->has_eval) {
        if (plan_enc_graph(&eval, &p->eval, "eval", NULL, err) != 0) goto done;
        pp.eval = &eval.graph;
    }
    pp.backbone_onnx.data = p->backbone_onnx;
    pp.backbone_onnx.len = p->backbone_onnx ? p->backbone_onnx_len : 0;
    size_t n = sslc__plan__get_packed_size(&pp);
    if (n > PLAN_MAX_BYTES - PLAN_HEADER_BYTES) {
        fail(err, "plan is too large (%zu bytes)", n);
        goto done;
    }
    unsigned char *b = malloc(PLAN_HEADER_BYTES + n);
    if (!b) {
        fail(err, "out of memory encoding the plan (%zu bytes)", n);
        goto done;
    }
    size_t packed = sslc__plan__pack(&pp, b + PLAN_HEADER_BYTES);
    if (packed != n) {
        free(b);
        fail(err, "internal error: protobuf packed %zu bytes, expected %zu", packed, n);
        goto done;
    }
    memcpy(b, PLAN_MAGIC, 8);
    put_u32(b + 8, PLAN_FORMAT_VERSION);
    put_u32(b + 12, crc_of(b + PLAN_HEADER_BYTES, n));
    put_u64(b + 16, (uint64_t)n);
    *buf = b;
    *len = PLAN_HEADER_BYTES + n;
    rc = 0;
done:
    plan_enc_graph_free(&train);
    plan_enc_graph_free(&eval);
    plan_enc_step_free(&step);
    free(opts);
    free(optp);
    return rc;
}

int plan_encode(const sslc_plan *p, unsigned char **buf, size_t *len, char *err) {
    if (plan_encode_raw(p, buf, len, err) != 0) return -1;
    /* Never write what could not be read back: decode what was just encoded. */
    sslc_plan check;
    char e2[IR_ERRLEN];
    if (plan_decode(&check, *buf, *len, "plan", e2) != 0) {
        fail(err, "plan would not read back, not written: %s", e2);
        free(*buf);
        *buf = NULL;
        *len = 0;
        plan_free(&check);
        return -1;
    }
    plan_free(&check);
    return 0;
}

int plan_write(const sslc_plan *p, const char *path, char *err) {
    unsigned char *buf;
    size_t len;
    char e2[IR_ERRLEN];
    if (plan_encode(p, &buf, &len, e2) != 0) return fail(err, "%s: %s", path, e2);
    const void *parts[1] = {buf};
    size_t lens[1] = {len};
    int rc = sslc_write_atomic(path, parts, lens, 1, err);
    free(buf);
    return rc;
}

/* ---- decoding ---- */

int dfail(const dctx *c, const char *fmt, ...) {
    char msg[IR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(c->err, "%s: %s graph: %s", c->what, c->gname, msg);
}

/* Checks a stored value's own fields; fills dtype, kind, shape. */
static int check_value(const dctx *c, const Sslc__Value *pv, size_t i, size_t nv, ir_dtype *dt, ir_kind *kind,
                       ir_shape *shape, const ir_value **twin) {
    if (dtype_from_pb(enum_int(&pv->dtype), dt) != 0) return dfail(c, "value %zu has an unknown dtype %d", i, enum_int(&pv->dtype));
    if (kind_from_pb(enum_int(&pv->kind), kind) != 0) return dfail(c, "value %zu has an unknown kind %d", i, enum_int(&pv->kind));
    if (pv->name && strlen(pv->name) > PLAN_MAX_NAME)
        return dfail(c, "value %zu has a name longer than %d bytes", i, PLAN_MAX_NAME);
    if (pv->n_dims > IR_MAX_DIMS) return dfail(c, "value %zu has %zu dims (at most %d)", i, pv->n_dims, IR_MAX_DIMS);
    memset(shape, 0, sizeof *shape);
    shape->ndim = (int)pv->n_dims;
    int64_t bound = 1; /* product of max(d, 1): bounds every partial product too */
    for (size_t d = 0; d < pv->n_dims; d++) {
        int64_t x = pv->dims[d];
        if (x < 0) return dfail(c, "value %zu has a negative dimension %lld", i, (long long)x);
        if (x > 1) {
            if (x > PLAN_MAX_NUMEL / bound) return dfail(c, "value %zu has too many elements (limit 2^40)", i);
            bound *= x;
        }
        shape->d[d] = x;
    }
    int has_data = *kind == VK_CONST || ((*kind == VK_PARAM || *kind == VK_STATE) && pv->init &&
                                         enum_int(&pv->init->kind) == SSLC__INIT_KIND__INIT_DATA);
    *twin = NULL;
    if (pv->data_from_train) { /* the bytes are the train graph's value of the same name */
        int t = c->data_src && has_data && *kind != VK_CONST && pv->name ? ir_find_value(c->data_src, pv->name) : -1;
        const ir_value *x = t >= 0 ? &c->data_src->vals[t] : NULL;
        if (!x || x->init.kind != INIT_DATA || !x->data || x->dtype != *dt || !ir_shape_eq(&x->shape, shape) ||
            pv->const_data.len)
            return dfail(c, "value %zu takes its data from a train graph value that does not match it", i);
        *twin = x;
        has_data = 0; /* no bytes here */
    }
    size_t want = has_data ? (size_t)ir_numel(shape) * ir_dtype_size(*dt) : 0;
    if (pv->const_data.len != want) {
        if (has_data)
            return dfail(c, "%s value %zu has %zu data bytes, its dtype and shape need %zu",
                         *kind == VK_CONST ? "constant" : "data-initialized", i, pv->const_data.len, want);
        return dfail(c, "value %zu is not a constant but carries %zu data bytes", i, pv->const_data.len);
    }
    if (pv->flags & ~(uint32_t)(VF_NO_DECAY | VF_FROZEN | VF_FORWARD_LOSS))
        return dfail(c, "value %zu has unknown flags 0x%x", i, (unsigned)pv->flags);
    if (pv->init) {
        ir_init_kind ik;
        if (init_from_pb(enum_int(&pv->init->kind), &ik) != 0)
            return dfail(c, "value %zu has an unknown init kind %d", i, enum_int(&pv->init->kind));
        if (!isfinite(pv->init->a) || !isfinite(pv->init->b))
            return dfail(c, "value %zu has a non-finite init parameter", i);
        int32_t src = pv->init->src;
        if (ik == INIT_COPY && (src < 0 || (size_t)src >= nv || (size_t)src == i))
            return dfail(c, "value %zu is initialized as a copy of value %d, which is out of range", i, (int)src);
        if (src < -1 || (src >= 0 && (size_t)src >= nv))
            return dfail(c, "value %zu has an init source %d out of range", i, (int)src);
        if (ik == INIT_DATA && *kind != VK_PARAM && *kind != VK_STATE)
            return dfail(c, "value %zu is data-initialized but is not a parameter or state", i);
    }
    return 0;
}

/* Sets name, flags, init and (for constants) data of the rebuilt value v from the stored one. */
static int apply_value(const dctx *c, ir_graph *g, int v, const Sslc__Value *pv, const ir_value *twin) {
    ir_value *x = &g->vals[v];
    if (pv->name && pv->name[0]) ir_set_name(g, v, pv->name);
    x->flags = pv->flags;
    x->init.kind = INIT_NONE;
    x->init.a = x->init.b = 0;
    x->init.src = -1;
    if (pv->init) {
        init_from_pb(enum_int(&pv->init->kind), &x->init.kind);
        x->init.a = pv->init->a;
        x->init.b = pv->init->b;
        x->init.src = pv->init->src;
    }
    if (x->kind == VK_CONST || x->init.kind == INIT_DATA) {
        size_t n = twin ? (size_t)ir_numel(&x->shape) * ir_dtype_size(x->dtype) : pv->const_data.len;
        x->data = malloc(n ? n : 1);
        if (!x->data) return dfail(c, "out of memory for constant value %d (%zu bytes)", v, n);
        if (n) memcpy(x->data, twin ? twin->data : pv->const_data.data, n);
    }
    return 0;
}

static void set_float_attr(ir_graph *g, int node, int a, const char *name, double f) {
    if (isfinite(f) && fabs(f) < 9.2e18) {
        ir_set_f(g, node, name, f);
    } else { /* ir_set_f would convert f to int64: undefined for these */
        g->nodes[node].attr[a].f = f;
        g->nodes[node].attr[a].i = 0;
    }
}

static int build_node(const dctx *c, ir_graph *g, const Sslc__Node *pn, size_t k, size_t first_out) {
    const char *opname = pn->op ? pn->op : "";
    int op = ir_op_find(opname);
    if (op < 0) return dfail(c, "node %zu has an unknown op '%.64s'", k, opname);
    const ir_opdef *def = ir_optable[op];
    if (pn->n_inputs < (size_t)def->min_in || pn->n_inputs > (size_t)def->max_in || pn->n_inputs > IR_MAX_IN)
        return dfail(c, "node %zu (%s) has %zu inputs, the op takes %d..%d", k, def->name, pn->n_inputs, def->min_in,
                     def->max_in);
    if (pn->n_outputs != (size_t)def->nout)
        return dfail(c, "node %zu (%s) has %zu outputs, the op has %d", k, def->name, pn->n_outputs, def->nout);
    for (size_t j = 0; j < pn->n_outputs; j++)
        if (pn->outputs[j] < 0 || (size_t)pn->outputs[j] != first_out + j)
            return dfail(c, "node %zu (%s): outputs are not the values created right after its inputs", k, def->name);
    int in[IR_MAX_IN];
    for (size_t j = 0; j < pn->n_inputs; j++) {
        int32_t x = pn->inputs[j];
        if (x < 0 || (size_t)x >= first_out)
            return dfail(c, "node %zu (%s): input %zu refers to value %d, which is not defined before the node", k,
                         def->name, j, (int)x);
        in[j] = x;
    }
    if (pn->n_inputs == 0 && g->nvals == 0) return dfail(c, "node %zu (%s) has no inputs in an empty graph", k, def->name);
    int node = ir_node_new(g, op, in, (int)pn->n_inputs);
    if (node < 0) return dfail(c, "node %zu (%s): %s", k, def->name, g->err);
    unsigned seen = 0;
    for (size_t j = 0; j < pn->n_attrs; j++) {
        const Sslc__Attr *pa = pn->attrs[j];
        const char *an = pa->name ? pa->name : "";
        int a = ir_attr_index(def, an);
        if (a < 0) return dfail(c, "node %zu (%s) has an unknown attribute '%.64s'", k, def->name, an);
        if (seen & (1u << a)) return dfail(c, "node %zu (%s) sets attribute '%s' twice", k, def->name, an);
        seen |= 1u << a;
        switch (def->attrs[a].type) {
        case AT_INT:
            if (pa->n_ints || pa->f != 0)
                return dfail(c, "node %zu (%s): integer attribute '%s' holds other kinds of values", k, def->name, an);
            ir_set_i(g, node, an, pa->i);
            break;
        case AT_FLOAT:
            if (pa->n_ints || pa->i != 0)
                return dfail(c, "node %zu (%s): float attribute '%s' holds other kinds of values", k, def->name, an);
            set_float_attr(g, node, a, an, pa->f);
            break;
        case AT_INTS:
            if (pa->i != 0 || pa->f != 0)
                return dfail(c, "node %zu (%s): integer-list attribute '%s' holds other kinds of values", k,
                             def->name, an);
            if (pa->n_ints > IR_MAX_INTS)
                return dfail(c, "node %zu (%s): attribute '%s' has %zu values (at most %d)", k, def->name, an,
                             pa->n_ints, IR_MAX_INTS);
            ir_set_ints(g, node, an, pa->ints, (int)pa->n_ints);
            break;
        default: return dfail(c, "node %zu (%s): attribute '%s' has no type", k, def->name, an);
        }
    }
    if (g->failed) return dfail(c, "node %zu (%s): %s", k, def->name, g->err);
    if (ir_node_finish(g, node) < 0) return dfail(c, "node %zu (%s): %s", k, def->name, g->err);
    if ((size_t)g->nvals != first_out + (size_t)def->nout)
        return dfail(c, "node %zu (%s): internal error: outputs created at an unexpected id", k, def->name);
    return node;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int plan_dec_graph(const dctx *c, const Sslc__Graph *pg, ir_graph *g) {
    size_t nv = pg->n_values, nn = pg->n_nodes;
    if (nv > PLAN_MAX_VALUES) return dfail(c, "%zu values (at most %d)", nv, PLAN_MAX_VALUES);
    if (nn > nv) return dfail(c, "%zu nodes but only %zu values", nn, nv);
    int *prod = malloc((nv + 1) * sizeof *prod);
    if (!prod) return dfail(c, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < nv; i++) prod[i] = -1;
    for (size_t k = 0; k < nn; k++) {
        const Sslc__Node *pn = pg->nodes[k];
        if (pn->n_outputs == 0 || pn->n_outputs > IR_MAX_OUT) {
            dfail(c, "node %zu has %zu outputs", k, pn->n_outputs);
            goto done;
        }
        for (size_t j = 0; j < pn->n_outputs; j++) {
            int32_t o = pn->outputs[j];
            if (o < 0 || (size_t)o >= nv) {
                dfail(c, "node %zu: output %zu refers to value %d, out of range (%zu values)", k, j, (int)o, nv);
                goto done;
            }
            if (prod[o] >= 0) {
                dfail(c, "value %d is produced by two nodes (%d and %zu)", (int)o, prod[o], k);
                goto done;
            }
            prod[o] = (int)k;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < nv;) {
        ir_dtype dt;
        ir_kind kind;
        ir_shape shape;
        const ir_value *twin;
        if (prod[i] < 0) { /* leaf value */
            const Sslc__Value *pv = pg->values[i];
            if (check_value(c, pv, i, nv, &dt, &kind, &shape, &twin) != 0) goto done;
            if (kind == VK_INTER) {
                dfail(c, "value %zu is an intermediate but no node produces it", i);
                goto done;
            }
            int v = ir_value_new(g, kind, dt, shape, NULL);
            if (apply_value(c, g, v, pv, twin) != 0) goto done;
            i++;
            continue;
        }
        if ((size_t)prod[i] != k) {
            dfail(c, "nodes out of order: node %d's outputs come before node %zu's (nodes must be stored in "
                     "creation order)",
                  prod[i], k);
            goto done;
        }
        const Sslc__Node *pn = pg->nodes[k];
        int node = build_node(c, g, pn, k, i);
        if (node < 0) goto done;
        const ir_opdef *def = ir_optable[g->nodes[node].op];
        for (size_t j = 0; j < pn->n_outputs; j++) {
            size_t o = i + j;
            const Sslc__Value *pv = pg->values[o];
            if (check_value(c, pv, o, nv, &dt, &kind, &shape, &twin) != 0) goto done;
            if (kind == VK_CONST) {
                dfail(c, "value %zu is a constant but node %zu (%s) produces it", o, k, def->name);
                goto done;
            }
            ir_value *x = &g->vals[o];
            if (!ir_shape_eq(&x->shape, &shape) || x->dtype != dt) {
                char a[96], b[96];
                ir_shape_str(&shape, a, sizeof a);
                ir_shape_str(&x->shape, b, sizeof b);
                dfail(c, "node %zu (%s): output %zu is stored as %s %s but infers to %s %s", k, def->name, o,
                      ir_dtype_name(dt), a, ir_dtype_name(x->dtype), b);
                goto done;
            }
            x->kind = kind;
            if (apply_value(c, g, (int)o, pv, twin) != 0) goto done;
        }
        i += pn->n_outputs;
        k++;
    }
    /* names of inputs, parameters and state identify them (feeds, checkpoints): unique */
    {
        const char **names = malloc((nv + 1) * sizeof *names);
        if (!names) {
            dfail(c, "out of memory");
            goto done;
        }
        size_t nnames = 0;
        for (size_t i = 0; i < nv; i++) {
            const ir_value *x = &g->vals[i];
            if (x->name && (x->kind == VK_INPUT || x->kind == VK_PARAM || x->kind == VK_STATE))
                names[nnames++] = x->name;
        }
        qsort(names, nnames, sizeof *names, cmp_names);
        for (size_t i = 1; i < nnames; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                dfail(c, "two values are named '%.200s'", names[i]);
                free(names);
                goto done;
            }
        free(names);
    }
    for (size_t j = 0; j < pg->n_outputs; j++) {
        int32_t o = pg->outputs[j];
        if (o < 0 || (size_t)o >= nv) {
            dfail(c, "graph output %zu refers to value %d, out of range", j, (int)o);
            goto done;
        }
        ir_add_output(g, o);
    }
    for (size_t u = 0; u < pg->n_updates; u++) {
        int32_t d = pg->updates[u]->dst, s = pg->updates[u]->src;
        if (d < 0 || (size_t)d >= nv || s < 0 || (size_t)s >= nv) {
            dfail(c, "update %zu refers to a value out of range (%d <- %d)", u, (int)d, (int)s);
            goto done;
        }
        if (g->vals[d].kind != VK_PARAM && g->vals[d].kind != VK_STATE) {
            dfail(c, "update %zu writes value %d (kind %s), not a parameter or state", u, (int)d,
                  ir_kind_name(g->vals[d].kind));
            goto done;
        }
        for (int w = 0; w < g->nupdates; w++)
            if (g->updates[w].dst == d) {
                dfail(c, "value %d is updated twice", (int)d);
                goto done;
            }
        ir_add_update(g, d, s);
        if (g->failed) {
            dfail(c, "update %zu: %s", u, g->err);
            goto done;
        }
    }
    rc = 0;
done:
    free(prod);
    return rc;
}

int plan_decode(sslc_plan *p, const unsigned char *buf, size_t len, const char *what, char *err) {
    plan_init(p);
    if (len == 0) return fail(err, "%s: not an sslc plan file (it is empty)", what);
    size_t m = len < 8 ? len : 8;
    if (memcmp(buf, PLAN_MAGIC, m) != 0) return fail(err, "%s: not an sslc plan file", what);
    if (len < PLAN_HEADER_BYTES)
        return fail(err, "%s: truncated plan file (%zu bytes, the header alone is %d)", what, len, PLAN_HEADER_BYTES);
    uint32_t ver = get_u32(buf + 8), crc = get_u32(buf + 12);
    uint64_t plen = get_u64(buf + 16);
    if (ver != PLAN_FORMAT_VERSION)
        return fail(err, "%s: plan format version %u, this sslc reads %u: recompile the plan", what, ver,
                    PLAN_FORMAT_VERSION);
    size_t have = len - PLAN_HEADER_BYTES;
    if (plen > have)
        return fail(err, "%s: truncated plan file (payload is %llu bytes, only %zu present)", what,
                    (unsigned long long)plen, have);
    if (plen < have)
        return fail(err, "%s: %zu trailing bytes after the plan payload", what, have - (size_t)plen);
    const unsigned char *payload = buf + PLAN_HEADER_BYTES;
    if (crc_of(payload, have) != crc) return fail(err, "%s: plan file is corrupted (checksum mismatch)", what);
    /* a valid plan nests 7 levels (Plan > Graph > CompiledStep > Graph > Value > Init > field);
     * protobuf-c would recurse through any depth and overflow the stack */
    if (pb_nesting(payload, have, PLAN_MAX_NESTING) > PLAN_MAX_NESTING)
        return fail(err, "%s: plan file is corrupted (messages nested more than %d levels deep; recompile the plan)",
                    what, PLAN_MAX_NESTING);
    Sslc__Plan *pp = sslc__plan__unpack(NULL, have, payload);
    if (!pp) return fail(err, "%s: plan file is corrupted (payload is not a valid plan message)", what);
    int rc = -1;
    dctx c = {what, "train", err, NULL};
    if (pp->format_version != ver) {
        fail(err, "%s: plan file is corrupted (payload says format version %u, header %u)", what, pp->format_version,
             ver);
        goto done;
    }
    if (pp->method && strlen(pp->method) >= PLAN_KEYLEN) {
        fail(err, "%s: method name is longer than %d bytes", what, PLAN_KEYLEN - 1);
        goto done;
    }
    snprintf(p->method, sizeof p->method, "%s", pp->method ? pp->method : "");
    snprintf(p->sslc_version, sizeof p->sslc_version, "%s", pp->sslc_version ? pp->sslc_version : "");
    p->seed = pp->seed;
    for (size_t i = 0; i < pp->n_options; i++) {
        const char *k = pp->options[i]->key ? pp->options[i]->key : "";
        const char *v = pp->options[i]->value ? pp->options[i]->value : "";
        char e2[IR_ERRLEN];
        if (plan_get_option(p, k)) {
            fail(err, "%s: option '%.64s' appears twice", what, k);
            goto done;
        }
        if (plan_set_option(p, k, v, e2) != 0) {
            fail(err, "%s: %s", what, e2);
            goto done;
        }
    }
    if (!pp->train) {
        fail(err, "%s: plan has no train graph", what);
        goto done;
    }
    if (plan_dec_graph(&c, pp->train, &p->train) != 0) goto done;
    if (pp->train->compiled) {
        if (plan_dec_step(&c, pp->train->compiled, &p->train, &p->step) != 0) goto done;
        p->has_step = 1;
    }
    if (pp->eval) {
        c.gname = "eval";
        if (pp->eval->compiled) {
            fail(err, "%s: the eval graph carries a compiled step (only the train graph has one)", what);
            goto done;
        }
        if (plan_dec_graph(&c, pp->eval, &p->eval) != 0) goto done;
        p->has_eval = 1;
    }
    if (pp->backbone_onnx.len) { /* copied: the unpacked message is freed below */
        p->backbone_onnx = malloc(pp->backbone_onnx.len);
        if (!p->backbone_onnx) {
            fail(err, "%s: out of memory reading the imported backbone (%zu bytes)", what, pp->backbone_onnx.len);
            goto done;
        }
        memcpy(p->backbone_onnx, pp->backbone_onnx.data, pp->backbone_onnx.len);
        p->backbone_onnx_len = pp->backbone_onnx.len;
    }
    rc = 0;
done:
    sslc__plan__free_unpacked(pp, NULL);
    if (rc != 0) plan_free(p);
    return rc;
}

int plan_read(sslc_plan *p, const char *path, char *err) {
    unsigned char *buf;
    size_t len;
    plan_init(p);
    if (sslc_read_file(path, PLAN_MAX_BYTES, &buf, &len, err) != 0) return -1;
    int rc = plan_decode(p, buf, len, path, err);
    free(buf);
    return rc;
}
