#include "fusion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/opkit.h"

/* ---- node classes ---- */
enum { C_LIB, C_ELEM, C_RED, C_VIEW, C_COUNTER };

static int all_f32(const ir_graph *g, const ir_node *n) {
    for (int k = 0; k < n->nin; k++)
        if (g->vals[n->in[k]].dtype != DT_F32) return 0;
    for (int k = 0; k < n->nout; k++)
        if (g->vals[n->out[k]].dtype != DT_F32) return 0;
    return 1;
}

static int node_class(const ir_graph *g, const ir_node *n) {
    if (n->op == OP_Reshape || n->op == OP_Flatten) return C_VIEW;
    if (n->op == OP_Increment && g->vals[n->in[0]].dtype == DT_I64) return C_COUNTER;
    /* --precision bf16: the cast of a product's operand joins its producer's kernel, which
     * stores the bf16 copy (codegen: a store of a Cast expression writes bf16) */
    if (n->op == OP_Cast && g->vals[n->in[0]].dtype == DT_F32 && g->vals[n->out[0]].dtype == DT_BF16) return C_ELEM;
    if (!all_f32(g, n)) return C_LIB;
    if (n->op == OP_ReduceSum || n->op == OP_ReduceMax) return C_RED;
    if ((ir_optable[n->op]->flags & OPF_ELEMENTWISE) || n->op == OP_Expand) return C_ELEM;
    return C_LIB;
}

/* ---- groups ---- */
typedef struct {
    ir_shape dom;
    unsigned redmask;
    int nred, nloads_est;
    int first_node;
    int dead;    /* merged into another group */
    int counter; /* an int64 counter increment, scheduled after everything else */
} group;

typedef struct {
    const ir_graph *g;
    int ngroups, cap;
    group *gr;
    int *owner;         /* owner[v]: group (or singleton) producing v; -1 for leaves */
    int *level;         /* level[v] inside its group */
    int *node_group;    /* node -> group */
    /* group graph: edge P -> G when a node of G reads a value of P; kept exact under joins and
     * unions so cycle checks are exact (a join or union that closes a path is refused) */
    int *ehead, *enext, *eto, nedges, cap_edges;
    int *mark, stamp, *stack;
    unsigned char *live; /* node is needed by an output or update */
    int boundary;        /* producer of the loss autodiff started from (ir_forward_loss): nodes after it are the backward pass */
} fstate;

/* Forward and backward nodes never share a kernel: a backward node inside a forward kernel is
 * computed early and its result kept until the backward pass reads it, which is the memory the
 * rematerialization pass (remat.c) frees. */
static int same_side(const fstate *st, int G, int node) {
    return (st->gr[G].first_node <= st->boundary) == (node <= st->boundary);
}

static void add_edge(fstate *st, int P, int G) {
    if (st->nedges == st->cap_edges) {
        int nc = st->cap_edges ? 2 * st->cap_edges : 4096;
        int *a = realloc(st->enext, (size_t)nc * sizeof(int)), *b = a ? realloc(st->eto, (size_t)nc * sizeof(int)) : NULL;
        if (!a || !b) abort();
        st->enext = a, st->eto = b, st->cap_edges = nc;
    }
    st->eto[st->nedges] = G;
    st->enext[st->nedges] = st->ehead[P];
    st->ehead[P] = st->nedges++;
}

/* is there a path A -> ... -> B in the group graph? */
static int reach(fstate *st, int A, int B) {
    int sp = 0;
    st->stamp++;
    st->stack[sp++] = A;
    st->mark[A] = st->stamp;
    while (sp) {
        int x = st->stack[--sp];
        for (int e = st->ehead[x]; e >= 0; e = st->enext[e]) {
            int y = st->eto[e];
            if (y == B) return 1;
            if (st->mark[y] != st->stamp) {
                st->mark[y] = st->stamp;
                st->stack[sp++] = y;
            }
        }
    }
    return 0;
}

static int new_group(fstate *st, ir_shape dom, unsigned redmask, int node) {
    if (st->ngroups == st->cap) {
        fprintf(stderr, "sslc: fusion: group table full\n");
        abort();
    }
    int G = st->ngroups++;
    group *gp = &st->gr[G];
    memset(gp, 0, sizeof *gp);
    gp->dom = dom;
    gp->redmask = redmask;
    gp->first_node = node;
    st->ehead[G] = -1;
    return G;
}

