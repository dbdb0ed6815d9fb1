/* Forward-check helpers shared by the op tests of tests/ops/test_{shape,linalg,softmax,reduce}.c:
 * build a graph, run it through the reference interpreter in float32 and float64 storage, read
 * back the randomly initialized parameters and the output, and compare the output with a
 * plain C reference computed from those same parameter values. */
#ifndef SSLC_TESTS_FWDCHECK_H
#define SSLC_TESTS_FWDCHECK_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../optest.h"
#include "runtime/init.h"
#include "runtime/interp.h"

#define FC_MAXV 8

/* Every ctx passed to fc_check starts with this member. When ivals[k] is set, fc_leaf makes
 * leaf k an i64 constant with those values instead of a float parameter (to run the
 * dtype-generic copy ops on integers). */
typedef struct {
    const double *ivals[FC_MAXV];
} fc_ints;

typedef struct {
    int np; /* float parameters, in creation order (leaf order) */
    double *p[FC_MAXV];
    ir_shape ps[FC_MAXV];
    double *y;
    ir_shape ys;
    ir_dtype ydt;
    char err[IR_ERRLEN];
} fc_result;

static inline int fc_leaf(ir_graph *g, const void *ctx, int k, ir_shape s, double lo, double hi) {
    const fc_ints *ints = ctx;
    char name[16];
    snprintf(name, sizeof name, "x%d", k);
    if (ints && k < FC_MAXV && ints->ivals[k]) {
        int64_t n = ir_numel(&s);
        int64_t *d = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) d[i] = (int64_t)ints->ivals[k][i];
        int v = ir_const(g, DT_I64, s, d);
        free(d);
        return v;
    }
    return ir_param(g, name, s, ir_init_uniform(lo, hi), 0);
}

static inline void fc_free(fc_result *r) {
    for (int i = 0; i < r->np; i++) free(r->p[i]);
    free(r->y);
    memset(r, 0, sizeof *r);
}

/* 0: ran; 1: the graph did not build (g.err printed unless quiet); 2: the run failed (r->err) */
static inline int fc_run_q(gc_build_fn build, void *ctx, int f64, fc_result *r, int quiet) {
    memset(r, 0, sizeof *r);
    ir_graph g;
    ir_graph_init(&g);
    int y = build(&g, ctx), rc = 2;
    if (y < 0 || g.failed) {
        if (!quiet) fprintf(stderr, "build failed: %s\n", g.err);
        snprintf(r->err, sizeof r->err, "%s", g.err);
        ir_graph_free(&g);
        return 1;
    }
    ir_add_output(&g, y);
    interp it;
    if (interp_init(&it, &g, f64, r->err)) goto out;
    if (init_persistent(&it, 1234, r->err) || interp_run(&it, r->err)) goto out_it;
    for (int v = 0; v < g.nvals && r->np < FC_MAXV; v++) {
        if (g.vals[v].kind != VK_PARAM) continue;
        int k = r->np++;
        r->ps[k] = g.vals[v].shape;
        r->p[k] = malloc((size_t)(ir_numel(&r->ps[k]) + 1) * sizeof(double));
        interp_get_f64(&it, v, r->p[k], r->err);
    }
    r->ys = g.vals[y].shape;
    r->ydt = g.vals[y].dtype;
    int64_t n = ir_numel(&r->ys);
    r->y = malloc((size_t)(n + 1) * sizeof(double));
    if (r->ydt == DT_I64) {
        const int64_t *d = interp_data(&it, y);
        for (int64_t i = 0; i < n; i++) r->y[i] = (double)d[i];
    } else if (interp_get_f64(&it, y, r->y, r->err))
        goto out_it;
    rc = 0;
out_it:
    interp_free(&it);
out:
    ir_graph_free(&g);
    return rc;
}
static inline int fc_run(gc_build_fn build, void *ctx, int f64, fc_result *r) {
    int rc = fc_run_q(build, ctx, f64, r, 0);
    if (rc == 2) fprintf(stderr, "run failed: %s\n", r->err);
    return rc;
}

