#include "cpu_exec.h"

#include "cpu_conv_dnnl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/steps.h"

/* the reference-kernel call of node n with the shapes of its values (data pointers are not
 * read: the primitives are prepared before the executor places anything) */
static ref_call call_of(const cpu_exec *x, const ir_node *n, char *err) {
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    for (int k = 0; k < n->nin; k++) {
        const ir_value *v = &x->core.g->vals[n->in[k]];
        c.in[k] = (ref_tensor){.dtype = v->dtype, .shape = v->shape, .numel = ir_numel(&v->shape)};
    }
    for (int k = 0; k < n->nout; k++) {
        const ir_value *v = &x->core.g->vals[n->out[k]];
        c.out[k] = (ref_tensor){.dtype = v->dtype, .shape = v->shape, .numel = ir_numel(&v->shape)};
    }
    return c;
}

/* SSLC_CONV=ref|dnnl, else oneDNN; CPU_CONV_DEFAULT with err for any other value */
static cpu_conv_kind conv_kind_env(char *err) {
    const char *s = getenv("SSLC_CONV");
    if (s && strcmp(s, "ref") && strcmp(s, "dnnl")) {
        snprintf(err, IR_ERRLEN, "SSLC_CONV=%s is not a convolution library: use dnnl (the default) or ref", s);
        return CPU_CONV_DEFAULT;
    }
    return s && !strcmp(s, "ref") ? CPU_CONV_REF : CPU_CONV_DNNL;
}

/* oneDNN primitives for every convolution step, built once; a step oneDNN cannot take keeps
 * the reference kernel */
static int conv_init(cpu_exec *x, cpu_conv_kind kind, char *err) {
    if (kind == CPU_CONV_DEFAULT && (kind = conv_kind_env(err)) == CPU_CONV_DEFAULT) return -1;
    x->conv_h = malloc((size_t)(x->fp->nsteps + 1) * sizeof *x->conv_h);
    if (!x->conv_h) {
        snprintf(err, IR_ERRLEN, "out of memory setting up the cpu backend");
        return -1;
    }
    for (int s = 0; s < x->fp->nsteps; s++) x->conv_h[s] = -1;
    if (kind != CPU_CONV_DNNL) return 0;
    if (cpu_conv_env_check(err)) return -1;
    for (int s = 0; s < x->fp->nsteps; s++) {
        const exec_step *st = &x->fp->steps[s];
        if (st->kind == STEP_KERNEL) continue;
        const ir_node *n = &x->core.g->nodes[st->node];
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
    return 0;
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
        if (memplan_build_scratch(x->core.g, fp->steps, ns, fp->root, need, &x->mp, x->ws_off, err)) goto out;
        if (x->mp.arena_bytes <= budget || tries > ns) break;
        int best = -1, best_h = -1;
        int64_t best_gain = 0;
        for (int si = 0; si < ns; si++) {
            if (x->conv_h[si] < 0 || !strstr(cpu_conv_impl(x->conv, x->conv_h[si]), "wino")) continue;
            char why[IR_ERRLEN];
            ref_call c = call_of(x, &x->core.g->nodes[fp->steps[si].node], why);
            int h = cpu_conv_prepare_direct(x->conv, &c, why);
            int64_t gain = need[si] - (int64_t)cpu_conv_need(x->conv, h);
            if (h >= 0 && gain > best_gain) best = si, best_h = h, best_gain = gain;
        }
        if (best < 0) break;
        x->conv_h[best] = best_h;
    }
    rc = memplan_check_scratch(x->core.g, fp->steps, ns, fp->root, &x->mp, need, x->ws_off, err);
out:
    free(need);
    return rc;
}

/* the fused kernel of a STEP_KERNEL step: per segment, its loads' then its stores' storage */
static int run_kernel(void *ctx, const arena_exec *ax, int si, char *err) {
    const cpu_exec *x = ctx;
    const exec_step *s = &ax->steps[si];
    void *args[2 * EXEC_MAX_ARGS];
    const fkernel *fk = &x->fp->kernels[s->kernel];
    int na = 0;
    for (int g = 0; g < fk->nseg; g++) {
        const kir *k = &fk->seg[g];
        for (int l = 0; l < k->nloads; l++) args[na++] = arena_exec_data(ax, k->loads[l].value);
        for (int o = 0; o < k->nstores; o++) args[na++] = arena_exec_data(ax, k->stores[o].value);
    }
    (void)err;
    x->jit->fn[s->kernel](args);
    return 0;
}

/* the library-op table's convolution entry: oneDNN when it took the step, else the reference */
static int conv_step(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    const cpu_exec *x = ctx;
    (void)err;
    if (x->conv_h[si] < 0) return ir_ref_run(ir_optable[c->node->op], c, 0);
    return ws ? cpu_conv_exec_ws(x->conv, x->conv_h[si], c, ws) : cpu_conv_exec(x->conv, x->conv_h[si], c);
}

/* the library-op table's collective entries: the reference kernel over the communicator */
static int collective_step(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    const cpu_exec *x = ctx;
    (void)si, (void)ws, (void)err;
    ref_call cc = *c;
    cc.comm = x->comm;
    return ir_optable[c->node->op]->ref_f32(&cc);
}

