#include "cuda_probe.h"

#include <stdio.h>
#include <string.h>

#include "../ir/ir.h"
#include "cuda_api.h"

void cuda_probe_run(cuda_probe *p) {
    memset(p, 0, sizeof *p);
    cuda_driver_api cu;
    char err[IR_ERRLEN];
    if (cuda_driver_load(&cu, err)) {
        snprintf(p->why, sizeof p->why, "%.250s", err);
        return;
    }
    p->driver_found = 1;
    cu.DriverGetVersion(&p->driver_version);
    CUresult r = cu.Init(0);
    if (r) {
        snprintf(p->why, sizeof p->why, "cuInit failed (error %d): no usable GPU", r);
        return;
    }
    int n = 0;
    cu.DeviceGetCount(&n);
    for (int i = 0; i < n && i < CUDA_PROBE_MAX; i++) {
        CUdevice d;
        if (cu.DeviceGet(&d, i)) continue;
        cu.DeviceGetName(p->names[p->ndevices], sizeof p->names[0], d);
        cu.DeviceGetAttribute(&p->cc_major[p->ndevices], CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d);
        cu.DeviceGetAttribute(&p->cc_minor[p->ndevices], CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d);
        size_t bytes = 0;
        cu.DeviceTotalMem(&bytes, d);
        p->mem_bytes[p->ndevices] = (long long)bytes;
        p->ndevices++;
    }
    if (!p->ndevices) snprintf(p->why, sizeof p->why, "the driver reports no devices");
}
