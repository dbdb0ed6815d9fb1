#include "cuda_probe.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;

void cuda_probe_run(cuda_probe *p) {
    memset(p, 0, sizeof *p);
    void *dl = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!dl) dl = dlopen("libcuda.so", RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(p->why, sizeof p->why, "no NVIDIA driver (libcuda.so.1 not found)");
        return;
    }
    p->driver_found = 1;
    CUresult (*init)(unsigned) = (CUresult(*)(unsigned))dlsym(dl, "cuInit");
    CUresult (*version)(int *) = (CUresult(*)(int *))dlsym(dl, "cuDriverGetVersion");
    CUresult (*count)(int *) = (CUresult(*)(int *))dlsym(dl, "cuDeviceGetCount");
    CUresult (*get)(CUdevice *, int) = (CUresult(*)(CUdevice *, int))dlsym(dl, "cuDeviceGet");
    CUresult (*name)(char *, int, CUdevice) = (CUresult(*)(char *, int, CUdevice))dlsym(dl, "cuDeviceGetName");
    CUresult (*attr)(int *, int, CUdevice) = (CUresult(*)(int *, int, CUdevice))dlsym(dl, "cuDeviceGetAttribute");
    CUresult (*mem)(size_t *, CUdevice) = (CUresult(*)(size_t *, CUdevice))dlsym(dl, "cuDeviceTotalMem_v2");
    if (!init || !count || !get || !name || !attr) {
        snprintf(p->why, sizeof p->why, "the driver library lacks the expected entry points");
        dlclose(dl);
        return;
    }
    if (version) version(&p->driver_version);
    CUresult r = init(0);
    if (r) {
        snprintf(p->why, sizeof p->why, "cuInit failed (error %d): no usable GPU", r);
        dlclose(dl);
        return;
    }
    int n = 0;
    count(&n);
    for (int i = 0; i < n && i < CUDA_PROBE_MAX; i++) {
        CUdevice d;
        if (get(&d, i)) continue;
        name(p->names[p->ndevices], sizeof p->names[0], d);
        attr(&p->cc_major[p->ndevices], 75, d); /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
        attr(&p->cc_minor[p->ndevices], 76, d); /* ..._MINOR */
        size_t bytes = 0;
        if (mem) mem(&bytes, d);
        p->mem_bytes[p->ndevices] = (long long)bytes;
        p->ndevices++;
    }
    if (!p->ndevices) snprintf(p->why, sizeof p->why, "the driver reports no devices");
    dlclose(dl);
}
