/* What CUDA this machine offers, found at run time with dlopen (the driver library and NVRTC
 * are optional: one sslc binary runs with and without them). */
#ifndef SSLC_CUDA_PROBE_H
#define SSLC_CUDA_PROBE_H

#define CUDA_PROBE_MAX 8
typedef struct {
    int driver_found;  /* libcuda loaded */
    int driver_version;
    int ndevices;
    char names[CUDA_PROBE_MAX][128];
    int cc_major[CUDA_PROBE_MAX], cc_minor[CUDA_PROBE_MAX];
    long long mem_bytes[CUDA_PROBE_MAX];
    char why[256]; /* when no device: the reason */
} cuda_probe;

void cuda_probe_run(cuda_probe *p);

#endif
