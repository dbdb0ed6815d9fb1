/* Arena executor (see arena_exec.h). */
#include "arena_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *alloc_region(int64_t bytes) {
    size_t b = (size_t)((bytes + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN);
    void *p = aligned_alloc(MEMPLAN_ALIGN, b ? b : MEMPLAN_ALIGN);
    if (p) memset(p, 0, b ? b : MEMPLAN_ALIGN);
    return p;
}

void arena_exec_free(arena_exec *ax) {
    free(ax->arena);
    free(ax->persist);
    free(ax->t);
    memset(ax, 0, sizeof *ax);
}

int arena_exec_init(arena_exec *ax, const ir_graph *g, const exec_step *steps, int nsteps, const memplan *mp,
                    char *err) {
    memset(ax, 0, sizeof *ax);
    if (mp->nvals != g->nvals) {
        snprintf(err, IR_ERRLEN, "arena executor: plan for %d values, graph has %d", mp->nvals, g->nvals);
        return -1;
    }
    ax->g = g, ax->steps = steps, ax->nsteps = nsteps, ax->mp = mp;
    ax->arena = alloc_region(mp->arena_bytes);
    ax->persist = alloc_region(mp->persistent_bytes);
    ax->t = calloc((size_t)g->nvals + 1, sizeof(ref_tensor));
    if (!ax->arena || !ax->persist || !ax->t) {
        snprintf(err, IR_ERRLEN, "arena executor: out of memory (arena %lld bytes, persistent %lld bytes)",
                 (long long)mp->arena_bytes, (long long)mp->persistent_bytes);
        arena_exec_free(ax);
        return -1;
    }
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        const exec_loc *l = &mp->loc[v];
        if (l->kind == LOC_NONE) continue;
        int64_t need = ir_numel(&val->shape) * (int64_t)ir_dtype_size(val->dtype);
        int64_t region = l->kind == LOC_ARENA ? mp->arena_bytes : mp->persistent_bytes;
        if (val->dtype == DT_F64 || l->offset < 0 || l->bytes < need || l->offset + need > region) {
            snprintf(err, IR_ERRLEN, "arena executor: value %%%d: %s", v,
                     val->dtype == DT_F64 ? "f64 storage is not supported" : "location outside its region");
            arena_exec_free(ax);
            return -1;
        }
        ref_tensor *t = &ax->t[v];
        t->data = (l->kind == LOC_ARENA ? ax->arena : ax->persist) + l->offset;
        t->dtype = val->dtype;
        t->shape = val->shape;
        t->numel = ir_numel(&val->shape);
        if (val->kind == VK_CONST && val->data) memcpy(t->data, val->data, (size_t)need);
    }
    return 0;
}

void *arena_exec_data(const arena_exec *ax, int v) {
    return v >= 0 && v < ax->g->nvals ? ax->t[v].data : NULL;
}

static int is_copy_op(int op) { return op == OP_Identity || op == OP_StopGradient || op == OP_Reshape || op == OP_Flatten; }

int arena_exec_run(arena_exec *ax, char *err) {
    const ir_graph *g = ax->g;
    if (ax->poison && ax->mp->arena_bytes) memset(ax->arena, 0xFF, (size_t)ax->mp->arena_bytes);
    for (int s = 0; s < ax->nsteps; s++) {
        const exec_step *st = &ax->steps[s];
        err[0] = 0;
        if (st->kind == STEP_KERNEL) {
            ref_tensor in[EXEC_MAX_ARGS], out[EXEC_MAX_ARGS];
            for (int k = 0; k < st->nin; k++) in[k] = ax->t[st->in[k]];
            for (int k = 0; k < st->nout; k++) out[k] = ax->t[st->out[k]];
            if (!ax->kernel) {
                snprintf(err, IR_ERRLEN, "step %d: a fused kernel, but no kernel backend is attached", s);
                return -1;
            }
            if (ax->kernel(ax->kernel_ctx, g, st, in, out, err) != 0) {
                if (!err[0]) snprintf(err, IR_ERRLEN, "step %d: kernel %d failed", s, st->kernel);
                return -1;
            }
            continue;
        }
        const ir_node *n = &g->nodes[st->node];
        const ir_opdef *def = ir_optable[n->op];
        ref_call c;
        memset(&c, 0, sizeof c);
        c.node = n;
        c.nin = n->nin;
        c.nout = n->nout;
        c.err = err;
        for (int k = 0; k < n->nin; k++) c.in[k] = ax->t[n->in[k]];
        for (int k = 0; k < n->nout; k++) c.out[k] = ax->t[n->out[k]];
        for (int k = 0; k < n->nin; k++)
            if (!c.in[k].data) {
                snprintf(err, IR_ERRLEN, "step %d (%s): input %d is not materialized", s, def->name, k);
                return -1;
            }
        for (int k = 0; k < n->nout; k++)
            if (!c.out[k].data) {
                snprintf(err, IR_ERRLEN, "step %d (%s): output %d is not materialized", s, def->name, k);
                return -1;
            }
        /* a copy planned in place is already done (and memcpy must not overlap) */
        if (is_copy_op(n->op) && c.in[0].data == c.out[0].data) continue;
        if (!def->ref_f32 || def->ref_f32(&c) != 0) {
            if (!err[0]) snprintf(err, IR_ERRLEN, "step %d (node %d, %s): kernel failed", s, st->node, def->name);
            return -1;
        }
    }
    /* updates read pre-update values: stage every source, then write */
    size_t total = 0;
    for (int u = 0; u < g->nupdates; u++) {
        const ref_tensor *t = &ax->t[g->updates[u].src];
        total += (size_t)t->numel * ir_dtype_size(t->dtype);
    }
    unsigned char *stage = malloc(total ? total : 1);
    if (!stage) {
        snprintf(err, IR_ERRLEN, "out of memory applying updates");
        return -1;
    }
    size_t off = 0;
    for (int u = 0; u < g->nupdates; u++) {
        const ref_tensor *t = &ax->t[g->updates[u].src];
        size_t b = (size_t)t->numel * ir_dtype_size(t->dtype);
        if (!t->data || !ax->t[g->updates[u].dst].data) {
            free(stage);
            snprintf(err, IR_ERRLEN, "update %d: source or destination not materialized", u);
            return -1;
        }
        memcpy(stage + off, t->data, b);
        off += b;
    }
    off = 0;
    for (int u = 0; u < g->nupdates; u++) {
        ref_tensor *d = &ax->t[g->updates[u].dst];
        size_t b = (size_t)d->numel * ir_dtype_size(d->dtype);
        memcpy(d->data, stage + off, b);
        off += b;
    }
    free(stage);
    return 0;
}
