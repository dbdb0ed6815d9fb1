/* Executor core of the arena backends (see arena_exec.h). */
#include "arena_exec.h"

#include "../ir/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../passes/steps.h"
#include "trace.h"

/* SSLC_PROFILE=1: seconds per op type (library steps) and for fused kernels, on stderr, every
 * second run; SSLC_PROFILE=cpu: CPU seconds of the process instead of wall time (steadier on a
 * shared machine; with OMP_WAIT_POLICY=passive it counts work, not spinning);
 * SSLC_PROFILE_TOP=K adds the K most expensive steps. */
struct exec_profile {
    clockid_t clock;
    double acc[OP__COUNT + 1]; /* per op; [OP__COUNT]: fused kernels */
    double *per;               /* per step */
    int runs, top;
};

static double tnow(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static struct exec_profile *profile_new(int nsteps) {
    const char *pe = getenv("SSLC_PROFILE");
    if (!pe) return NULL;
    struct exec_profile *p = calloc(1, sizeof *p);
    if (!p || !(p->per = calloc((size_t)nsteps + 1, sizeof *p->per))) {
        free(p);
        return NULL; /* profiling is best effort */
    }
    p->clock = !strcmp(pe, "cpu") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    const char *top = getenv("SSLC_PROFILE_TOP");
    p->top = top ? atoi(top) : 0;
    return p;
}

static void profile_free(struct exec_profile *p) {
    if (p) free(p->per);
    free(p);
}

static void profile_top(const arena_exec *ax) {
    const struct exec_profile *p = ax->prof;
    int n = ax->nsteps, k = p->top;
    int *order = malloc((size_t)n * sizeof *order + 1);
    if (!order) return;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n && i < k; i++) /* partial selection sort: k is small */
        for (int j = i + 1; j < n; j++)
            if (p->per[order[j]] > p->per[order[i]]) {
                int t = order[i];
                order[i] = order[j], order[j] = t;
            }
    for (int i = 0; i < n && i < k; i++) {
        const exec_step *st = &ax->steps[order[i]];
        char dom[96] = "", what[160];
        int v = st->nout > 0 ? st->out[0] : -1;
        if (st->kind == STEP_KERNEL)
            snprintf(what, sizeof what, "kernel %d: %d inputs, %d outputs", st->kernel, st->nin, st->nout);
        else {
            if (v >= 0) ir_shape_str(&ax->g->vals[v].shape, dom, sizeof dom);
            snprintf(what, sizeof what, "%s -> %s", ir_optable[ax->g->nodes[st->node].op]->name, dom);
        }
        /* the bytes its operands span, read or written once: against the time, how near the
         * memory bandwidth a step runs (an upper bound for what a fused kernel could gain) */
        double bytes = 0, t = p->per[order[i]] / p->runs;
        for (int k = 0; k < st->nin + st->nout; k++) {
            const ir_value *val = &ax->g->vals[k < st->nin ? st->in[k] : st->out[k - st->nin]];
            bytes += (double)ir_numel(&val->shape) * (double)ir_dtype_size(val->dtype);
        }
        fprintf(stderr, "  %7.4f  step %d  %s  %.1f MB, %.1f GB/s  [%s]\n", t, order[i], what, bytes / 1e6,
                t > 0 ? bytes / t / 1e9 : 0.0, v >= 0 && ax->g->vals[v].name ? ax->g->vals[v].name : "");
    }
    free(order);
}

static void profile_report(const arena_exec *ax) {
    const struct exec_profile *p = ax->prof;
    double tot = 0;
    for (int i = 0; i <= OP__COUNT; i++) tot += p->acc[i];
    fprintf(stderr, "profile over %d steps, %.3f %s/step:", p->runs, tot / p->runs,
            p->clock == CLOCK_MONOTONIC ? "s" : "cpu s");
    for (int i = 0; i <= OP__COUNT; i++)
        if (p->acc[i] > 0.02 * tot)
            fprintf(stderr, " %s %.0f%% (%.3f)", i == OP__COUNT ? "fused" : ir_optable[i]->name, 100 * p->acc[i] / tot,
                    p->acc[i] / p->runs);
    fprintf(stderr, "\n");
    if (p->top) profile_top(ax);
}

