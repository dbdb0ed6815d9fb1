/* Shared by the plan file tests: a small sample plan and a structural graph comparison. */
#ifndef SSLC_TEST_PLAN_SAMPLE_H
#define SSLC_TEST_PLAN_SAMPLE_H
#include <stdio.h>
#include <string.h>

#include "ir/builder.h"
#include "passes/autodiff.h"
#include "runtime/planfile.h"

/* x[4,3] -> (x*w + b) * c -> Reshape[2,6] -> ReduceSum(axis 1) -> ReduceMean = loss, with
 * parameters (init recipes, flags, a COPY-initialized frozen teacher), an f32 and an i64
 * constant, a state value and its EMA update, Where0 with a non-default attribute, Flatten,
 * and (with_grads) the backward graph and SGD updates of the trainable parameters. */
static int sample_graph(ir_graph *g, int with_grads) {
    ir_graph_init(g);
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(4, 3));
    int labels = ir_input(g, "labels", DT_I64, IR_SHAPE(4));
    (void)labels;
    ir_scope_push(g, "enc");
    int w = ir_param(g, "w", IR_SHAPE(4, 3), ir_init_normal(0, 0.02), 0);
    int b = ir_param(g, "b", IR_SHAPE(3), ir_init_const(0.1), VF_NO_DECAY);
    int wt = ir_param(g, "w_teacher", IR_SHAPE(4, 3), ir_init_copy(w), VF_FROZEN);
    ir_scope_pop(g);
    float cd[3] = {1.5f, -2.0f, 0.25f};
    int c = ir_const(g, DT_F32, IR_SHAPE(3), cd);
    int64_t idx[2] = {7, -9};
    (void)ir_const(g, DT_I64, IR_SHAPE(2), idx);
    int lr = ir_input(g, "lr", DT_F32, (ir_shape){0});
    int center = ir_state(g, "center", DT_F32, IR_SHAPE(3), ir_init_uniform(-1, 1));
    int y = ir_mul(g, ir_add(g, ir_mul(g, x, w), b), c);
    int node = ir_node_new(g, OP_Where0, (int[]){y, ir_stop_gradient(g, wt)}, 2);
    ir_set_i(g, node, "ge", 1);
    int wm = ir_node_finish(g, node);
    y = ir_add(g, y, wm);
    int r = ir_reshape(g, y, IR_SHAPE(2, 6));
    int64_t ax1[1] = {1};
    int s = ir_reduce_sum(g, r, ax1, 1, 0);
    int loss = ir_reduce_mean(g, s, NULL, 0, 0);
    ir_set_name(g, loss, "loss");
    ir_add_output(g, loss);
    int f = ir_flatten(g, ir_reshape(g, y, IR_SHAPE(2, 2, 3)), 2);
    ir_add_output(g, f);
    int64_t ax0[1] = {0};
    int m = ir_reduce_mean(g, y, ax0, 1, 1);
    int nc = ir_add(g, ir_mul_scalar(g, center, 0.9), ir_mul_scalar(g, ir_reshape(g, m, IR_SHAPE(3)), 0.1));
    ir_add_update(g, center, nc);
    if (with_grads && !g->failed) {
        int params[2] = {w, b}, grads[2];
        if (autodiff(g, loss, params, 2, grads) != 0) return -1;
        for (int i = 0; i < 2; i++) {
            int step = ir_mul(g, grads[i], lr);
            ir_add_update(g, params[i], ir_sub(g, params[i], step));
        }
    }
    return g->failed ? -1 : 0;
}

