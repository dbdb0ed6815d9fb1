/* The trivial (unfused) step list and step-list validation. */
#include "steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t exec_value_bytes(const ir_graph *g, int v) {
    return ir_numel(&g->vals[v].shape) * (int64_t)ir_dtype_size(g->vals[v].dtype);
}

int exec_steps_unfused(const ir_graph *g, exec_step **steps, int *nsteps, char *err) {
    *steps = NULL;
    *nsteps = 0;
    int *last = malloc(((size_t)g->nvals + 1) * sizeof(int));
    exec_step *s = calloc((size_t)g->nnodes + 1, sizeof(exec_step));
    if (!last || !s) {
        free(last), free(s);
        snprintf(err, IR_ERRLEN, "out of memory building the step list");
        return -1;
    }
    for (int v = 0; v < g->nvals; v++) last[v] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) last[g->nodes[i].in[k]] = i;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        exec_step *st = &s[i];
        st->kind = STEP_NODE;
        st->node = i;
        st->kernel = -1;
        st->nin = n->nin;
        st->nout = n->nout;
        memcpy(st->in, n->in, sizeof(int) * (size_t)n->nin);
        memcpy(st->out, n->out, sizeof(int) * (size_t)n->nout);
        for (int k = 0; k < EXEC_MAX_ARGS; k++) st->inplace[k] = -1;
        if (!(ir_optable[n->op]->flags & OPF_ELEMENTWISE)) continue;
        const ir_value *y = &g->vals[n->out[0]];
        int best = -1;
        for (int k = 0; k < n->nin; k++) {
            const ir_value *x = &g->vals[n->in[k]];
            if (x->kind != VK_INTER || x->dtype != y->dtype || !ir_shape_eq(&x->shape, &y->shape)) continue;
            if (best < 0 || (last[n->in[k]] == i && last[n->in[best]] != i)) best = k;
        }
        st->inplace[0] = best;
    }
    free(last);
    *steps = s;
    *nsteps = g->nnodes;
    return 0;
}

int exec_steps_validate(const ir_graph *g, const exec_step *steps, int nsteps, char *err) {
    int *writer = malloc(((size_t)g->nvals + 1) * sizeof(int));
    if (!writer) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    int rc = -1;
    for (int v = 0; v < g->nvals; v++) writer[v] = -1;
    for (int s = 0; s < nsteps; s++) {
        const exec_step *st = &steps[s];
        if (st->nin < 0 || st->nin > EXEC_MAX_ARGS || st->nout < 0 || st->nout > EXEC_MAX_ARGS) {
            snprintf(err, IR_ERRLEN, "step %d: %d inputs, %d outputs (at most %d each)", s, st->nin, st->nout,
                     EXEC_MAX_ARGS);
            goto out;
        }
        if (st->kind == STEP_NODE && (st->node < 0 || st->node >= g->nnodes)) {
            snprintf(err, IR_ERRLEN, "step %d: node %d out of range", s, st->node);
            goto out;
        }
        for (int k = 0; k < st->nin; k++)
            if (st->in[k] < 0 || st->in[k] >= g->nvals) {
                snprintf(err, IR_ERRLEN, "step %d: input %d is value %d, out of range", s, k, st->in[k]);
                goto out;
            }
        for (int k = 0; k < st->nout; k++) {
            int v = st->out[k];
            if (v < 0 || v >= g->nvals) {
                snprintf(err, IR_ERRLEN, "step %d: output %d is value %d, out of range", s, k, v);
                goto out;
            }
            if (g->vals[v].kind != VK_INTER) {
                snprintf(err, IR_ERRLEN, "step %d writes %s value %%%d", s, ir_kind_name(g->vals[v].kind), v);
                goto out;
            }
            if (writer[v] >= 0) {
                snprintf(err, IR_ERRLEN, "value %%%d written by steps %d and %d", v, writer[v], s);
                goto out;
            }
            writer[v] = s;
            int j = st->inplace[k];
            if (j >= st->nin || j < -1 || (j >= 0 && exec_value_bytes(g, st->in[j]) != exec_value_bytes(g, v))) {
                snprintf(err, IR_ERRLEN, "step %d: output %d in place over input %d: invalid index or size", s, k, j);
                goto out;
            }
        }
        if (st->kind == STEP_NODE) {
            const ir_node *n = &g->nodes[st->node];
            for (int k = 0; k < n->nout; k++) {
                int found = 0;
                for (int j = 0; j < st->nout; j++) found |= st->out[j] == n->out[k];
                if (!found) {
                    snprintf(err, IR_ERRLEN, "step %d (node %d, %s) does not list output %%%d", s, st->node,
                             ir_optable[n->op]->name, n->out[k]);
                    goto out;
                }
            }
            for (int k = 0; k < n->nin; k++) {
                int found = 0;
                for (int j = 0; j < st->nin; j++) found |= st->in[j] == n->in[k];
                if (!found) {
                    snprintf(err, IR_ERRLEN, "step %d (node %d, %s) does not list input %%%d", s, st->node,
                             ir_optable[n->op]->name, n->in[k]);
                    goto out;
                }
            }
        }
    }
    rc = 0;
out:
    free(writer);
    return rc;
}

int exec_steps_resolve(const ir_graph *g, const exec_step *steps, int nsteps, const int *root, exec_step **out,
                       char *err) {
    *out = malloc(((size_t)nsteps + 1) * sizeof(exec_step));
    if (!*out) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    if (nsteps) memcpy(*out, steps, (size_t)nsteps * sizeof(exec_step));
    if (!root) return 0;
    for (int s = 0; s < nsteps; s++) {
        exec_step *st = &(*out)[s];
        for (int k = 0; k < st->nin + st->nout; k++) {
            int *v = k < st->nin ? &st->in[k] : &st->out[k - st->nin];
            int r = root[*v];
            if (r < 0 || r >= g->nvals) {
                snprintf(err, IR_ERRLEN, "step %d %s %%%d, which has no storage (root %d)", s,
                         k < st->nin ? "reads" : "writes", *v, r);
                free(*out);
                *out = NULL;
                return -1;
            }
            *v = r;
        }
    }
    return 0;
}