static void add_deps(fstate *st, int G, const ir_node *n) {
    for (int k = 0; k < n->nin; k++) {
        int P = st->owner[n->in[k]];
        if (P >= 0 && P != G) add_edge(st, P, G);
    }
}

static int64_t outer_count(const group *gp) {
    int64_t o = 1;
    for (int d = 0; d < gp->dom.ndim; d++)
        if (!(gp->redmask >> d & 1)) o *= gp->dom.d[d];
    return o;
}

/* keepdims form of the outer shape: dom with reduced axes set to 1 */
static int is_keepdims_outer(const group *gp, const ir_shape *s) {
    if (s->ndim != gp->dom.ndim) return 0;
    for (int d = 0; d < s->ndim; d++)
        if (s->d[d] != ((gp->redmask >> d & 1) ? 1 : gp->dom.d[d])) return 0;
    return 1;
}

static int scalar_const(const ir_graph *g, int v) {
    return g->vals[v].kind == VK_CONST && ir_numel(&g->vals[v].shape) == 1 && g->vals[v].dtype == DT_F32;
}

/* Can elementwise node n join group G, and at which level? -1 if not. */
static int elem_level_in(fstate *st, int G, const ir_node *n) {
    const ir_graph *g = st->g;
    const group *gp = &st->gr[G];
    const ir_shape *T = &g->vals[n->out[0]].shape;
    int lvl;
    int64_t O = outer_count(gp);
    if (ir_shape_eq(T, &gp->dom))
        lvl = LV_FULL;
    else if (gp->nred > 0 && ir_numel(T) == O)
        lvl = LV_OUTER;
    else
        return -1;
    for (int k = 0; k < n->nin; k++) {
        int u = n->in[k], P = st->owner[u];
        const ir_shape *us = &g->vals[u].shape;
        if (P == G) {
            if (st->level[u] == LV_FULL && lvl == LV_OUTER) return -1;
            if (st->level[u] == LV_OUTER && lvl == LV_FULL && !is_keepdims_outer(gp, us) && ir_numel(us) != 1)
                return -1;
        } else {
            if (P >= 0 && reach(st, G, P)) return -1; /* would create a cycle */
            if (scalar_const(g, u)) continue;
            if (lvl == LV_OUTER && ir_numel(us) != O && ir_numel(us) != 1) return -1;
        }
    }
    if (n->op == OP_Expand && lvl != LV_FULL) return -1;
    return lvl;
}

static int red_mask(const ir_graph *g, const ir_node *n) {
    const ir_shape *xs = &g->vals[n->in[0]].shape;
    const ir_attrval *ax = ir_get(n, "axes");
    unsigned m = 0;
    if (ax->n == 0) return (int)((1u << xs->ndim) - 1);
    for (int j = 0; j < ax->n; j++) m |= 1u << ir_norm_axis(ax->v[j], xs->ndim);
    return (int)m;
}

static void assign(fstate *st, int G, const ir_node *n, int lvl) {
    for (int k = 0; k < n->nout; k++) {
        st->owner[n->out[k]] = G;
        st->level[n->out[k]] = lvl;
    }
    add_deps(st, G, n);
}

/* a path B -> X -> ... -> G through some other group X (a direct edge B -> G is fine) */
static int reach_indirect(fstate *st, int B, int G) {
    for (int e = st->ehead[B]; e >= 0; e = st->enext[e]) {
        int X = st->eto[e];
        if (X != G && X != B && reach(st, X, G)) return 1;
    }
    return 0;
}

/* merges flat group B into G (same domain, independent of each other) */
static void union_into(fstate *st, int G, int B) {
    const ir_graph *g = st->g;
    for (int i = 0; i < g->nnodes; i++)
        if (st->node_group[i] == B) st->node_group[i] = G;
    for (int v = 0; v < g->nvals; v++)
        if (st->owner[v] == B) st->owner[v] = G;
    for (int e = 0; e < st->nedges; e++)
        if (st->eto[e] == B) st->eto[e] = G;
    int e = st->ehead[B];
    while (e >= 0) { /* move B's out-edges to G */
        int nx = st->enext[e];
        st->enext[e] = st->ehead[G];
        st->ehead[G] = e;
        e = nx;
    }
    st->ehead[B] = -1;
    if (st->gr[B].first_node < st->gr[G].first_node) st->gr[G].first_node = st->gr[B].first_node;
    st->gr[G].nloads_est += st->gr[B].nloads_est;
    st->gr[B].dead = 1;
}

