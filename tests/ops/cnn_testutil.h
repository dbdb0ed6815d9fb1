/* Small helpers shared by the CNN op tests (conv, pool, batchnorm, state). */
#ifndef SSLC_CNN_TESTUTIL_H
#define SSLC_CNN_TESTUTIL_H
#include <stdlib.h>
#include <string.h>

#include "../optest.h"
#include "runtime/init.h"
#include "runtime/interp.h"

/* Runs g once in the reference interpreter (float32 kernels, or float64 when f64 is set) after
 * initializing parameters/state with seed 1234, and copies the listed values (inputs as well as
 * outputs) into freshly allocated double arrays vals_out[k]. Frees g. Returns 0 or 1. */
static inline int cnn_run(ir_graph *g, int f64, const int *vals, int nv, double **vals_out) {
    char err[IR_ERRLEN] = {0};
    interp it;
    for (int k = 0; k < nv; k++) vals_out[k] = NULL;
    if (g->failed) {
        fprintf(stderr, "FAIL build: %s\n", g->err);
        ir_graph_free(g);
        return 1;
    }
    for (int k = 0; k < nv; k++) ir_add_output(g, vals[k]);
    int rc = interp_init(&it, g, f64, err);
    if (!rc) {
        rc = init_persistent(&it, 1234, err) || interp_run(&it, err);
        for (int k = 0; k < nv && !rc; k++) {
            vals_out[k] = malloc((size_t)ir_numel(&g->vals[vals[k]].shape) * sizeof(double) + 8);
            rc = interp_get_f64(&it, vals[k], vals_out[k], err);
        }
        interp_free(&it);
    }
    if (rc) {
        fprintf(stderr, "FAIL run: %s\n", err);
        for (int k = 0; k < nv; k++) free(vals_out[k]), vals_out[k] = NULL;
    }
    ir_graph_free(g);
    return rc ? 1 : 0;
}

static inline void cnn_free(double **v, int n) {
    for (int k = 0; k < n; k++) free(v[k]), v[k] = NULL;
}

/* Compares got against want (n values): fails when |got - want| > tol * max(1, max|want|)
 * anywhere (float32 sums of many terms are judged against the tensor's scale). Prints the first
 * mismatch; returns 0 or 1. */
static inline int cnn_compare(const char *what, const double *got, const double *want, int64_t n, double tol) {
    double scale = 1;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / scale;
        if (!(e <= tol)) {
            fprintf(stderr, "FAIL %s[%lld] = %.9g, want %.9g (scale %.3g)\n", what, (long long)i, got[i], want[i], scale);
            return 1;
        }
    }
    return 0;
}

#endif
