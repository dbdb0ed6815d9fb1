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

/* C source of every kernel of fp (k0 ... k<n-1>); malloc'd */
char *jit_c_source(const fused_plan *fp);
/* Compiles (or finds in the cache) and loads the module. err: IR_ERRLEN. */
int jit_c_load(const fused_plan *fp, jit_module *m, char *err);
void jit_c_unload(jit_module *m);
/* the cache directory: $SSLC_CACHE_DIR, else $XDG_CACHE_HOME/sslc, else $HOME/.cache/sslc */
int jit_cache_dir(char *buf, size_t n);

#endif