static int sample_plan(sslc_plan *p, int with_grads) {
    char err[IR_ERRLEN];
    plan_init(p);
    if (plan_set_method(p, "simclr", err) || plan_set_option(p, "temperature", "0.5", err) ||
        plan_set_option(p, "projection_dim", "128", err) || plan_set_option(p, "optimizer", "lars", err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    p->seed = 0xfeedfacecafebeefull;
    if (sample_graph(&p->train, with_grads) != 0) {
        fprintf(stderr, "sample graph: %s\n", p->train.err);
        return -1;
    }
    return 0;
}

/* 0 if the graphs are structurally identical; otherwise prints the first difference. */
static int graph_diff(const ir_graph *a, const ir_graph *b) {
#define GD(cond, ...)                                                                                             \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, "graph differs: ");                                                                    \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fprintf(stderr, "\n");                                                                                 \
            return 1;                                                                                              \
        }                                                                                                          \
    } while (0)
    GD(a->nvals == b->nvals, "nvals %d vs %d", a->nvals, b->nvals);
    GD(a->nnodes == b->nnodes, "nnodes %d vs %d", a->nnodes, b->nnodes);
    GD(a->noutputs == b->noutputs, "noutputs %d vs %d", a->noutputs, b->noutputs);
    GD(a->nupdates == b->nupdates, "nupdates %d vs %d", a->nupdates, b->nupdates);
    GD(!a->failed && !b->failed, "failed flag set");
    for (int i = 0; i < a->nvals; i++) {
        const ir_value *x = &a->vals[i], *y = &b->vals[i];
        GD(x->id == i && y->id == i, "value %d: id", i);
        GD(x->dtype == y->dtype, "value %d: dtype %s vs %s", i, ir_dtype_name(x->dtype), ir_dtype_name(y->dtype));
        GD(ir_shape_eq(&x->shape, &y->shape), "value %d: shape", i);
        GD(x->kind == y->kind, "value %d: kind", i);
        GD((x->name == NULL) == (y->name == NULL) && (!x->name || strcmp(x->name, y->name) == 0), "value %d: name %s vs %s",
           i, x->name ? x->name : "(null)", y->name ? y->name : "(null)");
        GD(x->producer == y->producer, "value %d: producer %d vs %d", i, x->producer, y->producer);
        GD(x->flags == y->flags, "value %d: flags", i);
        GD(x->init.kind == y->init.kind && x->init.src == y->init.src &&
               memcmp(&x->init.a, &y->init.a, sizeof(double)) == 0 && memcmp(&x->init.b, &y->init.b, sizeof(double)) == 0,
           "value %d: init", i);
        GD((x->data == NULL) == (y->data == NULL), "value %d: data presence", i);
        if (x->data)
            GD(memcmp(x->data, y->data, (size_t)ir_numel(&x->shape) * ir_dtype_size(x->dtype)) == 0, "value %d: data", i);
    }
    for (int k = 0; k < a->nnodes; k++) {
        const ir_node *m = &a->nodes[k], *n = &b->nodes[k];
        GD(m->op == n->op, "node %d: op", k);
        GD(m->nin == n->nin && memcmp(m->in, n->in, sizeof(int) * (size_t)m->nin) == 0, "node %d: inputs", k);
        GD(m->nout == n->nout && memcmp(m->out, n->out, sizeof(int) * (size_t)m->nout) == 0, "node %d: outputs", k);
        const ir_opdef *def = ir_optable[m->op];
        for (int t = 0; t < def->nattrs; t++) {
            const ir_attrval *p = &m->attr[t], *q = &n->attr[t];
            if (def->attrs[t].type == AT_INT) GD(p->i == q->i, "node %d: attr %s", k, def->attrs[t].name);
            if (def->attrs[t].type == AT_FLOAT)
                GD(memcmp(&p->f, &q->f, sizeof(double)) == 0, "node %d: attr %s", k, def->attrs[t].name);
            if (def->attrs[t].type == AT_INTS)
                GD(p->n == q->n && memcmp(p->v, q->v, sizeof(int64_t) * (size_t)p->n) == 0, "node %d: attr %s", k,
                   def->attrs[t].name);
        }
    }
    for (int i = 0; i < a->noutputs; i++) GD(a->outputs[i] == b->outputs[i], "output %d", i);
    for (int i = 0; i < a->nupdates; i++)
        GD(a->updates[i].dst == b->updates[i].dst && a->updates[i].src == b->updates[i].src, "update %d", i);
    return 0;
#undef GD
}

/* 0 if two compiled steps are the same: lowered graph, launches (with their derived inputs and
 * outputs), kernels' argument lists, storage roots, memory plan, sources, CUBINs and hashes. */
