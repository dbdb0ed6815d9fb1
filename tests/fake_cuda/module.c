/* The stand-in's modules and kernel launches. Any image loads; a function named sslc_<Op> is a
 * device library op run by its C twin (runtime/devops.h), any other name (k12_s0: a fused
 * kernel's segment) is looked up in the shared object named by SSLC_FAKECUDA_KERNELS (the cpu
 * backend's JIT module of the same plan). Arguments come packed in `extra`. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "codegen/dlopen_bytes.h"
#include "runtime/devops.h"
#include "runtime/fileio.h"

struct CUfunc_st {
    CUfunction next; /* the module's functions, freed with it */
    devop_twin_fn twin;
    void (*seg)(void **args);
    char name[64];
};
struct CUmod_st {
    int magic;
    void *kernels; /* dlopen'd SSLC_FAKECUDA_KERNELS, on the first segment asked for */
    CUfunction funcs;
};
enum { MODULE_MAGIC = 0x30d01e };

FK_API CUresult cuModuleLoadData(CUmodule *m, const void *image) {
    int r = fk_need_context("cuModuleLoadData");
    if (r) return r;
    if (!m || !image) {
        fk_say("cuModuleLoadData", "NULL %s", m ? "image" : "module pointer");
        return m ? FK_INVALID_IMAGE : FK_INVALID_VALUE;
    }
    CUmodule n = calloc(1, sizeof *n);
    if (!n) return FK_OUT_OF_MEMORY;
    n->magic = MODULE_MAGIC;
    *m = n;
    return 0;
}

FK_API CUresult cuModuleUnload(CUmodule m) {
    if (!m || m->magic != MODULE_MAGIC) {
        fk_say("cuModuleUnload", "not a module");
        return FK_INVALID_HANDLE;
    }
    for (CUfunction f = m->funcs, next; f; f = next) next = f->next, free(f);
    if (m->kernels) dlclose(m->kernels);
    m->magic = 0;
    free(m);
    return 0;
}

/* SSLC_FAKECUDA_KERNELS: a shared object, or a kernel-cache entry k<key>.kso (codegen/jit_cache.h:
 * one header line, then the object), loaded from memory as the JIT loads it */
static void *open_kernels(const char *path) {
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[IR_ERRLEN];
    if (sslc_read_file(path, (size_t)1 << 30, &buf, &len, err)) {
        fk_say("cuModuleGetFunction", "SSLC_FAKECUDA_KERNELS: %s", err);
        return NULL;
    }
    size_t off = 0;
    if (len > 12 && !memcmp(buf, "sslc-kernels", 12)) {
        const unsigned char *nl = memchr(buf, '\n', len);
        off = nl ? (size_t)(nl - buf) + 1 : len;
    }
    void *dl = dlopen_bytes(buf + off, len - off, NULL, err);
    if (!dl) fk_say("cuModuleGetFunction", "SSLC_FAKECUDA_KERNELS: %s", err);
    free(buf);
    return dl;
}

FK_API CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    int r = fk_need_context("cuModuleGetFunction");
    if (r) return r;
    if (!f || !name || !m || m->magic != MODULE_MAGIC) {
        fk_say("cuModuleGetFunction", "NULL argument or not a module");
        return m && m->magic == MODULE_MAGIC ? FK_INVALID_VALUE : FK_INVALID_HANDLE;
    }
    if (strlen(name) >= sizeof m->funcs->name) {
        fk_say("cuModuleGetFunction", "%.80s...: name too long", name);
        return FK_NOT_FOUND;
    }
    for (CUfunction g = m->funcs; g; g = g->next)
        if (!strcmp(g->name, name)) {
            *f = g;
            return 0;
        }
    devop_twin_fn twin = NULL;
    void (*seg)(void **) = NULL;
    if (!strncmp(name, "sslc_", 5)) {
        if (!(twin = devop_twin_find(name + 5))) {
            fk_say("cuModuleGetFunction", "%s: no device library op of that name (runtime/devops.h)", name);
            return FK_NOT_FOUND;
        }
    } else {
        const char *path = getenv("SSLC_FAKECUDA_KERNELS");
        if (!m->kernels) {
            if (!path || !*path) {
                fk_say("cuModuleGetFunction", "%s: SSLC_FAKECUDA_KERNELS names no kernel module (the cpu backend's JIT .so)", name);
                return FK_NOT_FOUND;
            }
            if (!(m->kernels = open_kernels(path))) return FK_NOT_FOUND;
        }
        *(void **)&seg = dlsym(m->kernels, name);
        if (!seg) {
            fk_say("cuModuleGetFunction", "%s: not exported by %s", name, path ? path : "SSLC_FAKECUDA_KERNELS");
            return FK_NOT_FOUND;
        }
    }
    CUfunction n = calloc(1, sizeof *n);
    if (!n) return FK_OUT_OF_MEMORY;
    n->twin = twin, n->seg = seg;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->next = m->funcs;
    m->funcs = n;
    *f = n;
    return 0;
}

