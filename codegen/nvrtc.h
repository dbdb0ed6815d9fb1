/* NVRTC, loaded with dlopen so one sslc binary runs with or without the CUDA toolkit: compiles
 * the CUDA source of a plan's kernels to CUBIN for a given architecture (no GPU needed). */
#ifndef SSLC_NVRTC_H
#define SSLC_NVRTC_H
#include <stddef.h>

#include "../passes/fusion.h"

/* CUDA source of every kernel segment of fp: `k<i>_s<j>`, as one translation unit (cuda_unit of
 * every cuda_kernel_source); malloc'd, or NULL with err (IR_ERRLEN): out of memory, or a kernel
 * the emitter refuses */
char *cuda_source(const fused_plan *fp, char *err);
/* the CUDA kernels k<i>_s<j> of kernel i alone; NULL with err as above */
char *cuda_kernel_source(const fused_plan *fp, int i, char *err);
/* the translation unit of n kernels' CUDA sources (the prelude, then each in order) */
char *cuda_unit(const char *const *kernel_src, int n);
/* 0 if NVRTC could be loaded; its version goes to major and minor. err: IR_ERRLEN */
int nvrtc_available(int *major, int *minor, char *err);
/* Compiles src for sm_<arch> (e.g. 80, 90) into a malloc'd CUBIN. */
int nvrtc_compile(const char *src, int arch, void **cubin, size_t *size, char *err);

/* nvrtc_compile through the kernel cache (codegen/jit_cache.h): an entry c<key>.cubin keyed by
 * the source, the architecture and NVRTC's version, verified like the C kernels' entries;
 * *cached says whether it was found there. For the kernels a plan does not carry as CUBIN (the
 * device library ops, a plan compiled for other GPUs), so NVRTC runs once per machine. */
int nvrtc_compile_cached(const char *src, int arch, void **cubin, size_t *size, int *cached, char *err);

#endif
