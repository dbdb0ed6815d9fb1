/* Graph composition (see compose.h). */
#include "compose.h"

#include <stdlib.h>
#include <string.h>

static int append_values(ir_graph *dst, const ir_graph *src, int *map, unsigned char *copied);

int ir_graph_append(ir_graph *dst, const ir_graph *src, int *map) {
    if (dst->failed) return -1;
    if (src->failed) return ir_fail(dst, "appending a graph that failed to build: %s", src->err);
    unsigned char *copied = calloc((size_t)src->nvals + 1, 1);
    if (!copied) return ir_fail(dst, "append: out of memory");
    int rc = append_values(dst, src, map, copied);
    for (int v = 0; v < src->nvals && !rc; v++) { /* copy-init sources may point anywhere: remap last */
        const ir_value *s = &src->vals[v];
        if (!copied[v] || s->init.kind != INIT_COPY) continue;
        if (s->init.src < 0 || s->init.src >= src->nvals) {
            rc = ir_fail(dst, "append: '%s' is copy-initialized from an invalid value", s->name ? s->name : "?");
            break;
        }
        dst->vals[map[v]].init.src = map[s->init.src];
    }
    free(copied);
    if (rc) return -1;
    for (int i = 0; i < src->noutputs; i++) ir_add_output(dst, map[src->outputs[i]]);
    for (int i = 0; i < src->nupdates; i++) ir_add_update(dst, map[src->updates[i].dst], map[src->updates[i].src]);
    return dst->failed ? -1 : 0;
}

static int append_values(ir_graph *dst, const ir_graph *src, int *map, unsigned char *copied) {
    for (int v = 0; v < src->nvals; v++) {
        const ir_value *s = &src->vals[v];
        if (copied[v]) continue; /* a later output of a node already appended */
        if (map[v] >= 0) { /* provided by dst */
            if (map[v] >= dst->nvals) return ir_fail(dst, "append: value %d mapped out of range", v);
            const ir_value *d = &dst->vals[map[v]];
            if (s->producer >= 0) return ir_fail(dst, "append: '%s' is computed in the appended graph and cannot be preset",
                                                 s->name ? s->name : "?");
            if (d->dtype != s->dtype || !ir_shape_eq(&d->shape, &s->shape)) {
                char a[96], b[96];
                ir_shape_str(&s->shape, a, sizeof a);
                ir_shape_str(&d->shape, b, sizeof b);
                return ir_fail(dst, "append: '%s' is %s %s but is given %s %s", s->name ? s->name : "?",
                               ir_dtype_name(s->dtype), a, ir_dtype_name(d->dtype), b);
            }
            continue;
        }
        if (s->name && s->kind != VK_INTER && ir_find_value(dst, s->name) >= 0)
            return ir_fail(dst, "append: both graphs define '%s'", s->name);
        int nv;
        if (s->producer < 0) {
            if (s->kind == VK_INTER) return ir_fail(dst, "append: intermediate value %d has no producer", v);
            nv = ir_value_new(dst, s->kind, s->dtype, s->shape, s->name);
            if ((s->kind == VK_CONST || s->init.kind == INIT_DATA) && s->data) { /* imported weights too */
                size_t bytes = (size_t)ir_numel(&s->shape) * ir_dtype_size(s->dtype);
                dst->vals[nv].data = malloc(bytes ? bytes : 1);
                if (!dst->vals[nv].data) return ir_fail(dst, "append: out of memory");
                memcpy(dst->vals[nv].data, s->data, bytes);
            }
        } else {
            const ir_node *n = &src->nodes[s->producer];
            if (n->out[0] != v) return ir_fail(dst, "append: node %d's outputs are not created together", s->producer);
            int in[IR_MAX_IN];
            for (int k = 0; k < n->nin; k++) {
                if (n->in[k] >= v || map[n->in[k]] < 0)
                    return ir_fail(dst, "append: node %d reads value %d before it is defined", s->producer, n->in[k]);
                in[k] = map[n->in[k]];
            }
            int node = ir_node_new(dst, n->op, in, n->nin);
            if (node < 0) return -1;
            memcpy(dst->nodes[node].attr, n->attr, sizeof n->attr);
            if (ir_node_finish(dst, node) < 0) return -1;
            for (int k = 0; k < n->nout; k++) {
                int o = dst->nodes[node].out[k];
                const ir_value *so = &src->vals[n->out[k]];
                if (so->name) ir_set_name(dst, o, so->name);
                dst->vals[o].kind = so->kind;
                dst->vals[o].flags = so->flags;
                dst->vals[o].init = so->init;
                map[n->out[k]] = o;
                copied[n->out[k]] = 1;
            }
            nv = map[v];
        }
        dst->vals[nv].flags = s->flags;
        dst->vals[nv].init = s->init;
        map[v] = nv;
        copied[v] = 1;
    }
    return 0;
}
