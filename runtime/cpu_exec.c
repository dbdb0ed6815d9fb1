#include "cpu_exec.h"

#include "cpu_conv_dnnl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int root_of(const cpu_exec *x, int v) {
    int r = x->fp->root[v];
    return r >= 0 ? r : v;
}

static ref_call call_of(const cpu_exec *x, const ir_node *n, char *err);

/* SSLC_CONV=ref|dnnl, else oneDNN */
static cpu_conv_kind conv_kind_env(void) {
    const char *s = getenv("SSLC_CONV");
    return s && !strcmp(s, "ref") ? CPU_CONV_REF : CPU_CONV_DNNL;
}

/* oneDNN primitives for every convolution step, built once; a step oneDNN cannot take keeps
 * the reference kernel */
static int conv_init(cpu_exec *x, cpu_conv_kind kind, char *err) {
    if (kind == CPU_CONV_DEFAULT) kind = conv_kind_env();
    x->conv_h = malloc((size_t)(x->fp->nsteps + 1) * sizeof *x->conv_h);
    if (!x->conv_h) return -1;
    for (int s = 0; s < x->fp->nsteps; s++) x->conv_h[s] = -1;
    if (kind != CPU_CONV_DNNL) return 0;
    for (int s = 0; s < x->fp->nsteps; s++) {
        const exec_step *st = &x->fp->steps[s];
        if (st->kind == STEP_KERNEL) continue;
        const ir_node *n = &x->g->nodes[st->node];
        if (n->op != OP_Conv && n->op != OP_ConvGradInput && n->op != OP_ConvGradWeight) continue;
        char why[IR_ERRLEN];
        if (!x->conv) {
            x->conv = cpu_conv_new(CONV_LAYOUT_DEFAULT, CONV_ALGO_DEFAULT, why);
            if (!x->conv) return 0; /* no oneDNN engine: the reference kernels run everything */
        }
        ref_call c = call_of(x, n, why);
        x->conv_h[s] = cpu_conv_prepare(x->conv, &c, why);
        if (x->conv_h[s] >= 0) x->nconv++;
    }
    (void)err;
    return 0;
}

int cpu_exec_init(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                  char *err) {
    return cpu_exec_init_ex(x, g, fp, jit, mp, CPU_CONV_DEFAULT, err);
}

/* The memory plan the cpu backend runs: the plan's, re-made with each oneDNN step's workspace
 * (reordered copies, scratchpad) as a scratch buffer of that step, so workspaces share the arena
 * with the values instead of taking a pool of their own (the largest belong to the first layers,
 * which run while the arena is mostly free). Winograd's workspaces are the largest (the deep
 * layers' weight transforms); while the arena exceeds the plan's by more than an eighth, the
 * Winograd step that saves the most by going direct goes direct. The result is checked like
 * every plan. 0, or -1 with err. */
static int plan_workspaces(cpu_exec *x, const memplan *mp, char *err) {
    const fused_plan *fp = x->fp;
    int ns = fp->nsteps;
    int64_t *need = calloc((size_t)ns + 1, sizeof *need), budget = mp->arena_bytes + mp->arena_bytes / 8;
    int rc = -1;
    if (!need) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int tries = 0;; tries++) {
        for (int si = 0; si < ns; si++) need[si] = (int64_t)cpu_conv_need(x->conv, x->conv_h[si]);
        memplan_free(&x->mp);
        if (memplan_build_scratch(x->g, fp->steps, ns, fp->root, need, &x->mp, x->ws_off, err)) goto out;
        if (x->mp.arena_bytes <= budget || tries > ns) break;
        int best = -1, best_h = -1;
        int64_t best_gain = 0;
        for (int si = 0; si < ns; si++) {
            if (x->conv_h[si] < 0 || !strstr(cpu_conv_impl(x->conv, x->conv_h[si]), "wino")) continue;
            char why[IR_ERRLEN];
            ref_call c = call_of(x, &x->g->nodes[fp->steps[si].node], why);
            int h = cpu_conv_prepare_direct(x->conv, &c, why);
            int64_t gain = need[si] - (int64_t)cpu_conv_need(x->conv, h);
            if (h >= 0 && gain > best_gain) best = si, best_h = h, best_gain = gain;
        }
        if (best < 0) break;
        x->conv_h[best] = best_h;
    }
    rc = memplan_check_scratch(x->g, fp->steps, ns, fp->root, &x->mp, need, x->ws_off, err);
out:
    free(need);
    return rc;
}