static void *alloc_region(int64_t bytes) {
    size_t b = (size_t)((bytes + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN) + MEMPLAN_ALIGN;
    void *p = aligned_alloc(MEMPLAN_ALIGN, b);
    if (p) memset(p, 0, b);
    return p;
}

static void release(const arena_exec *ax, void *p) {
    if (!p) return;
    if (ax->mem)
        ax->mem->release(ax->mem->ctx, p);
    else
        free(p);
}

void arena_exec_free(arena_exec *ax) {
    if (ax->t && ax->owned)
        for (int v = 0; v < ax->g->nvals; v++)
            if (ax->owned[v]) free(ax->t[v].data);
    release(ax, ax->arena);
    release(ax, ax->persist);
    release(ax, ax->stage.stage);
    free(ax->stage.staged);
    free(ax->t);
    free(ax->owned);
    profile_free(ax->prof);
    trace_close(ax->trace);
    memset(ax, 0, sizeof *ax);
}

static int oom(arena_exec *ax, const char *what, char *err) {
    snprintf(err, IR_ERRLEN, "out of memory for %s (arena %lld bytes, persistent %lld bytes)", what,
             ax->mp ? (long long)ax->mp->arena_bytes : 0LL, ax->mp ? (long long)ax->mp->persistent_bytes : 0LL);
    arena_exec_free(ax);
    return -1;
}

/* the storage of root value r: at its planned location, or an allocation of its own */
static int place_root(arena_exec *ax, int r, char *err) {
    const ir_value *val = &ax->g->vals[r];
    ref_tensor *t = &ax->t[r];
    int64_t need = ir_numel(&val->shape) * (int64_t)ir_dtype_size(val->dtype);
    if (val->dtype == DT_F64) {
        snprintf(err, IR_ERRLEN, "value %%%d: float64 storage is not supported by the arena backends", r);
        return -1;
    }
    if (!ax->mp) {
        t->data = calloc(1, need ? (size_t)need : 1);
        ax->owned[r] = 1;
        return t->data ? 0 : 1;
    }
    const exec_loc *l = &ax->mp->loc[r];
    if (l->kind == LOC_NONE) return 0;
    int64_t region = l->kind == LOC_ARENA ? ax->mp->arena_bytes : ax->mp->persistent_bytes;
    if (l->offset < 0 || l->bytes < need || l->offset + need > region) {
        snprintf(err, IR_ERRLEN, "value %%%d: location outside its region in the memory plan", r);
        return -1;
    }
    t->data = (l->kind == LOC_ARENA ? ax->arena : ax->persist) + l->offset;
    return 0;
}

int arena_exec_init(arena_exec *ax, const ir_graph *g, const exec_step *steps, int nsteps, const int *root,
                    const memplan *mp, const int64_t *ws_off, char *err) {
    return arena_exec_init_mem(ax, g, steps, nsteps, root, mp, ws_off, NULL, err);
}

static void *region(arena_exec *ax, int64_t bytes, char *err) {
    if (!ax->mem) return alloc_region(bytes);
    size_t b = (size_t)((bytes + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN) + MEMPLAN_ALIGN;
    return ax->mem->alloc(ax->mem->ctx, b, err);
}

static int dev_copy(void *ctx, void *dst, const void *src, size_t n, char *err) {
    const arena_mem *m = ctx;
    return m->copy(m->ctx, dst, src, n, err);
}

int arena_exec_init_mem(arena_exec *ax, const ir_graph *g, const exec_step *steps, int nsteps, const int *root,
                        const memplan *mp, const int64_t *ws_off, const arena_mem *mem, char *err) {
    memset(ax, 0, sizeof *ax);
    ax->mem = mem;
    if (mem && !mp) {
        snprintf(err, IR_ERRLEN, "a device backend needs a memory plan");
        return -1;
    }
    if (mp && mp->nvals != g->nvals) {
        snprintf(err, IR_ERRLEN, "memory plan for %d values, the graph has %d", mp->nvals, g->nvals);
        return -1;
    }
    ax->g = g, ax->steps = steps, ax->nsteps = nsteps, ax->root = root, ax->mp = mp, ax->ws_off = ws_off;
    ax->t = calloc((size_t)g->nvals + 1, sizeof *ax->t);
    ax->owned = calloc((size_t)g->nvals + 1, 1);
    if (!ax->t || !ax->owned) return oom(ax, "the value table", err);
    if (mp) {
        err[0] = 0;
        ax->arena = region(ax, mp->arena_bytes, err);
        ax->persist = ax->arena ? region(ax, mp->persistent_bytes, err) : NULL;
        if (!ax->arena || !ax->persist) {
            if (!err[0]) return oom(ax, "the arena", err);
            arena_exec_free(ax);
            return -1;
        }
    }
    for (int v = 0; v < g->nvals; v++) {
        if (exec_root(root, v) != v) continue;
        int rc = place_root(ax, v, err);
        if (rc > 0) return oom(ax, "a value", err);
        if (rc < 0) {
            arena_exec_free(ax);
            return -1;
        }
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_CONST || !val->data || !ax->t[v].data) continue;
        size_t bytes = (size_t)ir_numel(&val->shape) * ir_dtype_size(val->dtype);
        if (!mem)
            memcpy(ax->t[v].data, val->data, bytes);
        else if (mem->upload(mem->ctx, ax->t[v].data, val->data, bytes, err)) {
            arena_exec_free(ax);
            return -1;
        }
    }
    /* every value (views included) in its own shape and dtype */
    for (int v = 0; v < g->nvals; v++) {
        int r = exec_root(root, v);
        ref_tensor *t = &ax->t[v];
        t->data = r >= 0 ? ax->t[r].data : NULL;
        t->dtype = g->vals[v].dtype;
        t->shape = g->vals[v].shape;
        t->numel = ir_numel(&t->shape);
    }
    ax->stage.stage_bytes = updates_stage_need(g, ax->t);
    /* the storage never moves: which sources are staged is decided once, not on every step */
    if (g->nupdates && !(ax->stage.staged = updates_staged_flags(g, ax->t))) return oom(ax, "staging the updates", err);
    if (ax->stage.stage_bytes) {
        err[0] = 0;
        ax->stage.stage = mem ? mem->alloc(mem->ctx, ax->stage.stage_bytes, err) : aligned_alloc(64, ax->stage.stage_bytes);
        if (!ax->stage.stage) {
            if (!err[0]) return oom(ax, "staging the updates", err);
            arena_exec_free(ax);
            return -1;
        }
    }
    if (mem) ax->stage.copy = dev_copy, ax->stage.copy_ctx = (void *)mem;
    ax->prof = profile_new(nsteps);
    return 0;
}

void *arena_exec_data(const arena_exec *ax, int v) { return v >= 0 && v < ax->g->nvals ? ax->t[v].data : NULL; }

ref_call arena_exec_call(const arena_exec *ax, const ir_node *n, char *err) {
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    for (int k = 0; k < n->nin; k++) c.in[k] = ax->t[n->in[k]];
    for (int k = 0; k < n->nout; k++) c.out[k] = ax->t[n->out[k]];
    return c;
}

static int is_copy_op(int op) { return op == OP_Identity || op == OP_StopGradient || op == OP_Reshape || op == OP_Flatten; }

int arena_exec_step(arena_exec *ax, int s, char *err) {
    const exec_step *st = &ax->steps[s];
    err[0] = 0;
    if (st->kind == STEP_KERNEL) {
        if (!ax->kernel) {
            snprintf(err, IR_ERRLEN, "step %d: a fused kernel, but the backend runs none", s);
            return -1;
        }
        if (ax->kernel(ax->kernel_ctx, ax, s, err)) {
            if (!err[0]) snprintf(err, IR_ERRLEN, "step %d: kernel %d failed", s, st->kernel);
            return -1;
        }
        return 0;
    }
    const ir_node *n = &ax->g->nodes[st->node];
    const ir_opdef *def = ir_optable[n->op];
    ref_call c = arena_exec_call(ax, n, err);
    for (int k = 0; k < n->nin; k++)
        if (!c.in[k].data) {
            snprintf(err, IR_ERRLEN, "step %d (%s): input %d has no storage", s, def->name, k);
            return -1;
        }
    for (int k = 0; k < n->nout; k++)
        if (!c.out[k].data) {
            snprintf(err, IR_ERRLEN, "step %d (%s): output %d has no storage", s, def->name, k);
            return -1;
        }
    /* a copy planned in place is already done (and memcpy must not overlap) */
    if (is_copy_op(n->op) && c.in[0].data == c.out[0].data) return 0;
    libop_fn lib = ax->lib.op[n->op];
    if (lib) {
        void *ws = ax->ws_off && ax->ws_off[s] >= 0 ? ax->arena + ax->ws_off[s] : NULL;
        if (lib(ax->lib.ctx, s, &c, ws, err) == 0) return 0;
    } else if (ax->mem) {
        snprintf(err, IR_ERRLEN, "step %d: %s has no kernel on this backend", s, def->name);
        return -1;
    } else if (ir_ref_run(def, &c, 0) == 0)
        return 0;
    if (!err[0]) snprintf(err, IR_ERRLEN, "step %d (node %d, %s) failed", s, st->node, def->name);
    return -1;
}

/* MPI moves a started AllReduce only inside MPI calls: one progress call after every step
 * while buckets are in flight is what lets them cross during the backward pass, not at the wait */
static int progress(const arena_exec *ax, char *err) {
    const ir_comm *c = ax->comm;
    if (!c || !c->pending || !c->ops->progress) return 0;
    return c->ops->progress(c->self, err);
}

static int step_op(const arena_exec *ax, int s) {
    const exec_step *st = &ax->steps[s];
    return st->kind == STEP_NODE ? ax->g->nodes[st->node].op : -1;
}

/* the step that started the AllReduce AllReduceWait step s finishes (-1: none before it) */
static int start_of(const arena_exec *ax, int s) {
    int v = ax->g->nodes[ax->steps[s].node].in[0];
    for (int p = s - 1; p >= 0; p--)
        if (step_op(ax, p) == OP_AllReduceStart && ax->g->nodes[ax->steps[p].node].out[0] == v) return p;
    return -1;
}

/* step s as a trace span: fused kernels by number, library and reference ops by op name */
static void trace_step(const arena_exec *ax, int s, double t0, double t1) {
    const exec_step *st = &ax->steps[s];
    if (st->kind == STEP_KERNEL) {
        char name[32];
        snprintf(name, sizeof name, "kernel %d", st->kernel);
        trace_span(ax->trace, name, "kernel", t0, t1, s, ax->trace_runs);
        return;
    }
    int op = ax->g->nodes[st->node].op;
    const char *cat = ir_optable[op]->flags & OPF_COLLECTIVE ? "collective" : ax->lib.op[op] ? "library" : "ref";
    trace_span(ax->trace, ir_optable[op]->name, cat, t0, t1, s, ax->trace_runs);
}

/* the step loop with a span per step (kept apart so the untraced loop has one test per run) */
static int run_traced(arena_exec *ax, char *err) {
    double start = trace_now_us();
    double *began = malloc(((size_t)ax->nsteps + 1) * sizeof *began);
    if (!began) {
        snprintf(err, IR_ERRLEN, "out of memory tracing a step");
        return -1;
    }
    for (int s = 0; s < ax->nsteps; s++) {
        double t0 = trace_now_us();
        if (arena_exec_step(ax, s, err) || progress(ax, err)) {
            free(began);
            return -1;
        }
        double t1 = trace_now_us();
        began[s] = t0;
        trace_step(ax, s, t0, t1);
        /* a split AllReduce also as one span from its start to the end of its wait, on its own
         * row: what overlaps the kernels between them */
        int from = step_op(ax, s) == OP_AllReduceWait ? start_of(ax, s) : -1;
        if (from >= 0) trace_span(ax->trace, "AllReduce in flight", "in flight", began[from], t1, from, ax->trace_runs);
    }
    free(began);
    double t0 = trace_now_us();
    int rc = updates_apply(ax->g, ax->t, &ax->stage, err);
    double t1 = trace_now_us();
    trace_span(ax->trace, "updates", "ref", t0, t1, ax->nsteps, ax->trace_runs);
    char name[48];
    snprintf(name, sizeof name, "train step %d", ax->trace_runs);
    trace_span(ax->trace, name, "step", start, t1, -1, ax->trace_runs);
    ax->trace_runs++;
    return rc;
}

int arena_exec_run(arena_exec *ax, char *err) {
    if (ax->poison && !ax->mem && ax->mp && ax->mp->arena_bytes) memset(ax->arena, 0xFF, (size_t)ax->mp->arena_bytes);
    if (ax->trace) return run_traced(ax, err);
    struct exec_profile *p = ax->prof;
    for (int s = 0; s < ax->nsteps; s++) {
        double t0 = p ? tnow(p->clock) : 0;
        if (arena_exec_step(ax, s, err) || progress(ax, err)) return -1;
        if (p) {
            double dt = tnow(p->clock) - t0;
            const exec_step *st = &ax->steps[s];
            p->acc[st->kind == STEP_KERNEL ? OP__COUNT : ax->g->nodes[st->node].op] += dt;
            p->per[s] += dt;
        }
    }
    if (p && ++p->runs % 2 == 0) profile_report(ax);
    return updates_apply(ax->g, ax->t, &ax->stage, err);
}