/* one launch: the function and a copy of its packed pointer arguments */
#define MAX_ARGS 1024
typedef struct {
    CUfunction f;
    int nargs;
    void *args[]; /* nargs */
} launch_op;

static int launch_check(const void *payload) {
    const launch_op *l = payload;
    char what[96];
    if (l->f->twin)
        return fk_check_dev("cuLaunchKernel", l->f->name, l->args[0], sizeof(devop_args)) ? FK_INVALID_VALUE : 0;
    for (int i = 0; i < l->nargs; i++) {
        snprintf(what, sizeof what, "%s argument %d", l->f->name, i);
        if (fk_check_dev("cuLaunchKernel", what, l->args[i], 1)) return FK_INVALID_VALUE;
    }
    return 0;
}

static int launch_run(const void *payload) {
    const launch_op *l = payload;
    fk_launches++;
    if (l->f->twin) {
        /* the op's pointers, read from device memory now (a capture may precede their upload) */
        const devop_args *a = l->args[0];
        char what[96];
        for (int i = 0; i < DEVOP_MAX_PTR; i++) {
            snprintf(what, sizeof what, "%s: devop_args.p[%d]", l->f->name, i);
            if (a->p[i] && fk_check_dev("cuLaunchKernel", what, a->p[i], 1)) return FK_INVALID_VALUE;
        }
        l->f->twin(a);
    } else {
        void *args[MAX_ARGS];
        memcpy(args, l->args, (size_t)l->nargs * sizeof args[0]);
        l->f->seg(args);
    }
    return 0;
}

FK_API CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared_bytes, CUstream s, void **params, void **extra) {
    const char *call = "cuLaunchKernel";
    int r = fk_need_context(call);
    if (r) return r;
    if (!f) {
        fk_say(call, "NULL function");
        return FK_INVALID_HANDLE;
    }
    if (!fk_stream_ok(s)) {
        fk_say(call, "%s: not a stream", f->name);
        return FK_INVALID_HANDLE;
    }
    if (params) {
        fk_say(call, "%s: kernelParams must be NULL (sslc passes arguments through `extra`)", f->name);
        return FK_INVALID_VALUE;
    }
    if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || (unsigned long long)bx * by * bz > 1024 ||
        bz > 64) {
        fk_say(call, "%s: grid %ux%ux%u, block %ux%ux%u out of range", f->name, gx, gy, gz, bx, by, bz);
        return FK_INVALID_VALUE;
    }
    if (shared_bytes > 48 * 1024) {
        fk_say(call, "%s: %u bytes of dynamic shared memory (over 48 KiB needs cuFuncSetAttribute)", f->name, shared_bytes);
        return FK_INVALID_VALUE;
    }
    /* extra = {BUFFER_POINTER, buf, BUFFER_SIZE, &size, END} in any order of the two pairs */
    void *buf = NULL;
    size_t *size = NULL;
    for (int i = 0; extra && extra[i] != CU_LAUNCH_PARAM_END && i < 8; i += 2) {
        if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) buf = extra[i + 1];
        else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) size = extra[i + 1];
        else {
            fk_say(call, "%s: unknown `extra` tag %p", f->name, extra[i]);
            return FK_INVALID_VALUE;
        }
    }
    if (!buf || !size) {
        fk_say(call, "%s: `extra` must hold CU_LAUNCH_PARAM_BUFFER_POINTER and CU_LAUNCH_PARAM_BUFFER_SIZE", f->name);
        return FK_INVALID_VALUE;
    }
    if (*size % 8 || *size / 8 > MAX_ARGS || (f->twin && *size != 8) || (!f->twin && !*size)) {
        fk_say(call, "%s: argument buffer of %zu bytes (%s)", f->name, *size,
               f->twin ? "a device library op takes one pointer, 8 bytes" : "packed 8-byte pointers expected");
        return FK_INVALID_VALUE;
    }
    launch_op *l = malloc(offsetof(launch_op, args) + *size);
    if (!l) return FK_OUT_OF_MEMORY;
    l->f = f;
    l->nargs = (int)(*size / 8);
    memcpy(l->args, buf, *size);
    r = fk_submit(s, call, launch_check, launch_run, l, offsetof(launch_op, args) + *size);
    free(l);
    return r;
}
