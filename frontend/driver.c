#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/autodiff.h"
#include "../passes/data_parallel.h"
#include "../passes/mixed_precision.h"

/* the method graph, with the augmentation in front of it unless augment is "none" */
static int build_forward(const compile_args *a, ir_graph *g, char *err) {
    if (!a->augment[0] || !strcmp(a->augment, "none")) return method_build(a->method, &a->spec, g, err);
    const aug_recipe *r = aug_recipe_find(a->augment);
    if (!r) {
        snprintf(err, IR_ERRLEN, "unknown augmentation recipe '%s' (choose one of: %s, or none)", a->augment,
                 aug_recipe_choices());
        return -1;
    }
    ir_graph m;
    ir_graph_init(&m);
    int loss = method_build(a->method, &a->spec, &m, err);
    int *map = loss >= 0 ? malloc((size_t)m.nvals * sizeof *map) : NULL;
    if (loss >= 0 && !map) snprintf(err, IR_ERRLEN, "out of memory");
    int64_t size = a->spec.backbone.image_size;
    int64_t sh = a->source_h ? a->source_h : size, sw = a->source_w ? a->source_w : size;
    if (map && aug_attach(g, &m, r, sh, sw, size, &a->norm, map, err) == 0)
        loss = map[loss];
    else
        loss = -1;
    free(map);
    ir_graph_free(&m);
    return loss;
}

/* SSLC_DP_OVERLAP: 1 (default) splits each gradient bucket's AllReduce into a start and a wait
 * the scheduler spreads over the backward pass; 0 keeps one blocking AllReduce per bucket (the
 * same sums: the test compares the two bit for bit) */
static int dp_overlap(int *on, char *err) {
    const char *s = getenv("SSLC_DP_OVERLAP");
    *on = 1;
    if (!s) return 0;
    if (strcmp(s, "0") && strcmp(s, "1")) {
        snprintf(err, IR_ERRLEN, "SSLC_DP_OVERLAP=%.40s: set it to 1 (overlap gradient buckets, the default) or 0", s);
        return -1;
    }
    *on = s[0] == '1';
    return 0;
}

int driver_build_train(const compile_args *a, ir_graph *g, char *err) {
    int overlap;
    if (dp_overlap(&overlap, err)) return -1;
    int loss = build_forward(a, g, err);
    if (loss < 0) return -1;
    int *params = NULL;
    int np = ir_trainable_params(g, &params);
    if (np < 0) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    int *grads = calloc((size_t)np + 1, sizeof(int)), *cur = NULL;
    int rc = -1;
    if (!grads) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto out;
    }
    if (autodiff(g, loss, params, np, grads)) {
        snprintf(err, IR_ERRLEN, "autodiff of %s: %.400s", a->method->name, g->err);
        goto out;
    }
    int nbuckets = 0;
    if (dp_allreduce_grads(g, &loss, grads, np, a->spec.ranks, DP_BUCKET_ELEMS_DEFAULT, overlap, &nbuckets)) {
        snprintf(err, IR_ERRLEN, "data-parallel pass: %.400s", g->err);
        goto out;
    }
    ir_add_output(g, loss);
    for (int i = 0; i < np; i++) ir_add_output(g, grads[i]);
    /* A method's update of a trainable parameter (method_param_current) gives its value for the
     * step: the optimizer steps from it. With a gradient the optimizer's update replaces it;
     * without one it stays. */
    cur = malloc(((size_t)np + 1) * sizeof(int));
    if (!cur) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto out;
    }
    for (int i = 0; i < np; i++) {
        cur[i] = -1;
        for (int u = 0; u < g->nupdates; u++)
            if (g->updates[u].dst == params[i] && grads[i] >= 0) {
                cur[i] = g->updates[u].src;
                memmove(&g->updates[u], &g->updates[u + 1], (size_t)(--g->nupdates - u) * sizeof *g->updates);
                break;
            }
    }
    if (optimizer_append_cur(g, &a->opt, params, cur, grads, np)) {
        snprintf(err, IR_ERRLEN, "optimizer: %.400s", g->err);
        goto out;
    }
    rc = 0;
out:
    free(params);
    free(grads);
    free(cur);
    return rc;
}

int driver_bf16(ir_graph *g, char *err) {
    ir_graph out;
    if (bf16_graph(g, 0, &out, NULL, err)) {
        ir_graph_free(&out);
        return -1;
    }
    ir_graph_free(g);
    *g = out;
    return 0;
}
