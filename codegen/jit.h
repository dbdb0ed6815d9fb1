/* CPU JIT: the C source of a plan's kernels, compiled by the system C compiler (cc_run.h: no
 * shell) into a shared object kept in a private cache (jit_cache.h) under a key of the source,
 * the compiler and the CPU it targets (as PyTorch Inductor does for its CPU code), verified
 * against its recorded content hash and loaded from memory (dlopen_bytes.h). */
#ifndef SSLC_JIT_H
#define SSLC_JIT_H
#include "../passes/fusion.h"

typedef void (*jit_fn)(void **args);

typedef struct {
    void *dl;
    int n;
    jit_fn *fn; /* fn[i]: kernel i of the fused plan */
    char path[512]; /* its cache entry */
    int cached;     /* loaded from a valid cache entry without compiling */
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
 * same kernels are compiled once per compiler and CPU. An entry that fails its check (truncated,
 * corrupt, another key's, planted) is rebuilt, never loaded. Refused with one line in err: a
 * cache directory that is not private or whose path is too long, a compiler that fails. */
int jit_c_load_source(const char *src, int nkernels, jit_module *m, char *err);
void jit_c_unload(jit_module *m);

#endif