int cpu_exec_init(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                  char *err) {
    return cpu_exec_init_ex(x, g, fp, jit, mp, CPU_CONV_DEFAULT, err);
}

/* The bytes the update phase will stage, from the memory plan alone (before the regions exist):
 * the same rule as updates_stage_need (a source sharing bytes with some update's destination),
 * on planned offsets; a view starts at its root's offset. */
static int64_t planned_stage(const ir_graph *g, const int *root, const memplan *mp) {
    int64_t need = 0;
    for (int u = 0; u < g->nupdates; u++) {
        int s = g->updates[u].src, rs = exec_root(root, s);
        if (rs < 0 || mp->loc[rs].kind == LOC_NONE) continue;
        int64_t sb = ir_numel(&g->vals[s].shape) * (int64_t)ir_dtype_size(g->vals[s].dtype);
        int64_t so = mp->loc[rs].offset;
        for (int w = 0; w < g->nupdates; w++) {
            int d = g->updates[w].dst, rd = exec_root(root, d);
            if (rd < 0 || mp->loc[rd].kind != mp->loc[rs].kind) continue;
            int64_t db = ir_numel(&g->vals[d].shape) * (int64_t)ir_dtype_size(g->vals[d].dtype);
            int64_t dof = mp->loc[rd].offset;
            if (so < dof + db && dof < so + sb) {
                need += (sb + 63) / 64 * 64;
                break;
            }
        }
    }
    return need;
}

int cpu_exec_init_ex(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                     cpu_conv_kind conv, char *err) {
    if (cpu_exec_prepare(x, g, fp, jit, mp, conv, err)) return -1;
    return cpu_exec_place(x, err);
}

int cpu_exec_prepare(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                     cpu_conv_kind conv, char *err) {
    memset(x, 0, sizeof *x);
    x->core.g = g; /* conv_init and plan_workspaces read the graph before the core is placed */
    x->fp = fp, x->jit = jit;
    x->ws_off = malloc(((size_t)fp->nsteps + 1) * sizeof *x->ws_off);
    if (!x->ws_off) goto oom;
    for (int s = 0; s < fp->nsteps; s++) x->ws_off[s] = -1;
    /* the primitives first: their workspaces are placed in the arena */
    if (conv_init(x, conv, err)) {
        cpu_exec_free(x);
        return -1;
    }
    if (mp && x->nconv) {
        char why[IR_ERRLEN];
        if (plan_workspaces(x, mp, why)) {
            snprintf(err, IR_ERRLEN, "planning the oneDNN workspaces: %.400s", why);
            cpu_exec_free(x);
            return -1;
        }
        mp = &x->mp;
    }
    x->arena_bytes = mp ? mp->arena_bytes : 0;
    x->persistent_bytes = mp ? mp->persistent_bytes : 0;
    x->stage_bytes = mp ? planned_stage(g, fp->root, mp) : 0;
    x->run_mp = mp;
    return 0;
oom:
    snprintf(err, IR_ERRLEN, "out of memory setting up the cpu backend");
    cpu_exec_free(x);
    return -1;
}

int cpu_exec_place(cpu_exec *x, char *err) {
    const fused_plan *fp = x->fp;
    if (arena_exec_init(&x->core, x->core.g, fp->steps, fp->nsteps, fp->root, x->run_mp, x->ws_off, err)) {
        cpu_exec_free(x);
        return -1;
    }
    x->core.kernel = run_kernel, x->core.kernel_ctx = x;
    x->core.lib.ctx = x;
    if (x->nconv)
        x->core.lib.op[OP_Conv] = x->core.lib.op[OP_ConvGradInput] = x->core.lib.op[OP_ConvGradWeight] = conv_step;
    for (int op = 0; op < OP__COUNT; op++)
        if (ir_optable[op]->flags & OPF_COLLECTIVE) x->core.lib.op[op] = collective_step;
    x->core.comm = x->comm;
    return 0;
}

void cpu_exec_free(cpu_exec *x) {
    arena_exec_free(&x->core);
    cpu_conv_free(x->conv);
    free(x->conv_h);
    free(x->ws_off);
    memplan_free(&x->mp);
    memset(x, 0, sizeof *x);
}

void *cpu_exec_data(const cpu_exec *x, int v) { return arena_exec_data(&x->core, v); }

static int check_f32(const cpu_exec *x, int v, char *err) {
    if (!cpu_exec_data(x, v) || x->core.g->vals[v].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "value %%%d has no float32 storage", v);
        return -1;
    }
    return 0;
}

int cpu_exec_set_f32(cpu_exec *x, int v, const float *src, char *err) {
    if (check_f32(x, v, err)) return -1;
    memcpy(cpu_exec_data(x, v), src, (size_t)ir_numel(&x->core.g->vals[v].shape) * 4);
    return 0;
}

int cpu_exec_get_f32(const cpu_exec *x, int v, float *dst, char *err) {
    if (check_f32(x, v, err)) return -1;
    memcpy(dst, cpu_exec_data(x, v), (size_t)ir_numel(&x->core.g->vals[v].shape) * 4);
    return 0;
}

int cpu_exec_step(cpu_exec *x, int s, char *err) { return arena_exec_step(&x->core, s, err); }

int cpu_exec_run(cpu_exec *x, char *err) { return arena_exec_run(&x->core, err); }