static void liveness(fstate *st) {
    const ir_graph *g = st->g;
    unsigned char *need = calloc((size_t)g->nvals + 1, 1);
    if (!need) abort();
    for (int i = 0; i < g->noutputs; i++) need[g->outputs[i]] = 1;
    for (int i = 0; i < g->nupdates; i++) need[g->updates[i].src] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const ir_node *n = &g->nodes[i];
        int any = 0;
        for (int k = 0; k < n->nout; k++) any |= need[n->out[k]];
        st->live[i] = (unsigned char)any;
        if (any)
            for (int k = 0; k < n->nin; k++) need[n->in[k]] = 1;
    }
    free(need);
}

/* inputs of n that group G would have to load (approximate: repeats count again) */
static int ext_inputs(const fstate *st, int G, const ir_node *n) {
    int c = 0;
    for (int k = 0; k < n->nin; k++)
        c += st->owner[n->in[k]] != G && !scalar_const(st->g, n->in[k]);
    return c;
}

static void partition(fstate *st) {
    const ir_graph *g = st->g;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        int cls = node_class(g, n), G = -1, lvl = LV_FULL;
        if (!st->live[i]) {
            st->node_group[i] = -1;
            continue;
        }
        if (cls == C_COUNTER) {
            G = new_group(st, g->vals[n->out[0]].shape, 0, i);
            st->gr[G].counter = 1;
            st->node_group[i] = G;
            assign(st, G, n, LV_FULL);
            continue;
        }
        if (cls == C_ELEM) {
            for (int k = n->nin - 1; k >= 0 && G < 0; k--) {
                int P = st->owner[n->in[k]];
                if (P < 0 || st->gr[P].first_node < 0 || st->gr[P].counter) continue; /* leaf or singleton */
                if (!same_side(st, P, i)) continue;
                if (st->gr[P].nloads_est + ext_inputs(st, P, n) > 40) continue;
                int l = elem_level_in(st, P, n);
                if (l >= 0) G = P, lvl = l;
            }
            if (G < 0) G = new_group(st, g->vals[n->out[0]].shape, 0, i), lvl = LV_FULL;
            st->gr[G].nloads_est += ext_inputs(st, G, n);
            /* n's edges first, so the union checks below see paths through n's inputs */
            st->node_group[i] = G;
            assign(st, G, n, lvl);
            /* n joined a flat group but also reads a full-level value of a reduction group over
             * the same domain (a BatchNorm gradient: gY from the ReLU-mask chain, xhat from its
             * own): the flat group moves into the reduction group, so gY is never stored */
            for (int k = 0; k < n->nin && lvl == LV_FULL && st->gr[G].nred == 0; k++) {
                int B = st->owner[n->in[k]];
                if (B < 0 || B == G || st->gr[B].first_node < 0 || st->gr[B].dead || st->gr[B].counter ||
                    !st->gr[B].nred || st->level[n->in[k]] != LV_FULL || !ir_shape_eq(&st->gr[B].dom, &st->gr[G].dom) ||
                    !same_side(st, B, i) || reach_indirect(st, B, G) ||
                    st->gr[G].nloads_est + st->gr[B].nloads_est > 40)
                    continue;
                union_into(st, B, G);
                G = B;
            }
            /* other flat groups feeding n with the same domain join too (e.g. the gradient sum of
             * two views and the optimizer update of that parameter) */
            for (int k = 0; k < n->nin && lvl == LV_FULL; k++) {
                int B = st->owner[n->in[k]];
                if (B < 0 || B == G || st->gr[B].first_node < 0 || st->gr[B].dead || st->gr[B].counter ||
                    st->gr[B].nred || !same_side(st, B, st->gr[G].first_node) ||
                    !ir_shape_eq(&st->gr[B].dom, &st->gr[G].dom) || reach(st, G, B) ||
                    reach_indirect(st, B, G) || st->gr[G].nloads_est + st->gr[B].nloads_est > 40)
                    continue;
                union_into(st, G, B);
            }
            continue;
        } else if (cls == C_RED) {
            int x = n->in[0], P = st->owner[x];
            unsigned m = (unsigned)red_mask(g, n);
            const ir_shape *xs = &g->vals[x].shape;
            if (P >= 0 && st->gr[P].first_node >= 0 && same_side(st, P, i) && st->level[x] == LV_FULL &&
                ir_shape_eq(&st->gr[P].dom, xs) &&
                (st->gr[P].nred == 0 || st->gr[P].redmask == m) && st->gr[P].nred < KIR_MAX_REDS)
                G = P;
            if (G < 0) G = new_group(st, *xs, m, i);
            st->gr[G].redmask = m;
            st->gr[G].nred++;
            lvl = LV_OUTER;
        } else if (cls == C_VIEW) {
            int x = n->in[0], P = st->owner[x];
            if (P >= 0 && st->gr[P].first_node >= 0 && st->level[x] == LV_OUTER) G = P, lvl = LV_OUTER;
            if (G < 0) G = new_group(st, g->vals[n->out[0]].shape, 0, -1 - i); /* singleton view */
        } else {
            G = new_group(st, g->vals[n->out[0]].shape, 0, -1 - i); /* singleton library step */
        }
        st->node_group[i] = G;
        assign(st, G, n, lvl);
    }
}

