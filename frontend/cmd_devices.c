/* sslc devices: the backends this machine offers. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "../codegen/nvrtc.h"
#include "../runtime/cuda_check.h"
#include "../runtime/cuda_probe.h"
#include "../runtime/planfile.h"
#include "cli.h"

/* which of the plan's CUBIN runs on each device, or that NVRTC makes one at start */
static int plan_archs(const char *path, const cuda_probe *p, int nvrtc) {
    sslc_plan plan;
    char err[IR_ERRLEN], archs[96] = "none";
    plan_init(&plan);
    if (plan_read(&plan, path, err)) {
        plan_free(&plan);
        return cli_error("%s", err);
    }
    if (plan.has_step) compiled_step_archs_str(&plan.step, archs, sizeof archs);
    printf("plan   %s: CUBIN for %s\n", path, archs);
    for (int i = 0; i < p->ndevices; i++) {
        const step_cubin *cb = plan.has_step ? cuda_cubin_for(&plan.step, p->cc_major[i], p->cc_minor[i]) : NULL;
        if (cb)
            printf("       cuda:%d runs its sm_%d CUBIN\n", i, cb->arch);
        else
            printf("       cuda:%d: no CUBIN for sm_%d%d: %s\n", i, p->cc_major[i], p->cc_minor[i],
                   nvrtc ? "NVRTC compiles the kernels when the engine starts (cached)"
                         : "NVRTC is not installed either: recompile with --cuda-arch");
    }
    plan_free(&plan);
    return 0;
}

int cmd_devices(int argc, char **argv) {
    const char *plan = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: sslc devices [PLAN]\n"
                   "  the backends this machine offers; with a plan, which of its CUBIN runs on each GPU\n");
            return 0;
        }
        if (plan || argv[i][0] == '-') return cli_error("devices: unexpected argument '%s'", argv[i]);
        plan = argv[i];
    }
    printf("cpu    available: %d threads (OpenMP), OpenBLAS GEMM, kernels JIT-compiled by the system C compiler\n",
           omp_get_max_threads());
    printf("ref    available: reference interpreter (node by node, the ground truth)\n");
    cuda_probe p;
    cuda_probe_run(&p);
    char err[IR_ERRLEN];
    int maj = 0, min = 0;
    int nv = nvrtc_available(&maj, &min, err) == 0;
    for (int i = 0; i < p.ndevices; i++)
        printf("cuda:%d %s, sm_%d%d, %.1f GiB (driver %d)\n", i, p.names[i], p.cc_major[i], p.cc_minor[i],
               (double)p.mem_bytes[i] / (1 << 30), p.driver_version);
    if (!p.ndevices) printf("cuda   not available: %s\n", p.why);
    if (nv)
        printf("nvrtc  %d.%d: CUDA kernels can be compiled (sm_80, sm_90)\n", maj, min);
    else
        printf("nvrtc  not available: %s\n", err);
    return plan ? plan_archs(plan, &p, nv) : 0;
}
