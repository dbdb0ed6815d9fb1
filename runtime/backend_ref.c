/* The reference backend: the interpreter (runtime/interp.h) node by node, in float32 or, with
 * backend_args.f64, float64 (gradient checks, `sslc step --f64`). It makes no memory check
 * before the first step (the cpu backend's, runtime/memlimit.h): it has no memory plan to add
 * up (every value an allocation of its own, the unplanned total many times the arena), and it
 * is the oracle for the small plans of tests and `sslc step`, not for training runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "interp.h"

static int value_ok(const interp *it, int v, size_t bytes, char *err) {
    return backend_value_check(it->g, v, interp_data(it, v) != NULL, bytes, "reference", err);
}

static int is_float(const interp *it, int v) { return it->g->vals[v].dtype == DT_F32; }

static int ref_upload(void *self, int v, const void *src, size_t bytes, char *err) {
    interp *it = self;
    if (value_ok(it, v, bytes, err)) return -1;
    if (is_float(it, v)) return interp_set_f32(it, v, src, err);
    memcpy(it->t[v].data, src, bytes);
    return 0;
}

static int ref_download(void *self, int v, void *dst, size_t bytes, char *err) {
    const interp *it = self;
    if (value_ok(it, v, bytes, err)) return -1;
    if (is_float(it, v)) return interp_get_f32(it, v, dst, err);
    memcpy(dst, it->t[v].data, bytes);
    return 0;
}

static int ref_download_f64(void *self, int v, double *dst, char *err) { return interp_get_f64(self, v, dst, err); }

static int ref_has_value(void *self, int v) { return interp_data(self, v) != NULL; }
static int ref_run(void *self, char *err) { return interp_run(self, err); }
static int ref_sync(void *self, char *err) {
    (void)self, (void)err;
    return 0;
}
static void ref_free(void *self) {
    interp_free(self);
    free(self);
}

static const backend_ops ref_ops = {"ref", ref_upload, ref_download, ref_download_f64, ref_has_value,
                                    ref_run, ref_sync, ref_free};

int backend_ref_new(const backend_args *a, backend *b, char *err) {
    interp *it = calloc(1, sizeof *it);
    if (!it) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    if (interp_init(it, a->g, a->f64, err)) {
        free(it);
        return -1;
    }
    it->comm = a->comm;
    if (a->info)
        snprintf(a->info, a->info_len, "reference interpreter%s: %d nodes", a->f64 ? " (float64)" : "", a->g->nnodes);
    *b = (backend){&ref_ops, it, a->g};
    return 0;
}