/* ---- materialization and kernel construction ---- */

typedef struct {
    fstate *st;
    unsigned char *stored; /* value must be written to memory */
    int *root;
} mstate;

static void mark_materialized(mstate *ms) {
    const ir_graph *g = ms->st->g;
    for (int i = 0; i < g->noutputs; i++) ms->stored[g->outputs[i]] = 1;
    for (int i = 0; i < g->nupdates; i++) ms->stored[g->updates[i].src] = 1;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        int G = ms->st->node_group[i];
        if (G < 0) continue;
        for (int k = 0; k < n->nin; k++) {
            int u = n->in[k], P = ms->st->owner[u];
            if (P >= 0 && P != G) ms->stored[u] = 1;
        }
    }
    /* views: storage of their source; a stored view forces its source to be stored */
    for (int v = 0; v < g->nvals; v++) ms->root[v] = g->vals[v].kind == VK_INTER ? -1 : v;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        int G = ms->st->node_group[i];
        if (G < 0) continue;
        int in_group = ms->st->gr[G].first_node >= 0;
        if (node_class(g, n) == C_VIEW && !in_group) {
            int src = n->in[0];
            ms->root[n->out[0]] = ms->root[src] >= 0 ? ms->root[src] : src;
            ms->stored[src] = 1;
            if (ms->root[src] < 0) ms->root[src] = src;
        } else {
            for (int k = 0; k < n->nout; k++)
                if (ms->stored[n->out[k]] || !in_group) ms->root[n->out[k]] = n->out[k];
        }
    }
    /* a view of a view: resolve to the final storage */
    for (int v = 0; v < g->nvals; v++) {
        int r = ms->root[v], guard = 0;
        while (r >= 0 && ms->root[r] != r && guard++ < 64) r = ms->root[r];
        ms->root[v] = r;
    }
}

typedef struct {
    kir *k;
    int *expr_of; /* value -> expr in this kernel, -1 */
    const ir_graph *g;
    const int *root;
    char *err;
    const int *node_group; /* the fusion groups, and the one this kernel is built from */
    int group;
} kbuild;

static int add_expr(kbuild *kb, kx_expr e) {
    if (kb->k->nexprs >= KIR_MAX_EXPRS) return -1;
    kb->k->exprs[kb->k->nexprs] = e;
    return kb->k->nexprs++;
}

/* expression for value u read at level lvl: inside the kernel, an inline constant or a load */
static int keepdims_of(const kir *k, const ir_shape *s) {
    if (s->ndim != k->dom.ndim) return 0;
    for (int d = 0; d < s->ndim; d++)
        if (s->d[d] != ((k->redmask >> d & 1) ? 1 : k->dom.d[d])) return 0;
    return 1;
}

