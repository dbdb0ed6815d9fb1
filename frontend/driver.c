#include "driver.h"

#include <stdio.h>
#include <stdlib.h>

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
    int *grads = calloc((size_t)np + 1, sizeof(int));
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
    if (optimizer_append(g, &a->opt, params, grads, np)) {
        snprintf(err, IR_ERRLEN, "optimizer: %.400s", g->err);
        goto out;
    }
    rc = 0;
out:
    free(params);
    free(grads);
    return rc;
}
