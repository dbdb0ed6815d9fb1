/* The compiled step in the plan file (CompiledStep in runtime/plan.proto): encoding, and a
 * decoding that refuses, with one line, anything compiled_step_check cannot prove safe. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/steps.h"
#include "planfile_impl.h"

_Static_assert(sizeof(int) == sizeof(int32_t), "value ids are stored as int32");

#define PLAN_MAX_KERNELS (1 << 20)

/* ---- encoding ---- */

void plan_enc_step_free(enc_step *e) {
    plan_enc_graph_free(&e->lowered);
    free(e->launch);
    free(e->launchp);
    free(e->inplace);
    free(e->kern);
    free(e->kernp);
    free(e->seg);
    free(e->segp);
    free(e->args);
    free(e->loc_kind);
    free(e->loc_off);
    memset(e, 0, sizeof *e);
}

static void enc_launches(enc_step *e, const fused_plan *fp) {
    for (int s = 0; s < fp->nsteps; s++) {
        const exec_step *st = &fp->steps[s];
        Sslc__Launch *l = &e->launch[s];
        sslc__launch__init(l);
        l->fused = st->kind == STEP_KERNEL;
        l->index = l->fused ? st->kernel : st->node;
        int any = 0;
        for (int k = 0; k < st->nout; k++) any |= st->inplace[k] >= 0;
        if (any) { /* only launches with an offer store the list */
            l->n_inplace = (size_t)st->nout;
            l->inplace = &e->inplace[(size_t)s * EXEC_MAX_ARGS];
            for (int k = 0; k < st->nout; k++) l->inplace[k] = st->inplace[k];
        }
        e->launchp[s] = l;
    }
}

static void enc_kernels(enc_step *e, const compiled_step *cs) {
    const fused_plan *fp = &cs->ep.fp;
    size_t si = 0, ai = 0;
    for (int i = 0; i < fp->nkernels; i++) {
        const fkernel *fk = &fp->kernels[i];
        Sslc__Kernel *kp = &e->kern[i];
        sslc__kernel__init(kp);
        kp->n_segments = (size_t)fk->nseg;
        kp->segments = &e->segp[si];
        for (int j = 0; j < fk->nseg; j++, si++) {
            const kir *k = &fk->seg[j];
            Sslc__Segment *sp = &e->seg[si];
            sslc__segment__init(sp);
            sp->n_dom = (size_t)k->dom.ndim;
            sp->dom = (int64_t *)k->dom.d;
            sp->redmask = k->redmask;
            sp->n_loads = (size_t)k->nloads;
            sp->loads = &e->args[ai];
            for (int l = 0; l < k->nloads; l++) e->args[ai++] = k->loads[l].value;
            sp->n_stores = (size_t)k->nstores;
            sp->stores = &e->args[ai];
            for (int o = 0; o < k->nstores; o++) e->args[ai++] = k->stores[o].value;
            e->segp[si] = sp;
        }
        kp->c_source = cs->c_src[i];
        if (cs->cuda_src) kp->cuda_source = cs->cuda_src[i];
        e->kernp[i] = kp;
    }
}