static int operand(kbuild *kb, int u, int lvl) {
    const ir_graph *g = kb->g;
    if (kb->expr_of[u] >= 0) {
        /* an Expand in this kernel is its input's expression broadcast to the domain: whether
         * that expression can be reused depends on the input's shape, not the expanded one (an
         * outer-level load of a keepdims [1, D] read through Expand [N, D] at full level) */
        int p = g->vals[u].producer;
        if (p >= 0 && g->nodes[p].op == OP_Expand && kb->node_group[p] == kb->group) return operand(kb, g->nodes[p].in[0], lvl);
        const kx_expr *e = &kb->k->exprs[kb->expr_of[u]];
        /* an outer-indexed load is only right at full level when it broadcasts like keepdims */
        int reuse = !(lvl == LV_FULL && e->kind == KX_LOAD && e->level == LV_OUTER &&
                      ir_numel(&g->vals[u].shape) != 1 && !keepdims_of(kb->k, &g->vals[u].shape)) &&
                    !(lvl == LV_OUTER && e->level == LV_FULL);
        if (reuse) return kb->expr_of[u];
    }
    if (scalar_const(g, u)) {
        kx_expr e = {.kind = KX_CONST, .level = LV_OUTER, .c = *(const float *)g->vals[u].data};
        return kb->expr_of[u] = add_expr(kb, e);
    }
    kir *k = kb->k;
    if (k->nloads >= KIR_MAX_LOADS) return -1;
    k_load *ld = &k->loads[k->nloads];
    memset(ld, 0, sizeof *ld);
    ld->value = kb->root[u] >= 0 ? kb->root[u] : u;
    const ir_shape *us = &g->vals[u].shape;
    ld->scalar = ir_numel(us) == 1;
    if (ir_numel(us) == 1) {
        ld->level = LV_OUTER; /* scalar: index 0 */
        for (int d = 0; d < IR_MAX_DIMS; d++) ld->stride[d] = 0;
    } else if (lvl == LV_OUTER) {
        ld->level = LV_OUTER;
    } else {
        ld->level = LV_FULL;
        ir_bcast_strides(us, &k->dom, ld->stride);
    }
    kx_expr e = {.kind = KX_LOAD, .level = ld->level, .load = k->nloads++};
    int x = add_expr(kb, e);
    if (kb->expr_of[u] < 0) kb->expr_of[u] = x;
    return x;
}

static int build_kernel(kbuild *kb, fstate *st, int G, const unsigned char *stored) {
    const ir_graph *g = st->g;
    kir *k = kb->k;
    memset(k, 0, sizeof *k);
    k->dom = st->gr[G].dom;
    if (st->gr[G].counter) { /* S0 = L0 + by on int64 */
        for (int i = 0; i < g->nnodes; i++)
            if (st->node_group[i] == G) {
                const ir_node *n = &g->nodes[i];
                k->counter_by = ir_get_i(n, "by");
                k->nloads = k->nstores = 1;
                k->loads[0].value = kb->root[n->in[0]] >= 0 ? kb->root[n->in[0]] : n->in[0];
                k->stores[0].value = n->out[0];
            }
        (void)stored;
        return 0;
    }
    k->redmask = st->gr[G].nred ? st->gr[G].redmask : 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (st->node_group[i] != G) continue;
        const ir_node *n = &g->nodes[i];
        int cls = node_class(g, n), lvl = st->level[n->out[0]], e = -1;
        if (cls == C_VIEW || n->op == OP_Identity || n->op == OP_StopGradient || n->op == OP_Expand) {
            e = operand(kb, n->in[0], lvl);
        } else if (cls == C_RED) {
            int x = operand(kb, n->in[0], LV_FULL);
            if (x < 0 || k->nreds >= KIR_MAX_REDS) return -1;
            k_red *r = &k->reds[k->nreds];
            r->is_max = n->op == OP_ReduceMax;
            r->expr = x;
            kx_expr re = {.kind = KX_RED, .level = LV_OUTER, .red = k->nreds++};
            e = add_expr(kb, re);
        } else if (n->nin == 1) {
            int a = operand(kb, n->in[0], lvl);
            if (a < 0) return -1;
            kx_expr ue = {.kind = KX_UNARY, .level = lvl, .op = n->op, .a = a};
            e = add_expr(kb, ue);
        } else {
            int a = operand(kb, n->in[0], lvl), b = operand(kb, n->in[1], lvl);
            if (a < 0 || b < 0) return -1;
            kx_expr be = {.kind = KX_BINARY, .level = lvl, .op = n->op, .a = a, .b = b,
                          .ge = n->op == OP_Where0 ? (int)ir_get_i(n, "ge") : 0};
            e = add_expr(kb, be);
        }
        if (e < 0) return -1;
        kb->expr_of[n->out[0]] = e;
        if (stored[n->out[0]]) {
            if (k->nstores >= KIR_MAX_STORES) return -1;
            k->stores[k->nstores].value = n->out[0];
            k->stores[k->nstores].expr = e;
            k->nstores++;
        }
    }
    /* phases: a reduction runs after the reductions its input depends on */
    int *ph = calloc((size_t)k->nexprs + 1, sizeof(int)); /* max phase of reductions an expr depends on (+1) */
    if (!ph) return -1;
    k->nphases = 0;
    for (int x = 0; x < k->nexprs; x++) {
        const kx_expr *ex = &k->exprs[x];
        int p = 0;
        if (ex->kind == KX_UNARY) p = ph[ex->a];
        if (ex->kind == KX_BINARY) p = ph[ex->a] > ph[ex->b] ? ph[ex->a] : ph[ex->b];
        if (ex->kind == KX_RED) {
            k->reds[ex->red].phase = ph[k->reds[ex->red].expr];
            p = k->reds[ex->red].phase + 1;
            if (p > k->nphases) k->nphases = p;
        }
        ph[x] = p;
    }
    free(ph);
    return 0;
}

