/* The cpu backend: the compiled step (lowered, fused, scheduled, memory-planned) on the
 * executor core, fused kernels JIT-compiled from C, convolutions through oneDNN
 * (runtime/cpu_exec.h). A plan's stored step and kernels are used as they are; a bare graph is
 * compiled here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "../codegen/compiled_step.h"
#include "../codegen/jit.h"
#include "../ir/comm.h"
#include "../passes/pipeline.h"
#include "backend.h"
#include "cpu_exec.h"
#include "memlimit.h"
#include "trace.h"

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

/* The libraries' own buffers, beside the arena. OpenBLAS (Debian's libopenblas0-pthread 0.3.21,
 * x86_64: BUFFER_SIZE = 32 << 22) maps one 128 MiB buffer per thread: each worker when it starts
 * (at library load), the calling thread at its first BLAS call; measured as VmSize growing by
 * exactly 131072 kB per thread. Its GEMM packing touches only part of it (VmRSS grew 6-12 MiB per
 * thread for 1024-2048 sgemms; the packed panels of the largest blocking are about 21 MiB), so
 * free memory and the cgroup are charged 32 MiB per thread. oneDNN's workspaces are in the arena;
 * what it keeps besides (JIT code, per-thread scratch of the reorders) is DNNL_OWN. */
#define OPENBLAS_BUF_VIRT (128ll << 20)
#define OPENBLAS_BUF_RES (32ll << 20)
#define DNNL_OWN (64ll << 20)

/* The first BLAS use of this thread, done here so that OpenBLAS maps its buffer while we know it
 * fits: a failing buffer allocation makes OpenBLAS retry forever. 96^3 exceeds OpenBLAS's
 * threshold for running single-threaded, so the workers run too. Afterwards every OpenBLAS
 * buffer is in VmSize, which makes the address-space comparison exact. */
static int blas_warm;
static void blas_warm_up(void) {
    static float a[96 * 96], c[96 * 96];
    if (blas_warm) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 96, 96, 96, 1.0f, a, 96, a, 96, 0.0f, c, 96);
    blas_warm = 1;
}

static double mib(int64_t b) { return (double)b / 1048576.0; }

/* Whether the step fits in what this process may use, before its regions are allocated: the
 * arena, the persistent region and the update staging, plus the libraries' buffers. The
 * address-space limit is charged the buffers' full mappings (those already mapped are already in
 * VmSize, so they are given back to what it leaves), free memory and the cgroup what they touch.
 * 0, or -1 with the sizes and the fix in err. */
static int fits(const cpu_exec *x, char *err) {
    int64_t nt = openblas_get_num_threads(), as_mapped = 0;
    memlimits m;
    memlimit_read(&m);
    /* the warm-up maps at most one buffer: only with room for it (no room: refused below) */
    if (!blas_warm && (m.as_left < 0 || m.as_left > OPENBLAS_BUF_VIRT + (16ll << 20))) {
        blas_warm_up();
        memlimit_read(&m);
    }
    if (blas_warm) as_mapped = nt * OPENBLAS_BUF_VIRT;
    int64_t values = x->arena_bytes, state = x->persistent_bytes + x->stage_bytes;
    int64_t buf_virt = nt * OPENBLAS_BUF_VIRT + DNNL_OWN, buf_res = nt * OPENBLAS_BUF_RES + DNNL_OWN;
    const char *name = NULL;
    int64_t need = 0, may = 0, buf = 0;
    if (m.as_left >= 0 && values + state + buf_virt > m.as_left + as_mapped)
        name = "RLIMIT_AS", buf = buf_virt, may = m.as_left + as_mapped;
    memlimits res = m;
    res.as_left = -1;
    const char *rname;
    int64_t rleft = memlimit_smallest(&res, &rname);
    if (!name && rleft >= 0 && values + state + buf_res > rleft) name = rname, buf = buf_res, may = rleft;
    if (!name) return 0;
    need = values + state + buf;
    snprintf(err, IR_ERRLEN,
             "the step needs %.0f MiB (arena %.0f MiB, parameters and state %.0f MiB, OpenBLAS/oneDNN buffers %.0f "
             "MiB); this process may use %.0f MiB (%s): use a smaller --batch or raise the limit",
             mib(need), mib(values), mib(state), mib(buf), mib(may), name);
    return -1;
}

/* src: the stored kernels' C translation unit (NULL: generate it from the kernel IR) */
static int start(cpu_backend *c, const exec_plan *ep, const char *src, const backend_args *a, char *err) {
    c->run = ep;
    if (src ? jit_c_load_source(src, ep->fp.nkernels, &c->jm, err) : jit_c_load(&ep->fp, &c->jm, err)) return -1;
    if (cpu_exec_prepare(&c->cx, &ep->lowered, &ep->fp, &c->jm, &ep->mp, CPU_CONV_DEFAULT, err)) {
        jit_c_unload(&c->jm);
        return -1;
    }
    c->cx.comm = a->comm;
    if (fits(&c->cx, err) || cpu_exec_place(&c->cx, err)) {
        cpu_exec_free(&c->cx);
        jit_c_unload(&c->jm);
        return -1;
    }
    /* the training step of a plan is what SSLC_TRACE records (not probes or feature passes) */
    int failed = 0;
    if (a->plan) c->cx.core.trace = trace_open_env(a->comm ? a->comm->rank : 0, &failed, err);
    if (failed) {
        cpu_exec_free(&c->cx);
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

/* SSLC_CPU_BF16=0 makes the refusal (and sslc train's float32 fallback) testable on any machine */
int backend_cpu_has_bf16(void) {
    const char *s = getenv("SSLC_CPU_BF16");
    if (s && !strcmp(s, "0")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

int backend_cpu_new(const backend_args *a, backend *b, char *err) {
    if (ir_graph_has_bf16(a->g) && !backend_cpu_has_bf16()) {
        snprintf(err, IR_ERRLEN,
                 "this plan is bf16 mixed precision (--precision bf16), which the cpu backend runs on CPUs with "
                 "avx512_bf16 only; this CPU has none: compile the plan without --precision bf16");
        return -1;
    }
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
