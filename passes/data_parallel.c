/* The data-parallel pass (data_parallel.h). */
#include "data_parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"

int dp_graph_ranks(const ir_graph *g) {
    int ranks = 1, seen = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (!(ir_optable[g->nodes[i].op]->flags & OPF_COLLECTIVE)) continue;
        int r = (int)ir_get_i(&g->nodes[i], "ranks");
        if (seen && r != ranks) return -1;
        ranks = r, seen = 1;
    }
    return ranks;
}

typedef struct {
    int param, grad, prod;
} grad_slot;

static int by_producer(const void *a, const void *b) {
    const grad_slot *x = a, *y = b;
    return (x->prod > y->prod) - (x->prod < y->prod);
}

static void rename_local(ir_graph *g, int v) {
    char name[420];
    snprintf(name, sizeof name, "%s.local", g->vals[v].name ? g->vals[v].name : "?");
    ir_set_name(g, v, name);
}

int dp_allreduce_grads(ir_graph *g, int *loss, int *grads, int np, int ranks, int64_t bucket_elems, int overlap,
                       int *nbuckets) {
    *nbuckets = 0;
    if (ranks <= 1) return 0;
    if (bucket_elems < 1) bucket_elems = DP_BUCKET_ELEMS_DEFAULT;
    int *prod = malloc((size_t)g->nvals * sizeof *prod);
    grad_slot *s = malloc(((size_t)np + 1) * sizeof *s);
    if (!prod || !s) {
        free(prod), free(s);
        return ir_fail(g, "data-parallel pass: out of memory");
    }
    for (int v = 0; v < g->nvals; v++) prod[v] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nout; k++) prod[g->nodes[i].out[k]] = i;
    int ns = 0;
    for (int i = 0; i < np; i++)
        if (grads[i] >= 0) s[ns++] = (grad_slot){i, grads[i], prod[grads[i]]};
    qsort(s, (size_t)ns, sizeof *s, by_producer);
    for (int b0 = 0; b0 < ns && !g->failed;) {
        int b1 = b0;
        int64_t elems = 0;
        while (b1 < ns && b1 - b0 < IR_MAX_IN && (b1 == b0 || elems < bucket_elems))
            elems += ir_numel(&g->vals[s[b1++].grad].shape);
        int flat[IR_MAX_IN];
        for (int k = b0; k < b1; k++) flat[k - b0] = ir_reshape(g, s[k].grad, IR_SHAPE(ir_numel(&g->vals[s[k].grad].shape)));
        int cat = b1 - b0 == 1 ? flat[0] : ir_concat(g, flat, b1 - b0, 0);
        char bname[48];
        int red = cat;
        if (overlap) {
            /* the buffer in flight between start and wait: dp.bucket.k.sending */
            int started = ir_all_reduce_start(g, cat, ranks);
            snprintf(bname, sizeof bname, "dp.bucket.%d.sending", *nbuckets);
            if (started >= 0) ir_set_name(g, started, bname);
            red = ir_all_reduce_wait(g, started, ranks, 1);
        } else
            red = ir_all_reduce(g, cat, ranks, 1);
        snprintf(bname, sizeof bname, "dp.bucket.%d", *nbuckets);
        if (red >= 0) ir_set_name(g, red, bname);
        int64_t off = 0;
        for (int k = b0; k < b1 && !g->failed; k++) {
            ir_shape shp = g->vals[s[k].grad].shape;
            int64_t n = ir_numel(&shp);
            int r = ir_reshape(g, b1 - b0 == 1 ? red : ir_slice(g, red, 0, off, off + n), shp);
            off += n;
            if (r < 0) break;
            const char *name = g->vals[s[k].grad].name;
            char keep[400];
            snprintf(keep, sizeof keep, "%s", name ? name : "");
            rename_local(g, s[k].grad);
            if (keep[0]) ir_set_name(g, r, keep);
            grads[s[k].param] = r;
        }
        (*nbuckets)++;
        b0 = b1;
    }
    free(prod), free(s);
    if (g->failed) return -1;
    /* the reported loss: the mean over ranks, the global batch's loss (no gradient flows back) */
    int lg = ir_all_reduce(g, ir_stop_gradient(g, *loss), ranks, 1);
    if (lg < 0) return -1;
    char lname[400];
    snprintf(lname, sizeof lname, "%s", g->vals[*loss].name ? g->vals[*loss].name : "loss");
    rename_local(g, *loss);
    ir_set_name(g, lg, lname);
    *loss = lg;
    return 0;
}
