/* sslc devices: the backends this machine offers. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "../codegen/nvrtc.h"
#include "../runtime/cuda_probe.h"
#include "cli.h"

int cmd_devices(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: sslc devices\n");
            return 0;
        }
        return cli_error("devices: unexpected argument '%s'", argv[i]);
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
    return 0;
}
