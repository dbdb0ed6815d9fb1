#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/autodiff.h"

int driver_build_train(const compile_args *a, ir_graph *g, char *err) {
    int loss = method_build(a->method, &a->spec, g, err);
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
