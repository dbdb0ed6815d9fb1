/* CPU JIT: the C source of a plan's kernels, compiled by the system C compiler into a shared
 * object cached by content hash (as PyTorch Inductor does for its CPU code), loaded with dlopen. */
#ifndef SSLC_JIT_H
#define SSLC_JIT_H
#include "../passes/fusion.h"

typedef void (*jit_fn)(void **args);

typedef struct {
    void *dl;
    int n;
    jit_fn *fn; /* fn[i]: kernel i of the fused plan */
    char path[512];
    int cached; /* loaded from the cache without compiling */
} jit_module;

/* C source of every kernel of fp (k0 ... k<n-1>) as one translation unit; malloc'd, or NULL
 * with err (IR_ERRLEN): out of memory, or a kernel the emitter refuses. It is jit_c_unit of
 * every jit_c_kernel_source. */
char *jit_c_source(const fused_plan *fp, char *err);
/* the C functions of kernel i alone: its segments k<i>_s<j> and the entry point k<i>; NULL with
 * err as above */
char *jit_c_kernel_source(const fused_plan *fp, int i, char *err);
/* the translation unit of n kernels' sources (the prelude, then each in order) */
char *jit_c_unit(const char *const *kernel_src, int n);
/* Compiles (or finds in the cache) and loads the module. err: IR_ERRLEN. */
int jit_c_load(const fused_plan *fp, jit_module *m, char *err);
/* The same for a translation unit defining k0 ... k<nkernels-1> (a plan's stored kernels); the
 * cache key is the source's content hash, so the same kernels are compiled once. */
int jit_c_load_source(const char *src, int nkernels, jit_module *m, char *err);
void jit_c_unload(jit_module *m);
/* the cache directory: $SSLC_CACHE_DIR, else $XDG_CACHE_HOME/sslc, else $HOME/.cache/sslc */
int jit_cache_dir(char *buf, size_t n);

#endif
