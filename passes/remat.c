#include "remat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

/* below this many elements keeping a value costs less than recomputing it */
#define REMAT_MIN_NUMEL (1 << 14)
/* a chain longer than this, or reading more large anchors, costs more than it saves */
#define REMAT_MAX_NODES 32
#define REMAT_MAX_BIG 3

typedef struct {
    const ir_graph *g;
    int loss_node;
    int *late;            /* late[v]: readers after the loss node (+1 if an output or update) */
    unsigned char *remat; /* remat[v]: v is recomputed for its backward readers */
    int *vmark, stamp;
    int nodes[REMAT_MAX_NODES + 1], nn; /* the chain being gathered */
} rstate;

static int is_elem(const ir_graph *g, int node) {
    const ir_node *n = &g->nodes[node];
    if (n->nout != 1 || (!(ir_optable[n->op]->flags & OPF_ELEMENTWISE) && n->op != OP_Expand)) return 0;
    for (int k = 0; k < n->nin; k++)
        if (g->vals[n->in[k]].dtype != DT_F32) return 0;
    return g->vals[n->out[0]].dtype == DT_F32;
}

static int pinned(const rstate *s, int v) { return !s->remat[v] && s->late[v] > 0; }

/* The elementwise chain that recomputes y (nodes in s->nodes), or -1 when y has none within the
 * limits: every large input it reads must be one the backward pass keeps anyway. */
static int gather(rstate *s, int y) {
    const ir_graph *g = s->g;
    int64_t ny = ir_numel(&g->vals[y].shape);
    int stack[REMAT_MAX_NODES + 1], sp = 0, nbig = 0;
    s->stamp++;
    s->nn = 0;
    stack[sp++] = y;
    s->vmark[y] = s->stamp;
    while (sp) {
        int p = g->vals[stack[--sp]].producer;
        if (s->nn == REMAT_MAX_NODES) return -1;
        s->nodes[s->nn++] = p;
        const ir_node *n = &g->nodes[p];
        for (int k = 0; k < n->nin; k++) {
            int w = n->in[k];
            if (s->vmark[w] == s->stamp || g->vals[w].kind != VK_INTER) continue; /* leaves are resident */
            int q = g->vals[w].producer, big = ir_numel(&g->vals[w].shape) * 8 > ny;
            int chain = s->remat[w] || (is_elem(g, q) && big && !pinned(s, w));
            s->vmark[w] = s->stamp;
            if (chain) {
                if (sp == REMAT_MAX_NODES) return -1;
                stack[sp++] = w;
            } else if (big && (!pinned(s, w) || ++nbig > REMAT_MAX_BIG)) {
                return -1;
            }
        }
    }
    return 0;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* emits the chain of y (gathered again: the decisions it depends on are all made) into out and
 * points map[y] at the copy */
static int emit_chain(rstate *s, int y, int *map, int *cm, ir_graph *out, remat_stats *st) {
    const ir_graph *g = s->g;
    if (gather(s, y)) return ir_fail(out, "remat: the chain of a value changed while emitting it");
    qsort(s->nodes, (size_t)s->nn, sizeof(int), cmp_int);
    for (int c = 0; c < s->nn; c++) {
        const ir_node *n = &g->nodes[s->nodes[c]];
        int in[IR_MAX_IN];
        for (int k = 0; k < n->nin; k++) in[k] = cm[n->in[k]] >= 0 ? cm[n->in[k]] : map[n->in[k]];
        int node = ir_node_new(out, n->op, in, n->nin);
        if (node < 0) return -1;
        memcpy(out->nodes[node].attr, n->attr, sizeof n->attr);
        int o = ir_node_finish(out, node);
        if (o < 0) return -1;
        cm[n->out[0]] = o;
    }
    map[y] = cm[y];
    for (int c = 0; c < s->nn; c++) cm[g->nodes[s->nodes[c]].out[0]] = -1;
    if (st) st->values++, st->nodes += s->nn, st->bytes += ir_numel(&g->vals[y].shape) * (int64_t)sizeof(float);
    return 0;
}

int remat_graph(const ir_graph *in, ir_graph *out, remat_stats *st, char *err) {
    const ir_graph *g = in;
    ir_graph_init(out);
    if (st) memset(st, 0, sizeof *st);
    rstate s = {.g = g, .loss_node = -1};
    int loss = ir_forward_loss(g);
    if (loss >= 0 && g->vals[loss].kind == VK_INTER) s.loss_node = g->vals[loss].producer;
    size_t nv = (size_t)g->nvals + 1;
    int *map = malloc(nv * sizeof(int)), *cm = malloc(nv * sizeof(int));
    unsigned char *emitted = calloc(nv, 1);
    s.late = calloc(nv, sizeof(int)), s.remat = calloc(nv, 1), s.vmark = calloc(nv, sizeof(int));
    int rc = -1;
    if (!map || !cm || !emitted || !s.late || !s.remat || !s.vmark) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto done;
    }
    for (int i = s.loss_node + 1; s.loss_node >= 0 && i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) s.late[g->nodes[i].in[k]]++;
    for (int i = 0; i < g->noutputs; i++) s.late[g->outputs[i]]++;
    for (int i = 0; i < g->nupdates; i++) s.late[g->updates[i].src]++;
    /* candidates in forward order: a chain only reads values decided before it */
    for (int i = 0; i < s.loss_node; i++) {
        int y = g->nodes[i].out[0];
        if (!is_elem(g, i) || ir_numel(&g->vals[y].shape) < REMAT_MIN_NUMEL || s.late[y] == 0) continue;
        int is_out = 0;
        for (int k = 0; k < g->noutputs; k++) is_out |= g->outputs[k] == y;
        for (int k = 0; k < g->nupdates; k++) is_out |= g->updates[k].src == y;
        if (!is_out && gather(&s, y) == 0) s.remat[y] = 1;
    }
    for (int v = 0; v < g->nvals; v++) {
        cm[v] = -1;
        map[v] = g->vals[v].kind == VK_INTER ? -1 : rw_copy_leaf(g, v, out);
    }
    for (int i = 0; i < g->nnodes && !out->failed; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; i > s.loss_node && k < n->nin && !out->failed; k++) {
            int y = n->in[k];
            if (s.remat[y] && !emitted[y]) emitted[y] = 1, emit_chain(&s, y, map, cm, out, st);
        }
        if (!out->failed) rw_copy_node(g, n, map, out);
    }
    rc = out->failed ? -1 : rw_finish(g, map, out);
    if (rc) snprintf(err, IR_ERRLEN, "rematerialization: %.400s", out->err);
done:
    free(map), free(cm), free(emitted), free(s.late), free(s.remat), free(s.vmark);
    return rc;
}