/* |got - want| <= tol * (1 + |want|) elementwise */
static inline int fc_compare(const char *label, const double *got, const double *want, int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (!(e <= tol * (1 + fabs(want[i])))) {
            fprintf(stderr, "FAIL %s: element %lld = %.9g, want %.9g\n", label, (long long)i, got[i], want[i]);
            return 1;
        }
    }
    return 0;
}

/* reference: from the leaf values in[k] (shapes ins[k]) compute the expected output */
typedef void (*fc_ref_fn)(void *ctx, double *const *in, const ir_shape *ins, double *want);

/* Runs `build` in float32 and float64, checks the output shape and values against `ref`
 * (tolerance 1e-5 and 1e-10 relative). With ints != 0, reruns with every leaf as an i64
 * constant (leaf values scaled by 100 and truncated) and wants an exact i64 result. */
static inline int fc_check(const char *label, gc_build_fn build, void *ctx, ir_shape want_shape, fc_ref_fn ref,
                           int ints) {
    char sa[96], sb[96];
    fc_result r64 = {0};
    for (int f64 = 0; f64 < 2; f64++) {
        fc_result r;
        if (fc_run(build, ctx, f64, &r)) {
            fprintf(stderr, "FAIL %s: could not run (%s)\n", label, f64 ? "f64" : "f32");
            fc_free(&r);
            fc_free(&r64);
            return 1;
        }
        if (!ir_shape_eq(&r.ys, &want_shape)) {
            ir_shape_str(&r.ys, sa, sizeof sa);
            ir_shape_str(&want_shape, sb, sizeof sb);
            fprintf(stderr, "FAIL %s: output shape %s, want %s\n", label, sa, sb);
            fc_free(&r);
            fc_free(&r64);
            return 1;
        }
        int64_t n = ir_numel(&r.ys);
        double *want = malloc((size_t)(n + 1) * sizeof(double));
        ref(ctx, r.p, r.ps, want);
        char lab[160];
        snprintf(lab, sizeof lab, "%s (%s)", label, f64 ? "f64" : "f32");
        int bad = fc_compare(lab, r.y, want, n, f64 ? 1e-10 : 1e-5);
        free(want);
        if (bad) {
            fc_free(&r);
            fc_free(&r64);
            return 1;
        }
        if (f64)
            r64 = r;
        else
            fc_free(&r);
    }
    int bad = 0;
    if (ints) {
        fc_ints *fi = ctx;
        double *iv[FC_MAXV] = {0};
        for (int k = 0; k < r64.np; k++) {
            int64_t n = ir_numel(&r64.ps[k]);
            iv[k] = malloc((size_t)(n + 1) * sizeof(double));
            for (int64_t i = 0; i < n; i++) iv[k][i] = trunc(r64.p[k][i] * 100);
            fi->ivals[k] = iv[k];
        }
        fc_result r;
        char lab[160];
        snprintf(lab, sizeof lab, "%s (i64)", label);
        if (fc_run(build, ctx, 0, &r) || r.ydt != DT_I64) {
            fprintf(stderr, "FAIL %s: could not run on i64\n", lab);
            bad = 1;
        } else {
            int64_t n = ir_numel(&r.ys);
            double *want = malloc((size_t)(n + 1) * sizeof(double));
            ref(ctx, iv, r64.ps, want);
            bad = fc_compare(lab, r.y, want, n, 0);
            free(want);
        }
        fc_free(&r);
        for (int k = 0; k < r64.np; k++) free(iv[k]), fi->ivals[k] = NULL;
    }
    fc_free(&r64);
    return bad;
}

/* multi-index <-> flat offset helpers for references */
static inline void fc_unravel(int64_t i, const ir_shape *s, int64_t *idx) {
    for (int d = s->ndim - 1; d >= 0; d--) {
        idx[d] = s->d[d] ? i % s->d[d] : 0;
        i = s->d[d] ? i / s->d[d] : 0;
    }
}
static inline int64_t fc_ravel(const int64_t *idx, const ir_shape *s) {
    int64_t o = 0;
    for (int d = 0; d < s->ndim; d++) o = o * s->d[d] + idx[d];
    return o;
}

#endif
