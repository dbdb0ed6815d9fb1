/* Checking a compiled step read from a file before anything runs it: a plan file is data from
 * outside, so every index the executor will follow is proven in range, and the memory plan is
 * proven by the same overlap checker that checks freshly built plans. */
#include <stdio.h>
#include <string.h>

#include "../ir/graph_hash.h"
#include "../passes/steps.h"
#include "compiled_step.h"

#define STEP_MAX_BYTES ((int64_t)1 << 48) /* largest arena or persistent region accepted */

static int bad(char *err, const char *what) {
    snprintf(err, IR_ERRLEN, "%s", what);
    return -1;
}

int compiled_step_link(compiled_step *cs, char *err) {
    fused_plan *fp = &cs->ep.fp;
    const ir_graph *g = &cs->ep.lowered;
    cs->ep.nkernels = cs->ep.nlibrary = 0;
    for (int s = 0; s < fp->nsteps; s++) {
        exec_step *st = &fp->steps[s];
        int nplace = st->nout; /* in-place offers were stored before the outputs were known */
        st->nin = st->nout = 0;
        if (st->kind == STEP_NODE) {
            if (st->node < 0 || st->node >= g->nnodes) {
                snprintf(err, IR_ERRLEN, "launch %d runs node %d, out of range (%d nodes)", s, st->node, g->nnodes);
                return -1;
            }
            const ir_node *n = &g->nodes[st->node];
            st->nin = n->nin;
            st->nout = n->nout;
            memcpy(st->in, n->in, sizeof(int) * (size_t)n->nin);
            memcpy(st->out, n->out, sizeof(int) * (size_t)n->nout);
            cs->ep.nlibrary++;
        } else {
            if (st->kernel < 0 || st->kernel >= fp->nkernels) {
                snprintf(err, IR_ERRLEN, "launch %d runs kernel %d, out of range (%d kernels)", s, st->kernel,
                         fp->nkernels);
                return -1;
            }
            const fkernel *fk = &fp->kernels[st->kernel];
            for (int j = 0; j < fk->nseg; j++) {
                const kir *k = &fk->seg[j];
                if (st->nin + k->nloads > EXEC_MAX_ARGS || st->nout + k->nstores > EXEC_MAX_ARGS) {
                    snprintf(err, IR_ERRLEN, "launch %d: kernel %d has more than %d inputs or outputs", s, st->kernel,
                             EXEC_MAX_ARGS);
                    return -1;
                }
                for (int l = 0; l < k->nloads; l++) st->in[st->nin++] = k->loads[l].value;
                for (int o = 0; o < k->nstores; o++) st->out[st->nout++] = k->stores[o].value;
            }
            cs->ep.nkernels++;
        }
        if (nplace > st->nout) {
            snprintf(err, IR_ERRLEN, "launch %d: %d in-place offers for %d outputs", s, nplace, st->nout);
            return -1;
        }
    }
    return 0;
}

/* kernel arguments: values with storage of their own (kernels address storage roots) */
static int check_kernels(const compiled_step *cs, char *err) {
    const fused_plan *fp = &cs->ep.fp;
    const ir_graph *g = &cs->ep.lowered;
    if (!cs->c_src) return bad(err, "the kernels' C sources are missing");
    for (int i = 0; i < fp->nkernels; i++) {
        const fkernel *fk = &fp->kernels[i];
        if (fk->nseg < 1 || fk->nseg > STEP_MAX_SEGS) {
            snprintf(err, IR_ERRLEN, "kernel %d has %d segments (1..%d)", i, fk->nseg, STEP_MAX_SEGS);
            return -1;
        }
        if (!cs->c_src[i] || (cs->cuda_src && !cs->cuda_src[i])) {
            snprintf(err, IR_ERRLEN, "kernel %d has no source", i);
            return -1;
        }
        for (int j = 0; j < fk->nseg; j++) {
            const kir *k = &fk->seg[j];
            if (k->dom.ndim < 0 || k->dom.ndim > IR_MAX_DIMS || k->redmask >> k->dom.ndim || k->nstores < 1) {
                snprintf(err, IR_ERRLEN, "kernel %d segment %d: bad domain, reduced axes or no stores", i, j);
                return -1;
            }
            for (int d = 0; d < k->dom.ndim; d++)
                if (k->dom.d[d] < 0) {
                    snprintf(err, IR_ERRLEN, "kernel %d segment %d: negative domain extent", i, j);
                    return -1;
                }
            for (int a = 0; a < k->nloads + k->nstores; a++) {
                int v = a < k->nloads ? k->loads[a].value : k->stores[a - k->nloads].value;
                if (v < 0 || v >= g->nvals || fp->root[v] != v) {
                    snprintf(err, IR_ERRLEN, "kernel %d segment %d: argument %d is value %d, %s", i, j, a, v,
                             v < 0 || v >= g->nvals ? "out of range" : "which has no storage of its own");
                    return -1;
                }
            }
        }
    }
    /* each kernel is launched exactly once */
    for (int i = 0; i < fp->nkernels; i++) {
        int uses = 0;
        for (int s = 0; s < fp->nsteps; s++) uses += fp->steps[s].kind == STEP_KERNEL && fp->steps[s].kernel == i;
        if (uses != 1) {
            snprintf(err, IR_ERRLEN, "kernel %d is launched %d times (once expected)", i, uses);
            return -1;
        }
    }
    return 0;
}

