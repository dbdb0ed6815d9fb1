/* Building the compiled step at compile time, and what its users derive from it. */
#include "compiled_step.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/graph_hash.h"
#include "jit.h"
#include "nvrtc.h"

static int parse_archs(const char *s, step_targets *t, char *err) {
    t->narch = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char tok[32];
        int arch = 0, used = 0;
        if (n == 0 || n >= sizeof tok) goto bad;
        memcpy(tok, p, n);
        tok[n] = 0;
        if (sscanf(tok, "sm_%d%n", &arch, &used) != 1 || used != (int)n || arch < 50 || arch > 200) goto bad;
        for (int i = 0; i < t->narch; i++)
            if (t->arch[i] == arch) {
                snprintf(err, IR_ERRLEN, "--cuda-arch: sm_%d given twice", arch);
                return -1;
            }
        if (t->narch == STEP_MAX_ARCHS) {
            snprintf(err, IR_ERRLEN, "--cuda-arch: at most %d architectures", STEP_MAX_ARCHS);
            return -1;
        }
        t->arch[t->narch++] = arch;
        p += n + (e ? 1 : 0);
        if (e && !*p) goto bad;
        continue;
    bad:
        snprintf(err, IR_ERRLEN, "--cuda-arch: expected GPU architectures like sm_80,sm_90, got '%.100s'", s);
        return -1;
    }
    if (!t->narch) {
        snprintf(err, IR_ERRLEN, "--cuda-arch: expected GPU architectures like sm_80,sm_90, got '%.100s'", s);
        return -1;
    }
    return 0;
}

int step_targets_parse(const char *targets, const char *archs, step_targets *t, char *err) {
    memset(t, 0, sizeof *t);
    const char *s = targets ? targets : "cpu";
    if (!strcmp(s, "none"))
        ;
    else if (!strcmp(s, "cpu"))
        t->cpu = 1;
    else if (!strcmp(s, "cuda") || !strcmp(s, "cpu,cuda") || !strcmp(s, "cuda,cpu"))
        t->cpu = t->cuda = 1; /* CUDA kernels follow the same schedule and memory plan */
    else {
        snprintf(err, IR_ERRLEN, "--targets: expected cpu, cpu,cuda or none, got '%.100s'", s);
        return -1;
    }
    if (archs) {
        if (!t->cpu) {
            snprintf(err, IR_ERRLEN, "--cuda-arch needs a compiled step: not with --targets none");
            return -1;
        }
        t->cuda = 1;
        return parse_archs(archs, t, err);
    }
    if (t->cuda) t->arch[t->narch++] = 80, t->arch[t->narch++] = 90;
    return 0;
}

void compiled_step_free(compiled_step *cs) {
    for (int i = 0; i < cs->ep.fp.nkernels; i++) {
        if (cs->c_src) free(cs->c_src[i]);
        if (cs->cuda_src) free(cs->cuda_src[i]);
    }
    free(cs->c_src);
    free(cs->cuda_src);
    for (int i = 0; i < cs->ncubins; i++) free(cs->cubin[i].image);
    exec_plan_free(&cs->ep);
    memset(cs, 0, sizeof *cs);
}

/* ---- NVRTC, one thread per architecture ---- */

typedef struct {
    const char *src;
    step_cubin *out;
    int rc;
    char err[IR_ERRLEN];
} nvrtc_job;

static void *nvrtc_thread(void *arg) {
    nvrtc_job *j = arg;
    j->rc = nvrtc_compile(j->src, j->out->arch, &j->out->image, &j->out->size, j->err);
    return NULL;
}

/* One nvrtcCompileProgram per architecture, all at once: NVRTC compiles distinct programs
 * concurrently, which halves the wait for sm_80 + sm_90 on two cores. */
static int compile_cubins(compiled_step *cs, const step_targets *t, const char *unit, char *err) {
    nvrtc_job job[STEP_MAX_ARCHS];
    pthread_t th[STEP_MAX_ARCHS];
    int started[STEP_MAX_ARCHS] = {0}, rc = 0;
    int major, minor;
    if (nvrtc_available(&major, &minor, err)) {
        char why[IR_ERRLEN];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, IR_ERRLEN, "cannot embed CUBIN: %.400s (or compile with --targets cpu)", why);
        return -1;
    }
    for (int i = 0; i < t->narch; i++) {
        cs->cubin[i] = (step_cubin){t->arch[i], NULL, 0};
        job[i] = (nvrtc_job){unit, &cs->cubin[i], -1, ""};
        started[i] = pthread_create(&th[i], NULL, nvrtc_thread, &job[i]) == 0;
        if (!started[i]) nvrtc_thread(&job[i]); /* no thread: compile here */
    }
    for (int i = 0; i < t->narch; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        if (job[i].rc && !rc) {
            snprintf(err, IR_ERRLEN, "%s", job[i].err);
            rc = -1;
        }
    }
    cs->ncubins = t->narch; /* freed by compiled_step_free, failed or not */
    return rc;
}

