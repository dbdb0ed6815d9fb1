/* Reverse-mode autodiff over the op table's gradient rules. */
#include "autodiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"

int ir_trainable_params(const ir_graph *g, int **out) {
    int n = 0;
    int *p = malloc(((size_t)g->nvals + 1) * sizeof(int));
    if (!p) return -1;
    for (int v = 0; v < g->nvals; v++)
        if (g->vals[v].kind == VK_PARAM && !(g->vals[v].flags & VF_FROZEN)) p[n++] = v;
    *out = p;
    return n;
}

static int ones_like(ir_graph *g, int v) {
    ir_shape s = g->vals[v].shape;
    int64_t n = ir_numel(&s);
    float *one = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!one) return ir_fail(g, "out of memory");
    for (int64_t i = 0; i < n; i++) one[i] = 1.0f;
    int c = ir_const(g, DT_F32, s, one);
    free(one);
    return c;
}

int autodiff(ir_graph *g, int loss, const int *params, int nparams, int *grads) {
    if (g->failed) return -1;
    if (loss < 0 || loss >= g->nvals) return ir_fail(g, "autodiff: invalid loss value");
    if (!ir_dtype_is_float(g->vals[loss].dtype)) return ir_fail(g, "autodiff: the loss is not a float tensor");
    g->vals[loss].flags |= VF_FORWARD_LOSS;
    int nfwd = g->nnodes, nv = g->nvals;
    unsigned char *req = calloc((size_t)nv, 1), *need = calloc((size_t)nv, 1);
    int *gacc = malloc((size_t)nv * sizeof(int));
    if (!req || !need || !gacc) {
        free(req), free(need), free(gacc);
        return ir_fail(g, "out of memory in autodiff");
    }
    for (int v = 0; v < nv; v++) gacc[v] = -1;
    for (int i = 0; i < nparams; i++) req[params[i]] = 1;
    for (int i = 0; i < nfwd; i++) {
        const ir_node *n = &g->nodes[i];
        unsigned fl = ir_optable[n->op]->flags;
        int any = 0;
        if (!(fl & (OPF_STOP | OPF_NO_GRAD)))
            for (int k = 0; k < n->nin; k++) any |= req[n->in[k]];
        for (int k = 0; k < n->nout; k++) req[n->out[k]] = (unsigned char)any;
    }
    need[loss] = 1;
    for (int i = nfwd - 1; i >= 0; i--) {
        const ir_node *n = &g->nodes[i];
        int any = 0;
        for (int k = 0; k < n->nout; k++) any |= need[n->out[k]];
        if (any)
            for (int k = 0; k < n->nin; k++) need[n->in[k]] |= req[n->in[k]];
    }
    int rc = 0;
    if (req[loss]) gacc[loss] = ones_like(g, loss);
    for (int i = nfwd - 1; i >= 0 && !g->failed; i--) {
        ir_node n = g->nodes[i]; /* copy: gradient rules grow g->nodes */
        const ir_opdef *def = ir_optable[n.op];
        int gy[IR_MAX_OUT], want[IR_MAX_IN], gx[IR_MAX_IN], anyy = 0, anyw = 0;
        for (int k = 0; k < n.nout; k++) anyy |= (gy[k] = gacc[n.out[k]]) >= 0;
        for (int k = 0; k < n.nin; k++) {
            anyw |= want[k] = req[n.in[k]] && need[n.in[k]];
            gx[k] = -1;
        }
        if (!anyy || !anyw || (def->flags & (OPF_STOP | OPF_NO_GRAD))) continue;
        if (!def->grad) {
            rc = ir_fail(g, "autodiff: op %s has no gradient rule", def->name);
            break;
        }
        if (def->grad(g, i, gy, want, gx) != 0 || g->failed) {
            rc = ir_fail(g, "autodiff: gradient rule of %s failed", def->name);
            break;
        }
        for (int k = 0; k < n.nin; k++) {
            if (!want[k] || gx[k] < 0) continue;
            int x = n.in[k];
            if (!ir_shape_eq(&g->vals[gx[k]].shape, &g->vals[x].shape)) {
                char a[96], b[96];
                ir_shape_str(&g->vals[gx[k]].shape, a, sizeof a);
                ir_shape_str(&g->vals[x].shape, b, sizeof b);
                rc = ir_fail(g, "autodiff: %s gradient for input %d has shape %s, input is %s", def->name, k, a, b);
                break;
            }
            gacc[x] = gacc[x] < 0 ? gx[k] : ir_add(g, gacc[x], gx[k]);
        }
    }
    for (int i = 0; i < nparams && !g->failed; i++) {
        int gv = gacc[params[i]];
        if (gv >= 0 && (g->vals[gv].kind != VK_INTER || g->vals[gv].name)) gv = ir_identity(g, gv);
        grads[i] = gv;
        if (gv >= 0) {
            char name[400];
            snprintf(name, sizeof name, "grad.%s", g->vals[params[i]].name ? g->vals[params[i]].name : "?");
            ir_set_name(g, gv, name);
        }
    }
    free(req), free(need), free(gacc);
    return g->failed ? -1 : rc;
}