/* ---- steps in dependency order ---- */

static int group_key(const fstate *st, int G) {
    int f = st->gr[G].first_node;
    f = f >= 0 ? f : -1 - f;
    /* counters feed only updates: run them together at the end, where they fuse into one launch */
    return st->gr[G].counter ? st->g->nnodes + f : f;
}

static void heap_push(int *h, int *n, int G, const fstate *st) {
    int i = (*n)++;
    h[i] = G;
    while (i > 0 && group_key(st, h[(i - 1) / 2]) > group_key(st, h[i])) {
        int p = (i - 1) / 2, t = h[p];
        h[p] = h[i], h[i] = t, i = p;
    }
}

static int heap_pop(int *h, int *n, const fstate *st) {
    int top = h[0];
    h[0] = h[--(*n)];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && group_key(st, h[l]) < group_key(st, h[m])) m = l;
        if (r < *n && group_key(st, h[r]) < group_key(st, h[m])) m = r;
        if (m == i) break;
        int t = h[m];
        h[m] = h[i], h[i] = t, i = m;
    }
    return top;
}

static int topo_order(const fstate *st, int *order) {
    const ir_graph *g = st->g;
    int NG = st->ngroups, ne = 0;
    int *indeg = calloc((size_t)NG + 1, sizeof(int)), *head = malloc(((size_t)NG + 1) * sizeof(int));
    int *nxt = NULL, *to = NULL, *heap = malloc(((size_t)NG + 1) * sizeof(int));
    int cap = 16;
    for (int i = 0; i < g->nnodes; i++) cap += g->nodes[i].nin;
    nxt = malloc((size_t)cap * sizeof(int));
    to = malloc((size_t)cap * sizeof(int));
    int n = 0, nh = 0, nlive = 0; /* before the goto: `done` reads nlive */
    if (!indeg || !head || !nxt || !to || !heap) goto done;
    for (int G = 0; G < NG; G++) head[G] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *nd = &g->nodes[i];
        int G = st->node_group[i];
        if (G < 0) continue;
        for (int k = 0; k < nd->nin; k++) {
            int P = st->owner[nd->in[k]];
            if (P < 0 || P == G) continue;
            to[ne] = G, nxt[ne] = head[P], head[P] = ne++;
            indeg[G]++;
        }
    }
    for (int G = 0; G < NG; G++) {
        if (st->gr[G].dead) continue;
        nlive++;
        if (!indeg[G]) heap_push(heap, &nh, G, st);
    }
    while (nh > 0) {
        int G = heap_pop(heap, &nh, st);
        order[n++] = G;
        for (int e = head[G]; e >= 0; e = nxt[e])
            if (--indeg[to[e]] == 0) heap_push(heap, &nh, to[e], st);
    }
done:
    if (n != nlive && indeg && getenv("SSLC_FUSION_DEBUG"))
        for (int G = 0, shown = 0; G < NG && shown < 400; G++)
            if (!st->gr[G].dead && indeg[G] > 0) {
                fprintf(stderr, "stuck group %d first node %d (%s) nred %d counter %d indeg %d preds:", G, group_key(st, G),
                        ir_optable[g->nodes[group_key(st, G) % g->nnodes].op]->name, st->gr[G].nred, st->gr[G].counter, indeg[G]);
                for (int i = 0; i < g->nnodes; i++)
                    if (st->node_group[i] == G)
                        for (int k = 0; k < g->nodes[i].nin; k++) {
                            int P = st->owner[g->nodes[i].in[k]];
                            if (P >= 0 && P != G) fprintf(stderr, " %d(n%d %s)", P, i, ir_optable[g->nodes[i].op]->name);
                        }
                fprintf(stderr, "\n");
                shown++;
            }
    free(indeg), free(head), free(nxt), free(to), free(heap);
    return n == nlive ? n : -1;
}

