/* Graph storage: values, nodes, attributes, names and scopes. */
#include "ir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *grow(void *p, int *cap, int need, size_t elem) {
    if (need <= *cap) return p;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q) {
        fprintf(stderr, "sslc: out of memory growing the graph\n");
        abort();
    }
    *cap = nc;
    return q;
}

void ir_graph_init(ir_graph *g) { memset(g, 0, sizeof *g); }

void ir_graph_free(ir_graph *g) {
    for (int i = 0; i < g->nvals; i++) {
        free(g->vals[i].name);
        free(g->vals[i].data);
    }
    free(g->vals);
    free(g->nodes);
    free(g->outputs);
    free(g->updates);
    memset(g, 0, sizeof *g);
}

int ir_fail(ir_graph *g, const char *fmt, ...) {
    if (!g->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, sizeof g->err, fmt, ap);
        va_end(ap);
        g->failed = 1;
    }
    return -1;
}

static const char *dtype_names[DT__COUNT] = {"f32", "f64", "bf16", "f16", "i32", "i64", "u8", "bool"};
static const size_t dtype_sizes[DT__COUNT] = {4, 8, 2, 2, 4, 8, 1, 1};
const char *ir_dtype_name(ir_dtype t) { return (unsigned)t < DT__COUNT ? dtype_names[t] : "?"; }
size_t ir_dtype_size(ir_dtype t) { return (unsigned)t < DT__COUNT ? dtype_sizes[t] : 0; }
int ir_graph_has_bf16(const ir_graph *g) {
    for (int v = 0; v < g->nvals; v++)
        if (g->vals[v].dtype == DT_BF16) return 1;
    return 0;
}
int ir_dtype_is_float(ir_dtype t) { return t == DT_F32 || t == DT_F64 || t == DT_BF16 || t == DT_F16; }

static const char *kind_names[VK__COUNT] = {"input", "param", "state", "const", "inter"};
const char *ir_kind_name(ir_kind k) { return (unsigned)k < VK__COUNT ? kind_names[k] : "?"; }

