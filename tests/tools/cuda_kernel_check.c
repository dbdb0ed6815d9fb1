/* Every fused kernel of a plan on the GPU against its C twin (tests/gpu/run.sh): for each kernel
 * segment k<i>_s<j>, random inputs for its loads, the CUDA segment from the plan's CUBIN (or
 * NVRTC's) launched with the kernel IR's geometry, the C segment from the cpu JIT module run on
 * the same inputs, every store compared (max |gpu - cpu| / max(1, |cpu|) <= --tol). Prints one
 * line per plan, and the worst segments. Exit 0 when all are within the bound.
 * Usage: cuda_kernel_check [--tol 1e-5] PLAN... */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/compiled_step.h"
#include "codegen/emit.h"
#include "codegen/jit.h"
#include "codegen/nvrtc.h"
#include "runtime/cuda_api.h"
#include "runtime/cuda_check.h"
#include "runtime/planfile.h"

typedef void (*seg_fn)(void **args);

static cuda_driver_api cu;
static CUstream stream;

static int cu_check(CUresult r, const char *what) {
    if (!r) return 0;
    const char *s = NULL;
    cu.GetErrorString(r, &s);
    fprintf(stderr, "cuda_kernel_check: %s: %s (%d)\n", what, s ? s : "?", r);
    return -1;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* one segment: returns its error, or -1 on a failure to run it */
static double check_segment(const ir_graph *g, const kir *k, CUfunction f, seg_fn twin) {
    int nv = k->nloads + k->nstores;
    int *vals = malloc((size_t)nv * sizeof *vals);
    void **host = calloc((size_t)nv, sizeof *host), **ref = calloc((size_t)nv, sizeof *ref);
    CUdeviceptr *dev = calloc((size_t)nv, sizeof *dev);
    size_t *bytes = calloc((size_t)nv, sizeof *bytes);
    double worst = 0;
    for (int a = 0; a < nv; a++) {
        int v = a < k->nloads ? k->loads[a].value : k->stores[a - k->nloads].value;
        vals[a] = v;
        /* a value both loaded and stored (in place) shares its buffer */
        for (int b = 0; b < a; b++)
            if (vals[b] == v) host[a] = host[b], ref[a] = ref[b], dev[a] = dev[b], bytes[a] = bytes[b];
        if (host[a]) continue;
        const ir_value *val = &g->vals[v];
        int64_t n = ir_numel(&val->shape);
        bytes[a] = (size_t)n * ir_dtype_size(val->dtype);
        host[a] = malloc(bytes[a] + 1), ref[a] = malloc(bytes[a] + 1);
        for (int64_t i = 0; i < n; i++) {
            if (val->dtype == DT_I64)
                ((int64_t *)host[a])[i] = (int64_t)(uniform() * 100);
            else
                ((float *)host[a])[i] = (float)(2 * uniform() - 1);
        }
        memcpy(ref[a], host[a], bytes[a]);
        if (cu_check(cu.MemAlloc(&dev[a], bytes[a] ? bytes[a] : 1), "cuMemAlloc") ||
            cu_check(cu.MemcpyHtoDAsync(dev[a], host[a], bytes[a], stream), "cuMemcpyHtoDAsync"))
            worst = -1;
    }
    if (worst == 0) {
        int64_t grid;
        int block;
        kir_cuda_launch(k, &grid, &block);
        size_t size = (size_t)nv * sizeof(CUdeviceptr);
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, dev, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
        if (cu_check(cu.LaunchKernel(f, (unsigned)grid, 1, 1, (unsigned)block, 1, 1, 0, stream, NULL, extra),
                     "cuLaunchKernel") ||
            cu_check(cu.StreamSynchronize(stream), "the kernel"))
            worst = -1;
        twin(ref);
        for (int a = k->nloads; a < nv && worst >= 0; a++) {
            if (cu_check(cu.MemcpyDtoHAsync(host[a], dev[a], bytes[a], stream), "cuMemcpyDtoHAsync") ||
                cu_check(cu.StreamSynchronize(stream), "cuStreamSynchronize")) {
                worst = -1;
                break;
            }
            const ir_value *val = &g->vals[vals[a]];
            int64_t n = ir_numel(&val->shape);
            for (int64_t i = 0; i < n; i++) {
                double x, y;
                if (val->dtype == DT_I64)
                    x = (double)((int64_t *)host[a])[i], y = (double)((int64_t *)ref[a])[i];
                else
                    x = ((float *)host[a])[i], y = ((float *)ref[a])[i];
                if (isnan(x) && isnan(y)) continue;
                double e = fabs(x - y) / fmax(1.0, fabs(y));
                if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
            }
        }
    }
    for (int a = 0; a < nv; a++) {
        int first = 1;
        for (int b = 0; b < a; b++) first &= vals[b] != vals[a];
        if (!first) continue;
        free(host[a]), free(ref[a]);
        if (dev[a]) cu.MemFree(dev[a]);
    }
    free(vals), free(host), free(ref), free(dev), free(bytes);
    return worst;
}

static int check_plan(const char *path, double tol, int major, int minor) {
    sslc_plan p;
    char err[IR_ERRLEN];
    plan_init(&p);
    if (plan_read(&p, path, err) || !p.has_step) {
        fprintf(stderr, "cuda_kernel_check: %s: %s\n", path, p.has_step ? err : "the plan holds no compiled step");
        plan_free(&p);
        return 1;
    }
    const fused_plan *fp = &p.step.ep.fp;
    const step_cubin *cb = cuda_cubin_for(&p.step, major, minor);
    void *image = NULL;
    size_t size = 0;
    CUmodule mod = NULL;
    jit_module jm;
    char *csrc = compiled_step_c_unit(&p.step);
    int bad = 0, nseg = 0;
    if (!cb) {
        char *src = cuda_source(fp, err);
        if (!src || nvrtc_compile(src, major * 10 + minor, &image, &size, err)) {
            fprintf(stderr, "cuda_kernel_check: %s: no CUBIN for sm_%d%d and NVRTC failed: %s\n", path, major, minor, err);
            free(src), free(csrc);
            plan_free(&p);
            return 1;
        }
        free(src);
    }
    if (!csrc || cu_check(cu.ModuleLoadData(&mod, cb ? cb->image : image), "cuModuleLoadData") ||
        jit_c_load_source(csrc, fp->nkernels, &jm, err)) {
        fprintf(stderr, "cuda_kernel_check: %s: %s\n", path, err);
        free(image), free(csrc);
        plan_free(&p);
        return 1;
    }
    double worst = 0;
    char worst_name[48] = "";
    for (int i = 0; i < fp->nkernels; i++)
        for (int s = 0; s < fp->kernels[i].nseg; s++) {
            char name[48];
            snprintf(name, sizeof name, "k%d_s%d", i, s);
            CUfunction f;
            seg_fn twin;
            *(void **)&twin = dlsym(jm.dl, name);
            if (cu_check(cu.ModuleGetFunction(&f, mod, name), name) || !twin) {
                bad++;
                continue;
            }
            double e = check_segment(&p.step.ep.lowered, &fp->kernels[i].seg[s], f, twin);
            nseg++;
            if (e < 0 || e > tol) {
                bad++;
                fprintf(stderr, "  %s: %s\n", name, e < 0 ? "failed to run" : "outside the bound");
            }
            if (e > worst) worst = e, snprintf(worst_name, sizeof worst_name, "%s", name);
        }
    printf("%s %s: %d kernel segments, worst %.2e (%s) %s %g\n", bad ? "FAIL" : "ok  ", path, nseg, worst, worst_name,
           bad ? ">" : "<=", tol);
    cu.ModuleUnload(mod);
    jit_c_unload(&jm);
    free(image), free(csrc);
    plan_free(&p);
    return bad != 0;
}

int main(int argc, char **argv) {
    double tol = 1e-5;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--tol")) tol = atof(argv[2]), first = 3;
    if (first >= argc) {
        fprintf(stderr, "usage: cuda_kernel_check [--tol 1e-5] PLAN...\n");
        return 2;
    }
    char err[IR_ERRLEN];
    CUdevice dev;
    CUcontext ctx;
    int major = 0, minor = 0;
    if (cuda_driver_load(&cu, err)) {
        fprintf(stderr, "cuda_kernel_check: %s\n", err);
        return 1;
    }
    if (cu_check(cu.Init(0), "cuInit") || cu_check(cu.DeviceGet(&dev, 0), "cuDeviceGet") ||
        cu_check(cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "attribute") ||
        cu_check(cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "attribute") ||
        cu_check(cu.DevicePrimaryCtxRetain(&ctx, dev), "context") || cu_check(cu.CtxSetCurrent(ctx), "context") ||
        cu_check(cu.StreamCreate(&stream, CU_STREAM_NON_BLOCKING), "stream"))
        return 1;
    int fails = 0;
    for (int i = first; i < argc; i++) fails += check_plan(argv[i], tol, major, minor);
    return fails != 0;
}