int plan_enc_step(enc_step *e, const compiled_step *cs, const ir_graph *train, char *err) {
    memset(e, 0, sizeof *e);
    sslc__compiled_step__init(&e->step);
    const exec_plan *ep = &cs->ep;
    const fused_plan *fp = &ep->fp;
    const ir_graph *g = &ep->lowered;
    if (plan_enc_graph(&e->lowered, g, "lowered", train, err)) return -1;
    size_t ns = (size_t)fp->nsteps, nk = (size_t)fp->nkernels, nseg = 0, nargs = 0, nv = (size_t)g->nvals;
    for (int i = 0; i < fp->nkernels; i++)
        for (int j = 0; j < fp->kernels[i].nseg; j++, nseg++)
            nargs += (size_t)(fp->kernels[i].seg[j].nloads + fp->kernels[i].seg[j].nstores);
    e->launch = calloc(ns + 1, sizeof *e->launch);
    e->launchp = calloc(ns + 1, sizeof *e->launchp);
    e->inplace = calloc((ns + 1) * EXEC_MAX_ARGS, sizeof *e->inplace);
    e->kern = calloc(nk + 1, sizeof *e->kern);
    e->kernp = calloc(nk + 1, sizeof *e->kernp);
    e->seg = calloc(nseg + 1, sizeof *e->seg);
    e->segp = calloc(nseg + 1, sizeof *e->segp);
    e->args = calloc(nargs + 1, sizeof *e->args);
    e->loc_kind = calloc(nv + 1, sizeof *e->loc_kind);
    e->loc_off = calloc(nv + 1, sizeof *e->loc_off);
    if (!e->launch || !e->launchp || !e->inplace || !e->kern || !e->kernp || !e->seg || !e->segp || !e->args ||
        !e->loc_kind || !e->loc_off || !cs->c_src || (size_t)ep->mp.nvals != nv || !ep->mp.loc) {
        snprintf(err, IR_ERRLEN, "out of memory encoding the compiled step");
        return -1;
    }
    enc_launches(e, fp);
    enc_kernels(e, cs);
    sslc__memory_plan__init(&e->mem);
    e->mem.arena_bytes = ep->mp.arena_bytes;
    e->mem.persistent_bytes = ep->mp.persistent_bytes;
    e->mem.sum_bytes = ep->mp.sum_bytes;
    e->mem.peak_bytes = ep->mp.peak_bytes;
    e->mem.nbuffers = ep->mp.nbuffers;
    for (size_t v = 0; v < nv; v++) {
        e->loc_kind[v] = ep->mp.loc[v].kind == LOC_PERSISTENT ? 1 : ep->mp.loc[v].kind == LOC_ARENA ? 2 : 0;
        e->loc_off[v] = ep->mp.loc[v].offset;
    }
    e->mem.n_kind = e->mem.n_offset = nv;
    e->mem.kind = e->loc_kind;
    e->mem.offset = e->loc_off;
    for (int i = 0; i < cs->ncubins; i++) {
        sslc__cubin__init(&e->cubin[i]);
        e->cubin[i].arch = (uint32_t)cs->cubin[i].arch;
        e->cubin[i].image.data = cs->cubin[i].image;
        e->cubin[i].image.len = cs->cubin[i].size;
        e->cubinp[i] = &e->cubin[i];
    }
    Sslc__CompiledStep *p = &e->step;
    p->graph_hash = cs->graph_hash;
    p->lowered = &e->lowered.graph;
    p->n_root = nv;
    p->root = (int32_t *)fp->root;
    p->n_launches = ns;
    p->launches = e->launchp;
    p->n_kernels = nk;
    p->kernels = e->kernp;
    p->memory = &e->mem;
    p->n_cubins = (size_t)cs->ncubins;
    p->cubins = e->cubinp;
    p->kernels_hash = cs->kernels_hash;
    p->merged = ep->merged;
    return 0;
}

/* ---- decoding ---- */