int fuse(const ir_graph *g, fused_plan *fp, char *err) {
    memset(fp, 0, sizeof *fp);
    fp->g = g;
    fstate st;
    memset(&st, 0, sizeof st);
    st.g = g;
    st.cap = g->nnodes + 1;
    st.gr = calloc((size_t)st.cap, sizeof *st.gr);
    st.owner = malloc(((size_t)g->nvals + 1) * sizeof(int));
    st.level = calloc((size_t)g->nvals + 1, sizeof(int));
    st.node_group = malloc(((size_t)g->nnodes + 1) * sizeof(int));
    st.ehead = malloc(((size_t)st.cap + 1) * sizeof(int));
    st.mark = calloc((size_t)st.cap + 1, sizeof(int));
    st.stack = malloc(((size_t)st.cap + 1) * sizeof(int));
    mstate ms = {&st, calloc((size_t)g->nvals + 1, 1), malloc(((size_t)g->nvals + 1) * sizeof(int))};
    int *expr_of = malloc(((size_t)g->nvals + 1) * sizeof(int));
    int rc = -1;
    if (!st.gr || !st.owner || !st.level || !st.node_group || !st.ehead || !st.mark || !st.stack || !ms.stored || !ms.root || !expr_of) {
        snprintf(err, IR_ERRLEN, "fusion: out of memory");
        goto out;
    }
    for (int v = 0; v < g->nvals; v++) st.owner[v] = -1;
    st.live = calloc((size_t)g->nnodes + 1, 1);
    if (!st.live) {
        snprintf(err, IR_ERRLEN, "fusion: out of memory");
        goto out;
    }
    int loss = ir_forward_loss(g);
    st.boundary = loss >= 0 && g->vals[loss].kind == VK_INTER ? g->vals[loss].producer : g->nnodes;
    liveness(&st);
    partition(&st);
    mark_materialized(&ms);
    fp->steps = calloc((size_t)st.ngroups + 1, sizeof *fp->steps);
    fp->kernels = calloc((size_t)st.ngroups + 1, sizeof *fp->kernels);
    fp->root = ms.root;
    ms.root = NULL;
    if (!fp->steps || !fp->kernels) {
        snprintf(err, IR_ERRLEN, "fusion: out of memory");
        goto out;
    }
    /* Kahn's algorithm over the direct group edges, smallest first node first, so the order
     * stays close to the graph's */
    int *order = malloc(((size_t)st.ngroups + 1) * sizeof(int));
    int no = topo_order(&st, order);
    if (no < 0) {
        free(order);
        snprintf(err, IR_ERRLEN, "fusion: cyclic group dependencies");
        goto out;
    }
    for (int oi = 0; oi < no; oi++) {
        int G = order[oi];
        exec_step *s = &fp->steps[fp->nsteps];
        memset(s, 0, sizeof *s);
        for (int k = 0; k < EXEC_MAX_ARGS; k++) s->inplace[k] = -1;
        if (st.gr[G].first_node < 0) {
            int node = -1 - st.gr[G].first_node;
            const ir_node *n = &g->nodes[node];
            if (node_class(g, n) == C_VIEW) continue; /* no work: storage of its source */
            s->kind = STEP_NODE;
            s->node = node;
            s->nin = n->nin;
            for (int k = 0; k < n->nin; k++) s->in[k] = n->in[k];
            s->nout = n->nout;
            for (int k = 0; k < n->nout; k++) s->out[k] = n->out[k];
        } else {
            fkernel *fk = &fp->kernels[fp->nkernels];
            fk->nseg = 1;
            fk->seg = calloc(1, sizeof(kir));
            if (!fk->seg) {
                free(order);
                snprintf(err, IR_ERRLEN, "fusion: out of memory");
                goto out;
            }
            for (int v = 0; v < g->nvals; v++) expr_of[v] = -1;
            kbuild kb = {fk->seg, expr_of, g, fp->root, err, st.node_group, G};
            if (build_kernel(&kb, &st, G, ms.stored)) {
                free(order);
                snprintf(err, IR_ERRLEN, "fusion: group %d exceeds the kernel IR limits", G);
                goto out;
            }
            s->kind = STEP_KERNEL;
            s->kernel = fp->nkernels++;
            s->nin = fk->seg->nloads;
            for (int k = 0; k < s->nin; k++) s->in[k] = fk->seg->loads[k].value;
            s->nout = fk->seg->nstores;
            for (int k = 0; k < s->nout; k++) s->out[k] = fk->seg->stores[k].value;
        }
        fp->nsteps++;
    }
    free(order);
    rc = 0;
out:
    free(st.ehead), free(st.enext), free(st.eto), free(st.mark), free(st.stack);
    free(st.gr), free(st.owner), free(st.level), free(st.node_group), free(st.live);
    free(ms.stored), free(ms.root), free(expr_of);
    if (rc) fused_plan_free(fp);
    return rc;
}