static int step_diff(const compiled_step *a, const compiled_step *b) {
#define SD(cond, ...)                                                                                             \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, "compiled step differs: ");                                                            \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fprintf(stderr, "\n");                                                                                 \
            return 1;                                                                                              \
        }                                                                                                          \
    } while (0)
    const exec_plan *x = &a->ep, *y = &b->ep;
    SD(a->graph_hash == b->graph_hash && a->kernels_hash == b->kernels_hash, "hashes");
    if (graph_diff(&x->lowered, &y->lowered)) return 1;
    SD(x->fp.nsteps == y->fp.nsteps && x->fp.nkernels == y->fp.nkernels, "launch/kernel counts");
    SD(x->nkernels == y->nkernels && x->nlibrary == y->nlibrary && x->merged == y->merged, "statistics");
    for (int s = 0; s < x->fp.nsteps; s++) {
        const exec_step *p = &x->fp.steps[s], *q = &y->fp.steps[s];
        SD(p->kind == q->kind && p->nin == q->nin && p->nout == q->nout, "launch %d kind/arity", s);
        SD(p->kind == STEP_KERNEL ? p->kernel == q->kernel : p->node == q->node, "launch %d index", s);
        SD(!memcmp(p->in, q->in, sizeof(int) * (size_t)p->nin) && !memcmp(p->out, q->out, sizeof(int) * (size_t)p->nout) &&
               !memcmp(p->inplace, q->inplace, sizeof(int) * (size_t)p->nout),
           "launch %d arguments", s);
    }
    for (int i = 0; i < x->fp.nkernels; i++) {
        const fkernel *p = &x->fp.kernels[i], *q = &y->fp.kernels[i];
        SD(p->nseg == q->nseg, "kernel %d segments", i);
        for (int j = 0; j < p->nseg; j++) {
            const kir *k = &p->seg[j], *l = &q->seg[j];
            SD(ir_shape_eq(&k->dom, &l->dom) && k->redmask == l->redmask && k->nloads == l->nloads &&
                   k->nstores == l->nstores,
               "kernel %d segment %d", i, j);
            for (int t = 0; t < k->nloads; t++) SD(k->loads[t].value == l->loads[t].value, "kernel %d load %d", i, t);
            for (int t = 0; t < k->nstores; t++) SD(k->stores[t].value == l->stores[t].value, "kernel %d store %d", i, t);
        }
        SD(!strcmp(a->c_src[i], b->c_src[i]), "kernel %d C source", i);
        SD(!a->cuda_src == !b->cuda_src && (!a->cuda_src || !strcmp(a->cuda_src[i], b->cuda_src[i])), "kernel %d CUDA source", i);
    }
    for (int v = 0; v < x->lowered.nvals; v++) SD(x->fp.root[v] == y->fp.root[v], "root of value %d", v);
    SD(x->mp.nvals == y->mp.nvals && x->mp.arena_bytes == y->mp.arena_bytes &&
           x->mp.persistent_bytes == y->mp.persistent_bytes && x->mp.sum_bytes == y->mp.sum_bytes &&
           x->mp.peak_bytes == y->mp.peak_bytes && x->mp.nbuffers == y->mp.nbuffers,
       "memory plan totals");
    for (int v = 0; v < x->mp.nvals; v++)
        SD(x->mp.loc[v].kind == y->mp.loc[v].kind && x->mp.loc[v].offset == y->mp.loc[v].offset &&
               x->mp.loc[v].bytes == y->mp.loc[v].bytes,
           "location of value %d", v);
    SD(a->ncubins == b->ncubins, "CUBIN count");
    for (int i = 0; i < a->ncubins; i++)
        SD(a->cubin[i].arch == b->cubin[i].arch && a->cubin[i].size == b->cubin[i].size &&
               !memcmp(a->cubin[i].image, b->cubin[i].image, a->cubin[i].size),
           "CUBIN %d", i);
    return 0;
#undef SD
}

static int plan_diff(const sslc_plan *a, const sslc_plan *b) {
    if (strcmp(a->method, b->method) || a->seed != b->seed || a->nopts != b->nopts || a->has_eval != b->has_eval ||
        a->has_step != b->has_step) {
        fprintf(stderr, "plan differs: method/seed/options/eval/step\n");
        return 1;
    }
    if (a->has_step && step_diff(&a->step, &b->step)) return 1;
    for (int i = 0; i < a->nopts; i++)
        if (strcmp(a->keys[i], b->keys[i]) || strcmp(a->vals[i], b->vals[i])) {
            fprintf(stderr, "plan differs: option %d\n", i);
            return 1;
        }
    if (graph_diff(&a->train, &b->train)) return 1;
    if (a->has_eval && graph_diff(&a->eval, &b->eval)) return 1;
    return 0;
}

/* the sample plan with its compiled step (the cpu target) */
static inline int sample_plan_step(sslc_plan *p) {
    char err[IR_ERRLEN];
    step_targets t = {.cpu = 1};
    if (sample_plan(p, 1)) return -1;
    if (compiled_step_build(&p->train, &t, &p->step, err)) {
        fprintf(stderr, "sample step: %s\n", err);
        return -1;
    }
    p->has_step = 1;
    return 0;
}

#endif