/* storage roots: a value's own storage, a view's source's, or none (lives inside a kernel) */
static int check_roots(const compiled_step *cs, char *err) {
    const ir_graph *g = &cs->ep.lowered;
    const int *root = cs->ep.fp.root;
    for (int v = 0; v < g->nvals; v++) {
        int r = root[v];
        if (r < -1 || r >= g->nvals) {
            snprintf(err, IR_ERRLEN, "value %d has storage root %d, out of range", v, r);
            return -1;
        }
        if (g->vals[v].kind != VK_INTER && r != v) {
            snprintf(err, IR_ERRLEN, "%s value %d does not have storage of its own", ir_kind_name(g->vals[v].kind), v);
            return -1;
        }
        if (r < 0 || r == v) continue;
        int p = g->vals[v].producer;
        const ir_node *n = p >= 0 ? &g->nodes[p] : NULL;
        if (!n || (n->op != OP_Reshape && n->op != OP_Flatten) || root[r] != r || root[n->in[0]] != r ||
            g->vals[r].dtype != g->vals[v].dtype) {
            snprintf(err, IR_ERRLEN, "value %d shares the storage of value %d but is not a view of it", v, r);
            return -1;
        }
    }
    return 0;
}

static int check_memory(const compiled_step *cs, char *err) {
    const memplan *mp = &cs->ep.mp;
    const ir_graph *g = &cs->ep.lowered;
    if (mp->nvals != g->nvals || !mp->loc) {
        snprintf(err, IR_ERRLEN, "the memory plan places %d values, the lowered graph has %d", mp->nvals, g->nvals);
        return -1;
    }
    if (mp->arena_bytes < 0 || mp->arena_bytes > STEP_MAX_BYTES || mp->persistent_bytes < 0 ||
        mp->persistent_bytes > STEP_MAX_BYTES) {
        snprintf(err, IR_ERRLEN, "the memory plan's arena (%lld bytes) or persistent region (%lld bytes) is out of range",
                 (long long)mp->arena_bytes, (long long)mp->persistent_bytes);
        return -1;
    }
    /* no region is larger than its values side by side (what a plan without any reuse takes):
     * a larger one is not a plan of this graph, and would only make the runtime ask for memory */
    int64_t arena_max = 0, persistent_max = 0;
    for (int v = 0; v < g->nvals; v++) {
        int64_t b = (exec_value_bytes(g, v) + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN;
        if (cs->ep.fp.root[v] != v) continue;
        if (g->vals[v].kind != VK_INTER)
            persistent_max += b;
        else if (mp->loc[v].kind == LOC_ARENA)
            arena_max += b;
        if (arena_max > STEP_MAX_BYTES) arena_max = STEP_MAX_BYTES; /* no overflow: b < 2^44 */
        if (persistent_max > STEP_MAX_BYTES) persistent_max = STEP_MAX_BYTES;
    }
    if (mp->arena_bytes > arena_max || mp->persistent_bytes > persistent_max) {
        snprintf(err, IR_ERRLEN,
                 "the memory plan's arena (%lld bytes) or persistent region (%lld bytes) is larger than its values "
                 "side by side (%lld, %lld)",
                 (long long)mp->arena_bytes, (long long)mp->persistent_bytes, (long long)arena_max,
                 (long long)persistent_max);
        return -1;
    }
    for (int v = 0; v < g->nvals; v++) {
        const exec_loc *l = &mp->loc[v];
        if (l->kind == LOC_NONE) continue;
        if (l->offset < 0 || l->offset > STEP_MAX_BYTES ||
            l->offset + l->bytes > (l->kind == LOC_ARENA ? mp->arena_bytes : mp->persistent_bytes)) {
            snprintf(err, IR_ERRLEN, "value %d lies outside its %s (offset %lld, %lld bytes)", v,
                     l->kind == LOC_ARENA ? "arena" : "persistent region", (long long)l->offset, (long long)l->bytes);
            return -1;
        }
    }
    char why[IR_ERRLEN];
    if (memplan_check_ex(g, cs->ep.fp.steps, cs->ep.fp.nsteps, cs->ep.fp.root, mp, why)) {
        snprintf(err, IR_ERRLEN, "memory plan: %.480s", why);
        return -1;
    }
    return 0;
}

static int check_cubins(const compiled_step *cs, char *err) {
    if (cs->ncubins && !cs->cuda_src) return bad(err, "CUBIN without CUDA sources");
    for (int i = 0; i < cs->ncubins; i++) {
        if (cs->cubin[i].arch < 50 || cs->cubin[i].arch > 200 || !cs->cubin[i].size) {
            snprintf(err, IR_ERRLEN, "CUBIN %d: architecture sm_%d or size %zu is invalid", i, cs->cubin[i].arch,
                     cs->cubin[i].size);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (cs->cubin[j].arch == cs->cubin[i].arch) {
                snprintf(err, IR_ERRLEN, "two CUBIN images for sm_%d", cs->cubin[i].arch);
                return -1;
            }
    }
    return 0;
}

int compiled_step_check(const ir_graph *train, const compiled_step *cs, char *err) {
    uint64_t h = ir_graph_hash(train);
    if (h != cs->graph_hash) {
        snprintf(err, IR_ERRLEN,
                 "the compiled step was made for another train graph (hash %016llx, the graph's is %016llx): "
                 "recompile the plan",
                 (unsigned long long)cs->graph_hash, (unsigned long long)h);
        return -1;
    }
    char why[IR_ERRLEN];
    if (check_roots(cs, err) || check_kernels(cs, err) || check_cubins(cs, err)) return -1;
    if (exec_steps_validate(&cs->ep.lowered, cs->ep.fp.steps, cs->ep.fp.nsteps, why)) {
        snprintf(err, IR_ERRLEN, "launch list: %.480s", why);
        return -1;
    }
    if (check_memory(cs, err)) return -1;
    if (compiled_step_kernels_hash(cs) != cs->kernels_hash)
        return bad(err, "the stored kernels do not match their recorded hash (edited or damaged): recompile the plan");
    return 0;
}