void fused_plan_free(fused_plan *fp) {
    for (int i = 0; i < fp->nkernels; i++) free(fp->kernels[i].seg);
    free(fp->kernels);
    free(fp->steps);
    free(fp->root);
    memset(fp, 0, sizeof *fp);
}

/* ---- horizontal fusion ---- */

static int reads_any(const exec_step *s, const exec_step *run) {
    for (int i = 0; i < s->nin; i++)
        for (int j = 0; j < run->nout; j++)
            if (s->in[i] == run->out[j]) return 1;
    return 0;
}

/* A kernel that only writes bf16 copies of intermediates (--precision bf16: the cast of an
 * activation, in the backward pass, for a product). The schedule must be free to run it right
 * before its product; merged with independent neighbours it would run with them and keep the bf16
 * copy, and the float32 value it reads, alive in between (BYOL's arena grew from 226 to 294 MiB). */
static int casts_activation(const fused_plan *fp, const exec_step *st) {
    int reads_inter = 0;
    for (int i = 0; i < st->nin; i++) reads_inter |= fp->g->vals[st->in[i]].kind == VK_INTER;
    for (int k = 0; k < st->nout; k++)
        if (fp->g->vals[st->out[k]].dtype != DT_BF16) return 0;
    return reads_inter && st->nout > 0;
}

int fuse_horizontal(fused_plan *fp) {
    int run = -1, saved = 0, nsteps = 0;
    for (int s = 0; s < fp->nsteps; s++) {
        exec_step *st = &fp->steps[s];
        int flat = st->kind == STEP_KERNEL && fp->kernels[st->kernel].nseg == 1 &&
                   !fp->kernels[st->kernel].seg[0].redmask && !casts_activation(fp, st);
        if (flat && run >= 0) {
            exec_step *r = &fp->steps[run];
            fkernel *rk = &fp->kernels[r->kernel], *sk = &fp->kernels[st->kernel];
            if (!reads_any(st, r) && r->nin + st->nin <= EXEC_MAX_ARGS && r->nout + st->nout <= EXEC_MAX_ARGS &&
                rk->nseg < 64) {
                kir *ns = realloc(rk->seg, (size_t)(rk->nseg + 1) * sizeof(kir));
                if (ns) {
                    rk->seg = ns;
                    rk->seg[rk->nseg++] = sk->seg[0];
                    free(sk->seg);
                    sk->seg = NULL;
                    sk->nseg = 0;
                    /* the launch's argument list is every segment's loads then stores, in order;
                     * keep in/out as the union for scheduling and memory planning */
                    for (int i = 0; i < st->nin; i++) r->in[r->nin++] = st->in[i];
                    for (int i = 0; i < st->nout; i++) r->out[r->nout++] = st->out[i];
                    saved++;
                    continue;
                }
            }
        }
        fp->steps[nsteps] = *st;
        run = flat ? nsteps : -1;
        nsteps++;
    }
    fp->nsteps = nsteps;
    /* compact the kernel table */
    int nk = 0;
    for (int k = 0; k < fp->nkernels; k++) {
        if (!fp->kernels[k].nseg) continue;
        for (int s = 0; s < fp->nsteps; s++)
            if (fp->steps[s].kind == STEP_KERNEL && fp->steps[s].kernel == k) fp->steps[s].kernel = nk;
        fp->kernels[nk++] = fp->kernels[k];
    }
    fp->nkernels = nk;
    return saved;
}