int cpu_exec_init_ex(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                     cpu_conv_kind conv, char *err) {
    memset(x, 0, sizeof *x);
    x->g = g, x->fp = fp, x->jit = jit;
    x->t = calloc((size_t)g->nvals + 1, sizeof *x->t);
    x->owned = calloc((size_t)g->nvals + 1, 1);
    x->ws_off = malloc(((size_t)fp->nsteps + 1) * sizeof *x->ws_off);
    if (!x->t || !x->owned || !x->ws_off) goto oom;
    for (int s = 0; s < fp->nsteps; s++) x->ws_off[s] = -1;
    for (int v = 0; v < g->nvals; v++) {
        if (fp->root[v] != v) continue; /* views share their source's storage */
        x->t[v].dtype = g->vals[v].dtype;
        x->t[v].shape = g->vals[v].shape;
        x->t[v].numel = ir_numel(&g->vals[v].shape);
    }
    /* the primitives first: their workspaces are placed in the arena */
    if (conv_init(x, conv, err)) goto oom;
    if (mp && x->nconv) {
        char why[IR_ERRLEN];
        if (plan_workspaces(x, mp, why)) {
            snprintf(err, IR_ERRLEN, "planning the oneDNN workspaces: %.400s", why);
            cpu_exec_free(x);
            return -1;
        }
        mp = &x->mp;
    }
    if (mp) {
        x->arena_bytes = mp->arena_bytes;
        x->arena = aligned_alloc(64, (size_t)((x->arena_bytes + 63) / 64 * 64 + 64));
        x->persistent = aligned_alloc(64, (size_t)((mp->persistent_bytes + 63) / 64 * 64 + 64));
        if (!x->arena || !x->persistent) goto oom;
        memset(x->persistent, 0, (size_t)mp->persistent_bytes);
    }
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (fp->root[v] != v) continue;
        ref_tensor *t = &x->t[v];
        size_t bytes = (size_t)t->numel * ir_dtype_size(val->dtype);
        const exec_loc *loc = mp ? &mp->loc[v] : NULL;
        if (loc && loc->kind == LOC_ARENA)
            t->data = x->arena + loc->offset;
        else if (loc && loc->kind == LOC_PERSISTENT)
            t->data = x->persistent + loc->offset;
        else {
            t->data = calloc(1, bytes ? bytes : 1);
            x->owned[v] = 1;
        }
        if (!t->data) goto oom;
        if (val->kind == VK_CONST && val->data) memcpy(t->data, val->data, bytes);
    }
    return 0;
oom:
    snprintf(err, IR_ERRLEN, "out of memory setting up the cpu backend");
    cpu_exec_free(x);
    return -1;
}

void cpu_exec_free(cpu_exec *x) {
    if (x->t)
        for (int v = 0; v < x->g->nvals; v++)
            if (x->owned[v]) free(x->t[v].data);
    free(x->t);
    free(x->owned);
    free(x->arena);
    free(x->persistent);
    cpu_conv_free(x->conv);
    free(x->conv_h);
    free(x->ws_off);
    memplan_free(&x->mp);
    memset(x, 0, sizeof *x);
}

void *cpu_exec_data(const cpu_exec *x, int v) {
    if (v < 0 || v >= x->g->nvals) return NULL;
    return x->t[root_of(x, v)].data;
}

int cpu_exec_set_f32(cpu_exec *x, int v, const float *src, char *err) {
    void *d = cpu_exec_data(x, v);
    if (!d || x->g->vals[v].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "value %%%d has no float32 storage", v);
        return -1;
    }
    memcpy(d, src, (size_t)ir_numel(&x->g->vals[v].shape) * 4);
    return 0;
}

int cpu_exec_get_f32(const cpu_exec *x, int v, float *dst, char *err) {
    void *d = cpu_exec_data(x, v);
    if (!d || x->g->vals[v].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "value %%%d has no float32 storage", v);
        return -1;
    }
    memcpy(dst, d, (size_t)ir_numel(&x->g->vals[v].shape) * 4);
    return 0;
}

static ref_tensor view_of(const cpu_exec *x, int v) {
    ref_tensor t = x->t[root_of(x, v)];
    t.shape = x->g->vals[v].shape;
    t.numel = ir_numel(&t.shape);
    t.dtype = x->g->vals[v].dtype;
    return t;
}

static ref_call call_of(const cpu_exec *x, const ir_node *n, char *err) {
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    for (int k = 0; k < n->nin; k++) c.in[k] = view_of(x, n->in[k]);
    for (int k = 0; k < n->nout; k++) c.out[k] = view_of(x, n->out[k]);
    return c;
}

int cpu_exec_step(cpu_exec *x, int si, char *err) {
    const exec_step *s = &x->fp->steps[si];
    if (s->kind == STEP_KERNEL) {
        /* per segment: its loads' then its stores' storage */
        void *args[2 * EXEC_MAX_ARGS];
        const fkernel *fk = &x->fp->kernels[s->kernel];
        int na = 0;
        for (int g = 0; g < fk->nseg; g++) {
            const kir *k = &fk->seg[g];
            for (int l = 0; l < k->nloads; l++) args[na++] = x->t[k->loads[l].value].data;
            for (int o = 0; o < k->nstores; o++) args[na++] = x->t[k->stores[o].value].data;
        }
        x->jit->fn[s->kernel](args);
        return 0;
    }
    const ir_node *n = &x->g->nodes[s->node];
    ref_call c = call_of(x, n, err);
    err[0] = 0;
    if (x->conv_h[si] >= 0)
        return x->ws_off[si] >= 0 ? cpu_conv_exec_ws(x->conv, x->conv_h[si], &c, x->arena + x->ws_off[si])
                                  : cpu_conv_exec(x->conv, x->conv_h[si], &c);
    if (ir_optable[n->op]->ref_f32(&c)) {
        if (!err[0]) snprintf(err, IR_ERRLEN, "%s failed", ir_optable[n->op]->name);
        return -1;
    }
    return 0;
}