int compiled_step_build(const ir_graph *train, const step_targets *t, compiled_step *cs, char *err) {
    memset(cs, 0, sizeof *cs);
    cs->graph_hash = ir_graph_hash(train);
    if (exec_plan_build(train, &cs->ep, err)) return -1;
    int nk = cs->ep.fp.nkernels;
    cs->c_src = calloc((size_t)nk + 1, sizeof *cs->c_src);
    if (t->cuda) cs->cuda_src = calloc((size_t)nk + 1, sizeof *cs->cuda_src);
    if (!cs->c_src || (t->cuda && !cs->cuda_src)) goto oom;
    for (int i = 0; i < nk; i++) {
        if (!(cs->c_src[i] = jit_c_kernel_source(&cs->ep.fp, i, err))) goto fail;
        if (t->cuda && !(cs->cuda_src[i] = cuda_kernel_source(&cs->ep.fp, i, err))) goto fail;
    }
    if (t->cuda && t->narch) {
        char *unit = cuda_unit((const char *const *)cs->cuda_src, nk);
        if (!unit) goto oom;
        int rc = compile_cubins(cs, t, unit, err);
        free(unit);
        if (rc) goto fail;
    }
    cs->kernels_hash = compiled_step_kernels_hash(cs);
    return 0;
oom:
    snprintf(err, IR_ERRLEN, "out of memory generating the kernels");
fail:
    compiled_step_free(cs);
    return -1;
}

static uint64_t put_i64(uint64_t h, int64_t v) { return fnv64(h, &v, sizeof v); }
static uint64_t put_str(uint64_t h, const char *s) {
    size_t n = s ? strlen(s) : 0;
    return fnv64(put_i64(h, s ? (int64_t)n : -1), s ? s : "", n);
}

uint64_t compiled_step_kernels_hash(const compiled_step *cs) {
    const fused_plan *fp = &cs->ep.fp;
    uint64_t h = put_i64(FNV64_INIT, fp->nkernels);
    for (int i = 0; i < fp->nkernels; i++) {
        const fkernel *fk = &fp->kernels[i];
        h = put_i64(h, fk->nseg);
        for (int s = 0; s < fk->nseg; s++) {
            const kir *k = &fk->seg[s];
            h = put_i64(put_i64(h, k->dom.ndim), k->redmask);
            for (int d = 0; d < k->dom.ndim && d < IR_MAX_DIMS; d++) h = put_i64(h, k->dom.d[d]);
            h = put_i64(put_i64(h, k->nloads), k->nstores);
            for (int l = 0; l < k->nloads && l < KIR_MAX_LOADS; l++) h = put_i64(h, k->loads[l].value);
            for (int o = 0; o < k->nstores && o < KIR_MAX_STORES; o++) h = put_i64(h, k->stores[o].value);
        }
        h = put_str(h, cs->c_src ? cs->c_src[i] : NULL);
        h = put_str(h, cs->cuda_src ? cs->cuda_src[i] : NULL);
    }
    h = put_i64(h, cs->ncubins);
    for (int i = 0; i < cs->ncubins; i++)
        h = fnv64(put_i64(put_i64(h, cs->cubin[i].arch), (int64_t)cs->cubin[i].size), cs->cubin[i].image, cs->cubin[i].size);
    return h;
}

char *compiled_step_c_unit(const compiled_step *cs) {
    return jit_c_unit((const char *const *)cs->c_src, cs->ep.fp.nkernels);
}

const step_cubin *compiled_step_cubin(const compiled_step *cs, int arch) {
    for (int i = 0; i < cs->ncubins; i++)
        if (cs->cubin[i].arch == arch) return &cs->cubin[i];
    return NULL;
}

static size_t src_bytes(char *const *src, int n) {
    size_t b = 0;
    for (int i = 0; src && i < n; i++) b += strlen(src[i]);
    return b;
}
size_t compiled_step_c_bytes(const compiled_step *cs) { return src_bytes(cs->c_src, cs->ep.fp.nkernels); }
size_t compiled_step_cuda_bytes(const compiled_step *cs) { return src_bytes(cs->cuda_src, cs->ep.fp.nkernels); }

void compiled_step_archs_str(const compiled_step *cs, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < cs->ncubins && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%ssm_%d", i ? ", " : "", cs->cubin[i].arch);
    if (!cs->ncubins) snprintf(buf, n, "none");
}