static int sfail(const dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sfail(const dctx *c, const char *fmt, ...) {
    char msg[IR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char full[2 * IR_ERRLEN];
    snprintf(full, sizeof full, "%s: compiled step: %s", c->what, msg);
    size_t n = strlen(full) < IR_ERRLEN ? strlen(full) : IR_ERRLEN - 1;
    memcpy(c->err, full, n);
    c->err[n] = 0;
    for (char *q = c->err; *q; q++) /* one line */
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return -1;
}

static char *dup_src(const char *s) { return strdup(s ? s : ""); }

static int dec_kernels(const dctx *c, const Sslc__CompiledStep *pc, compiled_step *cs) {
    fused_plan *fp = &cs->ep.fp;
    size_t nk = pc->n_kernels;
    if (nk > PLAN_MAX_KERNELS) return sfail(c, "%zu kernels", nk);
    int cuda = nk > 0 && pc->kernels[0]->cuda_source && pc->kernels[0]->cuda_source[0];
    fp->kernels = calloc(nk + 1, sizeof *fp->kernels);
    cs->c_src = calloc(nk + 1, sizeof *cs->c_src);
    if (cuda) cs->cuda_src = calloc(nk + 1, sizeof *cs->cuda_src);
    if (!fp->kernels || !cs->c_src || (cuda && !cs->cuda_src)) return sfail(c, "out of memory");
    fp->nkernels = (int)nk; /* from here on compiled_step_free frees what is filled */
    for (size_t i = 0; i < nk; i++) {
        const Sslc__Kernel *pk = pc->kernels[i];
        if (pk->n_segments < 1 || pk->n_segments > STEP_MAX_SEGS)
            return sfail(c, "kernel %zu has %zu segments (1..%d)", i, pk->n_segments, STEP_MAX_SEGS);
        fkernel *fk = &fp->kernels[i];
        fk->seg = calloc(pk->n_segments, sizeof *fk->seg);
        if (!fk->seg) return sfail(c, "out of memory");
        fk->nseg = (int)pk->n_segments;
        for (size_t j = 0; j < pk->n_segments; j++) {
            const Sslc__Segment *ps = pk->segments[j];
            kir *k = &fk->seg[j];
            if (ps->n_dom > IR_MAX_DIMS || ps->n_loads > KIR_MAX_LOADS || ps->n_stores > KIR_MAX_STORES)
                return sfail(c, "kernel %zu segment %zu: %zu dims, %zu loads, %zu stores (at most %d, %d, %d)", i, j,
                             ps->n_dom, ps->n_loads, ps->n_stores, IR_MAX_DIMS, KIR_MAX_LOADS, KIR_MAX_STORES);
            k->dom.ndim = (int)ps->n_dom;
            for (size_t d = 0; d < ps->n_dom; d++) k->dom.d[d] = ps->dom[d];
            k->redmask = ps->redmask;
            k->nloads = (int)ps->n_loads;
            for (size_t l = 0; l < ps->n_loads; l++) k->loads[l].value = ps->loads[l];
            k->nstores = (int)ps->n_stores;
            for (size_t o = 0; o < ps->n_stores; o++) k->stores[o].value = ps->stores[o];
        }
        int has_cuda = pk->cuda_source && pk->cuda_source[0];
        if (has_cuda != cuda) return sfail(c, "kernel %zu: CUDA source %s, unlike kernel 0", i, has_cuda ? "present" : "missing");
        if (!(cs->c_src[i] = dup_src(pk->c_source)) || (cuda && !(cs->cuda_src[i] = dup_src(pk->cuda_source))))
            return sfail(c, "out of memory");
    }
    return 0;
}

static int dec_launches(const dctx *c, const Sslc__CompiledStep *pc, compiled_step *cs) {
    fused_plan *fp = &cs->ep.fp;
    size_t ns = pc->n_launches;
    if (ns > (size_t)cs->ep.lowered.nnodes + 1) return sfail(c, "%zu launches for %d nodes", ns, cs->ep.lowered.nnodes);
    fp->steps = calloc(ns + 1, sizeof *fp->steps);
    if (!fp->steps) return sfail(c, "out of memory");
    fp->nsteps = (int)ns;
    for (size_t s = 0; s < ns; s++) {
        const Sslc__Launch *pl = pc->launches[s];
        exec_step *st = &fp->steps[s];
        st->kind = pl->fused ? STEP_KERNEL : STEP_NODE;
        st->node = pl->fused ? -1 : pl->index;
        st->kernel = pl->fused ? pl->index : -1;
        if (pl->n_inplace > EXEC_MAX_ARGS) return sfail(c, "launch %zu has %zu in-place offers", s, pl->n_inplace);
        for (int k = 0; k < EXEC_MAX_ARGS; k++) st->inplace[k] = -1;
        for (size_t k = 0; k < pl->n_inplace; k++) {
            if (pl->inplace[k] < -1 || pl->inplace[k] >= EXEC_MAX_ARGS)
                return sfail(c, "launch %zu: in-place offer %d out of range", s, (int)pl->inplace[k]);
            st->inplace[k] = pl->inplace[k];
        }
        st->nout = (int)pl->n_inplace; /* compiled_step_link checks it against the outputs */
    }
    return 0;
}

static int dec_memory(const dctx *c, const Sslc__CompiledStep *pc, compiled_step *cs) {
    const Sslc__MemoryPlan *pm = pc->memory;
    const ir_graph *g = &cs->ep.lowered;
    memplan *mp = &cs->ep.mp;
    size_t nv = (size_t)g->nvals;
    if (!pm) return sfail(c, "no memory plan");
    if (pm->n_kind != nv || pm->n_offset != nv)
        return sfail(c, "the memory plan places %zu values (%zu offsets), the lowered graph has %zu", pm->n_kind,
                     pm->n_offset, nv);
    mp->loc = calloc(nv + 1, sizeof *mp->loc);
    if (!mp->loc) return sfail(c, "out of memory");
    mp->nvals = (int)nv;
    for (size_t v = 0; v < nv; v++) {
        if (pm->kind[v] > 2) return sfail(c, "value %zu has an unknown location kind %u", v, pm->kind[v]);
        exec_loc *l = &mp->loc[v];
        l->kind = pm->kind[v] == 1 ? LOC_PERSISTENT : pm->kind[v] == 2 ? LOC_ARENA : LOC_NONE;
        l->offset = pm->offset[v];
        l->bytes = l->kind == LOC_NONE ? 0 : exec_value_bytes(g, (int)v);
    }
    mp->arena_bytes = pm->arena_bytes;
    mp->persistent_bytes = pm->persistent_bytes;
    mp->sum_bytes = pm->sum_bytes;
    mp->peak_bytes = pm->peak_bytes;
    mp->nbuffers = pm->nbuffers;
    return 0;
}

static int dec_cubins(const dctx *c, const Sslc__CompiledStep *pc, compiled_step *cs) {
    if (pc->n_cubins > STEP_MAX_ARCHS) return sfail(c, "%zu CUBIN images (at most %d)", pc->n_cubins, STEP_MAX_ARCHS);
    for (size_t i = 0; i < pc->n_cubins; i++) {
        const Sslc__Cubin *pb = pc->cubins[i];
        step_cubin *cb = &cs->cubin[cs->ncubins];
        cb->arch = pb->arch > 1000 ? -1 : (int)pb->arch;
        cb->size = pb->image.len;
        cb->image = malloc(cb->size ? cb->size : 1);
        if (!cb->image) return sfail(c, "out of memory");
        cs->ncubins++;
        if (cb->size) memcpy(cb->image, pb->image.data, cb->size);
    }
    return 0;
}

int plan_dec_step(const dctx *c0, const Sslc__CompiledStep *pc, const ir_graph *train, compiled_step *cs) {
    memset(cs, 0, sizeof *cs);
    dctx c = *c0;
    c.gname = "lowered";
    c.data_src = train;
    if (!pc->lowered) return sfail(&c, "no lowered graph");
    if (pc->lowered->compiled) return sfail(&c, "the lowered graph carries a compiled step of its own");
    if (plan_dec_graph(&c, pc->lowered, &cs->ep.lowered)) return -1;
    const ir_graph *g = &cs->ep.lowered;
    fused_plan *fp = &cs->ep.fp;
    fp->g = g;
    if (pc->n_root != (size_t)g->nvals)
        return sfail(&c, "%zu storage roots for %d values of the lowered graph", pc->n_root, g->nvals);
    fp->root = malloc(((size_t)g->nvals + 1) * sizeof *fp->root);
    if (!fp->root) return sfail(&c, "out of memory");
    if (g->nvals) memcpy(fp->root, pc->root, (size_t)g->nvals * sizeof *fp->root);
    if (dec_kernels(&c, pc, cs) || dec_launches(&c, pc, cs) || dec_memory(&c, pc, cs) || dec_cubins(&c, pc, cs))
        return -1;
    cs->graph_hash = pc->graph_hash;
    cs->kernels_hash = pc->kernels_hash;
    cs->ep.merged = pc->merged;
    char why[IR_ERRLEN];
    if (compiled_step_link(cs, why) || compiled_step_check(train, cs, why)) return sfail(&c, "%s", why);
    return 0;
}