#include <time.h>
static clockid_t prof_clock = CLOCK_MONOTONIC;
static double tnow(void) {
    struct timespec ts;
    clock_gettime(prof_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* SSLC_PROFILE=1: seconds per op type (library steps) and for fused kernels, on stderr;
 * SSLC_PROFILE=cpu: CPU seconds of the process instead of wall time (steadier on a shared
 * machine; with OMP_WAIT_POLICY=passive it counts work, not spinning) */
/* SSLC_PROFILE_TOP=K adds the K most expensive steps */
static void profile_top(const cpu_exec *x, const double *per, int runs, int k) {
    int *order = malloc((size_t)x->fp->nsteps * sizeof *order), n = x->fp->nsteps;
    if (!order) return;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n && i < k; i++) /* partial selection sort: k is small */
        for (int j = i + 1; j < n; j++)
            if (per[order[j]] > per[order[i]]) {
                int t = order[i];
                order[i] = order[j], order[j] = t;
            }
    for (int i = 0; i < n && i < k; i++) {
        const exec_step *st = &x->fp->steps[order[i]];
        char dom[96] = "", what[160];
        int v = st->nout > 0 ? st->out[0] : -1;
        if (st->kind == STEP_KERNEL) {
            const kir *kk = &x->fp->kernels[st->kernel].seg[0];
            ir_shape_str(&kk->dom, dom, sizeof dom);
            snprintf(what, sizeof what, "kernel %d: %d segment(s), domain %s%s, %d loads, %d stores", st->kernel,
                     x->fp->kernels[st->kernel].nseg, dom, kk->redmask ? " (reduces)" : "", kk->nloads, kk->nstores);
        } else {
            if (v >= 0) ir_shape_str(&x->g->vals[v].shape, dom, sizeof dom);
            snprintf(what, sizeof what, "%s -> %s", ir_optable[x->g->nodes[st->node].op]->name, dom);
        }
        fprintf(stderr, "  %7.4f  step %d  %s  [%s]\n", per[order[i]] / runs, order[i], what,
                v >= 0 && x->g->vals[v].name ? x->g->vals[v].name : "");
    }
    free(order);
}

static void profile_step(const cpu_exec *x, int s, double dt) {
    static double acc[OP__COUNT + 1], *per;
    static int runs, nper;
    const exec_step *st = &x->fp->steps[s];
    acc[st->kind == STEP_KERNEL ? OP__COUNT : x->g->nodes[st->node].op] += dt;
    if (!per && (per = calloc((size_t)x->fp->nsteps, sizeof *per))) nper = x->fp->nsteps;
    if (per && s < nper) per[s] += dt;
    if (s == x->fp->nsteps - 1 && ++runs % 2 == 0) {
        double tot = 0;
        for (int i = 0; i <= OP__COUNT; i++) tot += acc[i];
        fprintf(stderr, "profile over %d steps, %.3f %s/step:", runs, tot / runs,
                prof_clock == CLOCK_MONOTONIC ? "s" : "cpu s");
        for (int i = 0; i <= OP__COUNT; i++)
            if (acc[i] > 0.02 * tot)
                fprintf(stderr, " %s %.0f%% (%.3f)", i == OP__COUNT ? "fused" : ir_optable[i]->name, 100 * acc[i] / tot,
                        acc[i] / runs);
        fprintf(stderr, "\n");
        const char *top = getenv("SSLC_PROFILE_TOP");
        if (top && per && nper == x->fp->nsteps) profile_top(x, per, runs, atoi(top));
    }
}

int cpu_exec_run(cpu_exec *x, char *err) {
    const char *pe = getenv("SSLC_PROFILE");
    int prof = pe != NULL;
    if (prof) prof_clock = !strcmp(pe, "cpu") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    for (int s = 0; s < x->fp->nsteps; s++) {
        double t = prof ? tnow() : 0;
        if (cpu_exec_step(x, s, err)) return -1;
        if (prof) profile_step(x, s, tnow() - t);
    }
    const ir_graph *g = x->g;
    /* updates read pre-step values: stage persistent sources first */
    for (int u = 0; u < g->nupdates; u++) {
        int src = g->updates[u].src, dst = g->updates[u].dst;
        size_t bytes = (size_t)ir_numel(&g->vals[dst].shape) * ir_dtype_size(g->vals[dst].dtype);
        if (g->vals[src].kind != VK_INTER) {
            void *tmp = malloc(bytes ? bytes : 1);
            if (!tmp) {
                snprintf(err, IR_ERRLEN, "out of memory");
                return -1;
            }
            memcpy(tmp, cpu_exec_data(x, src), bytes);
            memcpy(cpu_exec_data(x, dst), tmp, bytes);
            free(tmp);
        } else {
            memcpy(cpu_exec_data(x, dst), cpu_exec_data(x, src), bytes);
        }
    }
    return 0;
}
