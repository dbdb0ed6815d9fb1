#include "cuda_check.h"

#include <stdio.h>

#include "cuda_probe.h"

const step_cubin *cuda_cubin_for(const compiled_step *cs, int major, int minor) {
    const step_cubin *best = NULL;
    for (int i = 0; cs && i < cs->ncubins; i++) {
        int a = cs->cubin[i].arch; /* a CUBIN runs on its major revision at an equal or later minor */
        if (a / 10 == major && a % 10 <= minor && (!best || a > best->arch)) best = &cs->cubin[i];
    }
    return best;
}

int cuda_refuse(const compiled_step *cs, char *err) {
    char archs[96] = "none";
    if (cs) compiled_step_archs_str(cs, archs, sizeof archs);
    int ncubins = cs ? cs->ncubins : 0;
    cuda_probe p;
    cuda_probe_run(&p);
    if (!p.ndevices) {
        if (ncubins)
            snprintf(err, IR_ERRLEN, "--device cuda: no CUDA device on this machine (%s); the plan holds CUBIN for %s; use --device cpu",
                     p.why, archs);
        else
            snprintf(err, IR_ERRLEN,
                     "--device cuda: no CUDA device on this machine (%s), and the plan holds no CUBIN (compile with "
                     "--targets cpu,cuda); use --device cpu",
                     p.why);
        return -1;
    }
    int major = p.cc_major[0], minor = p.cc_minor[0];
    const step_cubin *cb = cuda_cubin_for(cs, major, minor);
    if (!cb)
        snprintf(err, IR_ERRLEN,
                 "--device cuda: the plan holds no CUBIN for sm_%d%d, the architecture of cuda:0 (%.100s) (it holds: %s); "
                 "recompile with --cuda-arch sm_%d%d",
                 major, minor, p.names[0], archs, major, minor);
    else
        snprintf(err, IR_ERRLEN,
                 "--device cuda: cuda:0 (%.100s) and the plan's CUBIN for sm_%d are here, but sslc has no CUDA runtime "
                 "backend yet; use --device cpu",
                 p.names[0], cb->arch);
    return -1;
}