int64_t ir_numel(const ir_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

ir_shape ir_shape_make(int ndim, const int64_t *d) {
    ir_shape s;
    memset(&s, 0, sizeof s);
    s.ndim = ndim;
    for (int i = 0; i < ndim && i < IR_MAX_DIMS; i++) s.d[i] = d[i];
    return s;
}

int ir_shape_eq(const ir_shape *a, const ir_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

void ir_shape_str(const ir_shape *s, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)s->d[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

int ir_value_new(ir_graph *g, ir_kind kind, ir_dtype dt, ir_shape shape, const char *name) {
    g->vals = grow(g->vals, &g->cap_vals, g->nvals + 1, sizeof *g->vals);
    ir_value *v = &g->vals[g->nvals];
    memset(v, 0, sizeof *v);
    v->id = g->nvals;
    v->kind = kind;
    v->dtype = dt;
    v->shape = shape;
    v->producer = -1;
    v->init.src = -1;
    v->name = name ? strdup(name) : NULL;
    return g->nvals++;
}

int ir_forward_loss(const ir_graph *g) {
    for (int v = g->nvals - 1; v >= 0; v--)
        if (g->vals[v].flags & VF_FORWARD_LOSS) return v;
    return -1;
}

int ir_find_value(const ir_graph *g, const char *name) {
    for (int i = 0; i < g->nvals; i++)
        if (g->vals[i].name && strcmp(g->vals[i].name, name) == 0) return i;
    return -1;
}

void ir_set_name(ir_graph *g, int v, const char *name) {
    if (v < 0) return;
    free(g->vals[v].name);
    g->vals[v].name = name ? strdup(name) : NULL;
}

void ir_add_output(ir_graph *g, int v) {
    if (v < 0) return;
    g->outputs = grow(g->outputs, &g->cap_outputs, g->noutputs + 1, sizeof *g->outputs);
    g->outputs[g->noutputs++] = v;
}

void ir_add_update(ir_graph *g, int dst, int src) {
    if (dst < 0 || src < 0) return;
    if (!ir_shape_eq(&g->vals[dst].shape, &g->vals[src].shape) || g->vals[dst].dtype != g->vals[src].dtype) {
        ir_fail(g, "update of '%s': new value has a different shape or dtype",
                g->vals[dst].name ? g->vals[dst].name : "?");
        return;
    }
    g->updates = grow(g->updates, &g->cap_updates, g->nupdates + 1, sizeof *g->updates);
    g->updates[g->nupdates].dst = dst;
    g->updates[g->nupdates].src = src;
    g->nupdates++;
}

void ir_scope_push(ir_graph *g, const char *part) {
    size_t k = strlen(g->scope);
    snprintf(g->scope + k, sizeof g->scope - k, "%s%s", k ? "." : "", part);
}

void ir_scope_pop(ir_graph *g) {
    char *dot = strrchr(g->scope, '.');
    if (dot)
        *dot = 0;
    else
        g->scope[0] = 0;
}

void ir_scoped_name(const ir_graph *g, const char *leaf, char *buf, size_t n) {
    if (g->scope[0])
        snprintf(buf, n, "%s.%s", g->scope, leaf);
    else
        snprintf(buf, n, "%s", leaf);
}

int ir_op_find(const char *name) {
    for (int i = 0; i < OP__COUNT; i++)
        if (strcmp(ir_optable[i]->name, name) == 0) return i;
    return -1;
}

int ir_attr_index(const ir_opdef *def, const char *name) {
    for (int i = 0; i < def->nattrs; i++)
        if (strcmp(def->attrs[i].name, name) == 0) return i;
    return -1;
}

int ir_node_new(ir_graph *g, int op, const int *in, int nin) {
    if (g->failed) return -1;
    const ir_opdef *def = ir_optable[op];
    for (int i = 0; i < nin; i++)
        if (in[i] < 0 || in[i] >= g->nvals) return ir_fail(g, "%s: input %d is invalid", def->name, i);
    if (nin < def->min_in || nin > def->max_in || nin > IR_MAX_IN)
        return ir_fail(g, "%s: takes %d..%d inputs, got %d", def->name, def->min_in, def->max_in, nin);
    g->nodes = grow(g->nodes, &g->cap_nodes, g->nnodes + 1, sizeof *g->nodes);
    ir_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->nin = nin;
    memcpy(n->in, in, sizeof(int) * (size_t)nin);
    for (int a = 0; a < def->nattrs; a++) {
        n->attr[a].i = (int64_t)def->attrs[a].def;
        n->attr[a].f = def->attrs[a].def;
    }
    return g->nnodes++;
}

static ir_attrval *attr_slot(ir_graph *g, int node, const char *attr) {
    if (node < 0 || g->failed) return NULL;
    const ir_opdef *def = ir_optable[g->nodes[node].op];
    int a = ir_attr_index(def, attr);
    if (a < 0) {
        ir_fail(g, "%s: no attribute '%s'", def->name, attr);
        return NULL;
    }
    return &g->nodes[node].attr[a];
}

void ir_set_i(ir_graph *g, int node, const char *attr, int64_t v) {
    ir_attrval *s = attr_slot(g, node, attr);
    if (s) s->i = v, s->f = (double)v;
}
void ir_set_f(ir_graph *g, int node, const char *attr, double v) {
    ir_attrval *s = attr_slot(g, node, attr);
    if (s) s->f = v, s->i = (int64_t)v;
}
void ir_set_ints(ir_graph *g, int node, const char *attr, const int64_t *v, int n) {
    ir_attrval *s = attr_slot(g, node, attr);
    if (!s) return;
    if (n > IR_MAX_INTS) {
        ir_fail(g, "attribute '%s': more than %d values", attr, IR_MAX_INTS);
        return;
    }
    s->n = n;
    for (int i = 0; i < n; i++) s->v[i] = v[i];
}

const ir_attrval *ir_get(const ir_node *n, const char *attr) {
    int a = ir_attr_index(ir_optable[n->op], attr);
    return a < 0 ? NULL : &n->attr[a];
}
int64_t ir_get_i(const ir_node *n, const char *attr) {
    const ir_attrval *a = ir_get(n, attr);
    return a ? a->i : 0;
}
double ir_get_f(const ir_node *n, const char *attr) {
    const ir_attrval *a = ir_get(n, attr);
    return a ? a->f : 0.0;
}

int ir_node_finish(ir_graph *g, int node) {
    if (node < 0 || g->failed) return -1;
    ir_node *n = &g->nodes[node];
    const ir_opdef *def = ir_optable[n->op];
    ir_shape shapes[IR_MAX_OUT];
    ir_dtype dts[IR_MAX_OUT];
    memset(shapes, 0, sizeof shapes);
    for (int k = 0; k < IR_MAX_OUT; k++) dts[k] = g->vals[n->in[0]].dtype;
    if (def->infer(g, n, shapes, dts) != 0) {
        if (!g->failed) ir_fail(g, "%s: shape inference failed", def->name);
        return -1;
    }
    n = &g->nodes[node];
    n->nout = def->nout;
    for (int k = 0; k < def->nout; k++) {
        int v = ir_value_new(g, VK_INTER, dts[k], shapes[k], NULL);
        g->vals[v].producer = node;
        g->nodes[node].out[k] = v;
    }
    return g->nodes[node].out[0];
}

void ir_dump(const ir_graph *g, FILE *f) {
    char sb[96];
    for (int i = 0; i < g->nvals; i++) {
        const ir_value *v = &g->vals[i];
        if (v->kind == VK_INTER) continue;
        ir_shape_str(&v->shape, sb, sizeof sb);
        fprintf(f, "%-6s %%%d %s %s %s\n", ir_kind_name(v->kind), i, ir_dtype_name(v->dtype), sb,
                v->name ? v->name : "");
    }
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        const ir_opdef *def = ir_optable[n->op];
        fprintf(f, "  ");
        for (int k = 0; k < n->nout; k++) fprintf(f, "%s%%%d", k ? ", " : "", n->out[k]);
        ir_shape_str(&g->vals[n->out[0]].shape, sb, sizeof sb);
        fprintf(f, " = %s(", def->name);
        for (int k = 0; k < n->nin; k++) fprintf(f, "%s%%%d", k ? ", " : "", n->in[k]);
        fprintf(f, ")");
        for (int a = 0; a < def->nattrs; a++) {
            const ir_attrval *av = &n->attr[a];
            if (def->attrs[a].type == AT_INT)
                fprintf(f, " %s=%lld", def->attrs[a].name, (long long)av->i);
            else if (def->attrs[a].type == AT_FLOAT)
                fprintf(f, " %s=%g", def->attrs[a].name, av->f);
            else if (def->attrs[a].type == AT_INTS) {
                fprintf(f, " %s=[", def->attrs[a].name);
                for (int j = 0; j < av->n; j++) fprintf(f, j ? ",%lld" : "%lld", (long long)av->v[j]);
                fprintf(f, "]");
            }
        }
        fprintf(f, " : %s %s\n", ir_dtype_name(g->vals[n->out[0]].dtype), sb);
    }
    for (int i = 0; i < g->nupdates; i++)
        fprintf(f, "update %s <- %%%d\n", g->vals[g->updates[i].dst].name ? g->vals[g->updates[i].dst].name : "?",
                g->updates[i].src);
    for (int i = 0; i < g->noutputs; i++)
        fprintf(f, "output %%%d %s\n", g->outputs[i], g->vals[g->outputs[i]].name ? g->vals[g->outputs[i]].name : "");
}

int64_t ir_node_flops(const ir_graph *g, const ir_node *n) {
    const ir_opdef *def = ir_optable[n->op];
    if (def->flops) return def->flops(g, n);
    int64_t f = 0;
    for (int k = 0; k < n->nout; k++) f += ir_numel(&g->vals[n->out[k]].shape);
    return f;
}

int64_t ir_graph_flops(const ir_graph *g) {
    int64_t f = 0;
    for (int i = 0; i < g->nnodes; i++) f += ir_node_flops(g, &g->nodes[i]);
    return f;
}

void ir_errf(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IR_ERRLEN, fmt, ap);
    va_end(ap);
}
