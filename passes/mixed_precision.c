#include "mixed_precision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"
#include "rewrite.h"

/* Which products are layers (bf16) and which belong to a loss (float32). Every convolution is
 * a layer. A MatMul / Gemm is a layer when it multiplies by a trainable parameter (a linear
 * layer forward, or its input gradient), or when it computes a parameter's gradient (its result
 * reaches a graph output grad.* through sums, reshapes and transposes only). The others multiply
 * two activations — the similarity matrices of SimCLR / MoCo / SupCon, Barlow Twins' cross-
 * correlation, the queue logits — and stay float32 with the rest of the loss. */
static int is_copy_like(int op) {
    return op == OP_Add || op == OP_Identity || op == OP_Reshape || op == OP_Flatten || op == OP_Transpose;
}

/* feeds[v]: value v reaches a parameter gradient output through copy-like nodes only */
static unsigned char *gradient_feeders(const ir_graph *g) {
    unsigned char *feeds = calloc((size_t)g->nvals + 1, 1);
    if (!feeds) return NULL;
    for (int o = 0; o < g->noutputs; o++) {
        const char *nm = g->vals[g->outputs[o]].name;
        if (nm && !strncmp(nm, "grad.", 5)) feeds[g->outputs[o]] = 1;
    }
    for (int i = g->nnodes - 1; i >= 0; i--) { /* nodes are in topological order */
        const ir_node *n = &g->nodes[i];
        if (!is_copy_like(n->op) || !feeds[n->out[0]]) continue;
        for (int k = 0; k < n->nin; k++) feeds[n->in[k]] = 1;
    }
    return feeds;
}

static int is_layer_product(const ir_graph *g, const ir_node *n, const unsigned char *feeds) {
    switch (n->op) {
    case OP_Conv:
    case OP_ConvGradInput:
    case OP_ConvGradWeight: return 1;
    case OP_MatMul:
    case OP_Gemm:
        for (int k = 0; k < 2; k++)
            if (g->vals[n->in[k]].kind == VK_PARAM && !(g->vals[n->in[k]].flags & VF_FROZEN)) return 1;
        return feeds[n->out[0]];
    default: return 0;
    }
}

int bf16_graph(const ir_graph *in, int share_activations, ir_graph *out, bf16_stats *st, char *err) {
    ir_graph_init(out);
    bf16_stats s = {0, 0};
    int loss = ir_forward_loss(in);
    int boundary = loss >= 0 ? in->vals[loss].producer : -1;
    size_t nv = (size_t)in->nvals + 1;
    /* map: old id -> new id; cast[side][new id]: the bf16 copy made on that side, or -1 */
    int *map = malloc(nv * sizeof *map), *cast[2] = {NULL, NULL};
    unsigned char *feeds = gradient_feeders(in);
    size_t cap = nv * 2 + 64; /* new ids: every old value plus at most two casts per node */
    for (int i = 0; i < in->nnodes; i++) cap += 2;
    cast[0] = malloc(cap * sizeof(int));
    cast[1] = malloc(cap * sizeof(int));
    if (!map || !cast[0] || !cast[1] || !feeds) {
        free(map), free(cast[0]), free(cast[1]), free(feeds);
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cap; i++) cast[0][i] = cast[1][i] = -1;
    for (int v = 0; v < in->nvals; v++) map[v] = in->vals[v].kind == VK_INTER ? -1 : rw_copy_leaf(in, v, out);
    for (int i = 0; i < in->nnodes && !out->failed; i++) {
        const ir_node *n = &in->nodes[i];
        int nops = is_layer_product(in, n, feeds) ? 2 : 0; /* the two multiplied operands, not a bias */
        int side = boundary < 0 || i <= boundary ? 0 : 1;
        int saved[2] = {-1, -1};
        for (int k = 0; k < nops && k < n->nin; k++) {
            int v = map[n->in[k]];
            if (v < 0 || out->vals[v].dtype != DT_F32) continue;
            /* parameters too get one copy per side: a copy shared by both sides would keep every
             * layer's bf16 weights alive through the loss, where the peak often is */
            int sd = share_activations && in->vals[n->in[k]].kind != VK_PARAM ? 0 : side;
            if ((size_t)v >= cap) {
                ir_fail(out, "bf16: value table overflow");
                break;
            }
            if (cast[sd][v] < 0) {
                cast[sd][v] = ir_cast(out, v, DT_BF16);
                s.casts++;
            }
            saved[k] = v;
            map[n->in[k]] = cast[sd][v];
        }
        if (nops && (saved[0] >= 0 || saved[1] >= 0)) s.products++;
        rw_copy_node(in, n, map, out);
        for (int k = 0; k < 2; k++) /* other readers of the operand keep the float32 value */
            if (saved[k] >= 0) map[n->in[k]] = saved[k];
    }
    int rc = out->failed ? -1 : rw_finish(in, map, out);
    if (rc) snprintf(err, IR_ERRLEN, "bf16 mixed precision: %.400s", out->err);
    free(map), free(cast[0]), free(cast[1]), free(feeds);
    if (st) *st = s;
    return rc;
}

int bf16_strip(const ir_graph *in, ir_graph *out, char *err) {
    ir_graph_init(out);
    int *map = malloc(((size_t)in->nvals + 1) * sizeof *map);
    if (!map) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int v = 0; v < in->nvals; v++) map[v] = in->vals[v].kind == VK_INTER ? -1 : rw_copy_leaf(in, v, out);
    for (int i = 0; i < in->nnodes && !out->failed; i++) {
        const ir_node *n = &in->nodes[i];
        if (n->op == OP_Cast && in->vals[n->out[0]].dtype == DT_BF16)
            map[n->out[0]] = map[n->in[0]];
        else
            rw_copy_node(in, n, map, out);
    }
    int rc = out->failed ? -1 : rw_finish(in, map, out);
    if (rc) snprintf(err, IR_ERRLEN, "the float32 twin of a bf16 graph: %.400s", out->err);
    free(map);
    return rc;
}
