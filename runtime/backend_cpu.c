/* The cpu backend: the compiled step (lowered, fused, scheduled, memory-planned) on the
 * executor core, fused kernels JIT-compiled from C, convolutions through oneDNN
 * (runtime/cpu_exec.h). A plan's stored step and kernels are used as they are; a bare graph is
 * compiled here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/compiled_step.h"
#include "../codegen/jit.h"
#include "../passes/pipeline.h"
#include "backend.h"
#include "cpu_exec.h"

typedef struct {
    exec_plan ep;         /* the step built here (empty when the plan holds one) */
    const exec_plan *run; /* the step that runs: &ep, or the plan's stored step */
    jit_module jm;
    cpu_exec cx;
} cpu_backend;

static int value_ok(const cpu_backend *c, int v, size_t bytes, char *err) {
    return backend_value_check(c->cx.core.g, v, cpu_exec_data(&c->cx, v) != NULL, bytes, "cpu", err);
}

static int cpu_upload(void *self, int v, const void *src, size_t bytes, char *err) {
    cpu_backend *c = self;
    if (value_ok(c, v, bytes, err)) return -1;
    memcpy(cpu_exec_data(&c->cx, v), src, bytes);
    return 0;
}

static int cpu_download(void *self, int v, void *dst, size_t bytes, char *err) {
    cpu_backend *c = self;
    if (value_ok(c, v, bytes, err)) return -1;
    memcpy(dst, cpu_exec_data(&c->cx, v), bytes);
    return 0;
}

static int cpu_download_f64(void *self, int v, double *dst, char *err) {
    cpu_backend *c = self;
    const ir_graph *g = c->cx.core.g;
    if (v < 0 || v >= g->nvals || g->vals[v].dtype != DT_F32 || !cpu_exec_data(&c->cx, v)) {
        snprintf(err, IR_ERRLEN, "value %%%d has no float32 storage in the cpu backend", v);
        return -1;
    }
    const float *s = cpu_exec_data(&c->cx, v);
    for (int64_t i = 0, n = ir_numel(&g->vals[v].shape); i < n; i++) dst[i] = s[i];
    return 0;
}

static int cpu_has_value(void *self, int v) { return cpu_exec_data(&((cpu_backend *)self)->cx, v) != NULL; }
static int cpu_run(void *self, char *err) { return cpu_exec_run(&((cpu_backend *)self)->cx, err); }
static int cpu_sync(void *self, char *err) {
    (void)self, (void)err;
    return 0;
}
static void cpu_free(void *self) {
    cpu_backend *c = self;
    cpu_exec_free(&c->cx);
    jit_c_unload(&c->jm);
    exec_plan_free(&c->ep);
    free(c);
}

static const backend_ops cpu_ops = {"cpu", cpu_upload, cpu_download, cpu_download_f64, cpu_has_value,
                                    cpu_run, cpu_sync, cpu_free};

/* src: the stored kernels' C translation unit (NULL: generate it from the kernel IR) */
static int start(cpu_backend *c, const exec_plan *ep, const char *src, const backend_args *a, char *err) {
    c->run = ep;
    if (src ? jit_c_load_source(src, ep->fp.nkernels, &c->jm, err) : jit_c_load(&ep->fp, &c->jm, err)) return -1;
    if (cpu_exec_init(&c->cx, &ep->lowered, &ep->fp, &c->jm, &ep->mp, err)) {
        jit_c_unload(&c->jm);
        return -1;
    }
    if (a->info)
        snprintf(a->info, a->info_len,
                 "cpu: %d graph nodes -> %d launches (%d fused kernels, %d library, %d merged horizontally), arena "
                 "%.1f MiB (intermediates %.1f MiB; %.1f MiB with the oneDNN workspaces), step %s, kernels %s, "
                 "convolutions %s",
                 a->g->nnodes, ep->fp.nsteps, ep->nkernels, ep->nlibrary, ep->merged,
                 (double)ep->mp.arena_bytes / 1048576.0, (double)ep->mp.sum_bytes / 1048576.0,
                 (double)c->cx.arena_bytes / 1048576.0, src ? "from the plan" : "built",
                 c->jm.cached ? "from cache" : "compiled", c->cx.nconv ? "oneDNN" : "im2col+BLAS");
    return 0;
}

int backend_cpu_new(const backend_args *a, backend *b, char *err) {
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    int rc;
    if (a->plan && a->plan->has_step && a->g == &a->plan->train) {
        char *src = compiled_step_c_unit(&a->plan->step);
        if (!src) {
            free(c);
            snprintf(err, IR_ERRLEN, "out of memory");
            return -1;
        }
        rc = start(c, &a->plan->step.ep, src, a, err);
        free(src);
    } else if (exec_plan_build(a->g, &c->ep, err)) { /* frees what it built */
        rc = -1;
    } else if ((rc = start(c, &c->ep, NULL, a, err)))
        exec_plan_free(&c->ep);
    if (rc) {
        free(c);
        return -1;
    }
    *b = (backend){&cpu_ops, c, &c->run->lowered};
    return 0;
}
