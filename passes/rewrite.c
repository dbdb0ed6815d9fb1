#include "rewrite.h"

#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"

int rw_copy_leaf(const ir_graph *src, int v, ir_graph *dst) {
    const ir_value *x = &src->vals[v];
    if (x->kind == VK_CONST) {
        int c = ir_const(dst, x->dtype, x->shape, x->data);
        if (c >= 0 && x->name) ir_set_name(dst, c, x->name);
        return c;
    }
    int nv = ir_value_new(dst, x->kind, x->dtype, x->shape, x->name);
    dst->vals[nv].flags = x->flags;
    dst->vals[nv].init = x->init;
    if (x->init.kind == INIT_DATA && x->data) { /* imported weights travel with the value */
        size_t bytes = (size_t)ir_numel(&x->shape) * ir_dtype_size(x->dtype);
        void *d = malloc(bytes ? bytes : 1);
        if (!d) return ir_fail(dst, "out of memory copying '%s'", x->name ? x->name : "a parameter");
        memcpy(d, x->data, bytes);
        dst->vals[nv].data = d;
    }
    return nv;
}

int rw_copy_node(const ir_graph *src, const ir_node *n, int *map, ir_graph *dst) {
    int in[IR_MAX_IN];
    for (int k = 0; k < n->nin; k++) {
        in[k] = map[n->in[k]];
        if (in[k] < 0) return ir_fail(dst, "rewrite: input %d of %s is unmapped", k, ir_optable[n->op]->name);
    }
    int node = ir_node_new(dst, n->op, in, n->nin);
    if (node < 0) return -1;
    memcpy(dst->nodes[node].attr, n->attr, sizeof n->attr);
    if (ir_node_finish(dst, node) < 0) return -1;
    for (int k = 0; k < n->nout; k++) {
        int o = dst->nodes[node].out[k];
        map[n->out[k]] = o;
        if (src->vals[n->out[k]].name) ir_set_name(dst, o, src->vals[n->out[k]].name);
        dst->vals[o].flags |= src->vals[n->out[k]].flags & VF_FORWARD_LOSS;
    }
    return 0;
}

int rw_finish(const ir_graph *src, const int *map, ir_graph *dst) {
    for (int i = 0; i < src->noutputs; i++) {
        if (map[src->outputs[i]] < 0) return ir_fail(dst, "rewrite: output %d unmapped", i);
        ir_add_output(dst, map[src->outputs[i]]);
    }
    for (int i = 0; i < src->nupdates; i++) {
        int d = map[src->updates[i].dst], s = map[src->updates[i].src];
        if (d < 0 || s < 0) return ir_fail(dst, "rewrite: update %d unmapped", i);
        ir_add_update(dst, d, s);
    }
    /* copy-init sources refer to old ids */
    for (int v = 0; v < dst->nvals; v++)
        if (dst->vals[v].init.kind == INIT_COPY && dst->vals[v].init.src >= 0 && dst->vals[v].kind != VK_INTER) {
            int s = dst->vals[v].init.src;
            dst->vals[v].init.src = (s < src->nvals) ? map[s] : -1;
        }
    return dst->failed ? -1 : 0;
}
