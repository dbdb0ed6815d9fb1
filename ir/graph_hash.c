#include "graph_hash.h"

#include <string.h>

uint64_t fnv64(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static uint64_t put_i64(uint64_t h, int64_t v) { return fnv64(h, &v, sizeof v); }
static uint64_t put_f64(uint64_t h, double v) { return fnv64(h, &v, sizeof v); }
/* strings with their length, so that ("ab", "c") and ("a", "bc") differ; NULL differs from "" */
static uint64_t put_str(uint64_t h, const char *s) {
    if (!s) return put_i64(h, -1);
    size_t n = strlen(s);
    return fnv64(put_i64(h, (int64_t)n), s, n);
}

uint64_t ir_graph_hash(const ir_graph *g) {
    uint64_t h = put_i64(put_i64(FNV64_INIT, g->nvals), g->nnodes);
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *x = &g->vals[v];
        h = put_i64(h, x->dtype);
        h = put_i64(h, x->kind);
        h = put_i64(h, x->shape.ndim);
        for (int d = 0; d < x->shape.ndim && d < IR_MAX_DIMS; d++) h = put_i64(h, x->shape.d[d]);
        h = put_i64(h, x->flags);
        h = put_str(h, x->name);
        h = put_i64(h, x->init.kind);
        h = put_f64(put_f64(h, x->init.a), x->init.b);
        h = put_i64(h, x->init.src);
        if (x->kind == VK_CONST && x->data) h = fnv64(h, x->data, (size_t)ir_numel(&x->shape) * ir_dtype_size(x->dtype));
    }
    for (int k = 0; k < g->nnodes; k++) {
        const ir_node *n = &g->nodes[k];
        h = put_str(h, n->op >= 0 && n->op < OP__COUNT ? ir_optable[n->op]->name : NULL);
        h = put_i64(put_i64(h, n->nin), n->nout);
        for (int i = 0; i < n->nin; i++) h = put_i64(h, n->in[i]);
        for (int i = 0; i < n->nout; i++) h = put_i64(h, n->out[i]);
        if (n->op < 0 || n->op >= OP__COUNT) continue;
        const ir_opdef *def = ir_optable[n->op];
        for (int a = 0; a < def->nattrs; a++) { /* what the plan file stores: the schema's kind */
            const ir_attrval *av = &n->attr[a];
            if (def->attrs[a].type == AT_INT) h = put_i64(h, av->i);
            if (def->attrs[a].type == AT_FLOAT) h = put_f64(h, av->f);
            if (def->attrs[a].type == AT_INTS) {
                h = put_i64(h, av->n);
                for (int i = 0; i < av->n && i < IR_MAX_INTS; i++) h = put_i64(h, av->v[i]);
            }
        }
    }
    h = put_i64(h, g->noutputs);
    for (int i = 0; i < g->noutputs; i++) h = put_i64(h, g->outputs[i]);
    h = put_i64(h, g->nupdates);
    for (int i = 0; i < g->nupdates; i++) h = put_i64(put_i64(h, g->updates[i].dst), g->updates[i].src);
    return h;
}
