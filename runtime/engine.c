#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/jit.h"
#include "../passes/fusion.h"
#include "../passes/pipeline.h"
#include "cpu_exec.h"
#include "cuda_check.h"
#include "init.h"
#include "interp.h"
#include "planfile.h"

struct engine {
    engine_kind kind;
    const ir_graph *g; /* the graph values are addressed in */
    interp it;         /* ENGINE_REF */
    exec_plan ep;      /* ENGINE_CPU: the step built here (unused when the plan holds one) */
    const exec_plan *run; /* the step that runs: &ep, or the plan's stored step */
    jit_module jm;
    cpu_exec cx;
};

int engine_kind_parse(const char *s, engine_kind *k, char *err) {
    if (!strcmp(s, "ref") || !strcmp(s, "reference"))
        *k = ENGINE_REF;
    else if (!strcmp(s, "cpu"))
        *k = ENGINE_CPU;
    else if (!strcmp(s, "cuda"))
        *k = ENGINE_CUDA;
    else {
        snprintf(err, IR_ERRLEN, "unknown device '%s' (choose one of: cpu, cuda, ref)", s);
        return -1;
    }
    return 0;
}

const char *engine_kind_name(engine_kind k) { return k == ENGINE_REF ? "ref" : k == ENGINE_CPU ? "cpu" : "cuda"; }

/* the cpu backend over a built or stored step; src: the stored kernels' C translation unit
 * (NULL: generate it from the kernel IR) */
static int cpu_start(engine *e, const exec_plan *ep, const char *src, int graph_nodes, char *info, size_t info_len,
                     char *err) {
    e->run = ep;
    e->g = &ep->lowered;
    if (src ? jit_c_load_source(src, ep->fp.nkernels, &e->jm, err) : jit_c_load(&ep->fp, &e->jm, err)) return -1;
    if (cpu_exec_init(&e->cx, &ep->lowered, &ep->fp, &e->jm, &ep->mp, err)) {
        jit_c_unload(&e->jm);
        return -1;
    }
    if (info)
        snprintf(info, info_len,
                 "cpu: %d graph nodes -> %d launches (%d fused kernels, %d library, %d merged horizontally), arena "
                 "%.1f MiB (intermediates %.1f MiB; %.1f MiB with the oneDNN workspaces), step %s, kernels %s, "
                 "convolutions %s",
                 graph_nodes, ep->fp.nsteps, ep->nkernels, ep->nlibrary, ep->merged, (double)ep->mp.arena_bytes / 1048576.0,
                 (double)ep->mp.sum_bytes / 1048576.0, (double)e->cx.arena_bytes / 1048576.0,
                 src ? "from the plan" : "built", e->jm.cached ? "from cache" : "compiled",
                 e->cx.nconv ? "oneDNN" : "im2col+BLAS");
    return 0;
}

engine *engine_new(engine_kind kind, const ir_graph *g, char *info, size_t info_len, char *err) {
    if (kind == ENGINE_CUDA) {
        cuda_refuse(NULL, err);
        return NULL;
    }
    engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return NULL;
    }
    e->kind = kind == ENGINE_REF64 ? ENGINE_REF : kind;
    if (kind == ENGINE_REF || kind == ENGINE_REF64) {
        e->g = g;
        if (interp_init(&e->it, g, kind == ENGINE_REF64, err)) {
            free(e);
            return NULL;
        }
        if (info) snprintf(info, info_len, "reference interpreter: %d nodes", g->nnodes);
        return e;
    }
    if (exec_plan_build(g, &e->ep, err)) {
        free(e);
        return NULL;
    }
    if (cpu_start(e, &e->ep, NULL, g->nnodes, info, info_len, err)) {
        exec_plan_free(&e->ep);
        free(e);
        return NULL;
    }
    return e;
}

engine *engine_new_plan(engine_kind kind, const sslc_plan *p, char *info, size_t info_len, char *err) {
    if (kind == ENGINE_CUDA) {
        cuda_refuse(p->has_step ? &p->step : NULL, err);
        return NULL;
    }
    if (kind != ENGINE_CPU || !p->has_step) return engine_new(kind, &p->train, info, info_len, err);
    engine *e = calloc(1, sizeof *e);
    char *src = e ? compiled_step_c_unit(&p->step) : NULL;
    if (!src) {
        free(e);
        snprintf(err, IR_ERRLEN, "out of memory");
        return NULL;
    }
    e->kind = ENGINE_CPU;
    int rc = cpu_start(e, &p->step.ep, src, p->train.nnodes, info, info_len, err);
    free(src);
    if (rc) {
        free(e);
        return NULL;
    }
    return e;
}

void engine_free(engine *e) {
    if (!e) return;
    if (e->kind == ENGINE_REF)
        interp_free(&e->it);
    else {
        cpu_exec_free(&e->cx);
        jit_c_unload(&e->jm);
        exec_plan_free(&e->ep); /* empty when the plan's step ran */
    }
    free(e);
}

const ir_graph *engine_graph(const engine *e) { return e->g; }
int engine_find(const engine *e, const char *name) { return ir_find_value(e->g, name); }

void *engine_data(const engine *e, int v) {
    return e->kind == ENGINE_REF ? interp_data(&e->it, v) : cpu_exec_data(&e->cx, v);
}

int engine_set_f32(engine *e, int v, const float *src, char *err) {
    return e->kind == ENGINE_REF ? interp_set_f32(&e->it, v, src, err) : cpu_exec_set_f32(&e->cx, v, src, err);
}

int engine_get_f32(const engine *e, int v, float *dst, char *err) {
    return e->kind == ENGINE_REF ? interp_get_f32(&e->it, v, dst, err) : cpu_exec_get_f32(&e->cx, v, dst, err);
}

int engine_is_f64(const engine *e) { return e->kind == ENGINE_REF && e->it.f64; }

int engine_init_persistent(engine *e, uint64_t seed, char *err) {
    const ir_graph *g = e->g;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_PARAM && val->kind != VK_STATE) continue;
        int64_t n = ir_numel(&val->shape);
        void *d = engine_data(e, v);
        if (!d) continue;
        if (val->dtype == DT_I64) {
            for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i] = (int64_t)val->init.a;
            continue;
        }
        float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!buf) {
            snprintf(err, IR_ERRLEN, "out of memory");
            return -1;
        }
        int rc = init_value_f32(g, v, seed, buf, err) || engine_set_f32(e, v, buf, err);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}

int engine_run(engine *e, char *err) {
    return e->kind == ENGINE_REF ? interp_run(&e->it, err) : cpu_exec_run(&e->cx, err);
}
