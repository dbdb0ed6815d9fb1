#include "optest.h"

#include <stdlib.h>
#include <string.h>

#include "frontend/driver.h"
#include "passes/autodiff.h"
#include "runtime/init.h"
#include "runtime/interp.h"
#include "runtime/rng.h"

unsigned char optest_ops_seen[OP__COUNT];

void test_fill_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed) {
    sslc_rng r;
    rng_seed(&r, seed, 7);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * rng_uniform(&r));
}

int test_simclr_graph(ir_graph *g, const char *backbone, int size, int64_t batch, const char *set, char *err) {
    compile_args a;
    memset(&a, 0, sizeof a);
    a.method = method_find("simclr");
    snprintf(a.spec.backbone.name, sizeof a.spec.backbone.name, "%s", backbone);
    a.spec.backbone.width = 1;
    a.spec.backbone.image_size = size;
    a.spec.backbone.channels = 3;
    a.spec.backbone.cifar_stem = -1;
    a.spec.batch = batch;
    if (set) a.spec.set[a.spec.nset++] = set;
    a.opt = opt_defaults(OPT_SGD);
    a.lr = 0.05;
    ir_graph_init(g);
    return driver_build_train(&a, g, err);
}

double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

double rel_err(const float *a, const float *b, int64_t n) {
    double s = 1e-12;
    for (int64_t i = 0; i < n; i++)
        if (fabs(b[i]) > s) s = fabs(b[i]);
    return max_abs_diff(a, b, n) / s;
}

int run_forward_f32(gc_build_fn build, void *ctx, float *out, int64_t numel) {
    ir_graph g;
    ir_graph_init(&g);
    int y = build(&g, ctx);
    char err[IR_ERRLEN] = {0};
    int rc = -1;
    interp it;
    if (g.failed || y < 0) {
        fprintf(stderr, "build failed: %s\n", g.err);
        goto done;
    }
    if (ir_numel(&g.vals[y].shape) != numel) {
        fprintf(stderr, "output has %lld elements, expected %lld\n", (long long)ir_numel(&g.vals[y].shape),
                (long long)numel);
        goto done;
    }
    ir_add_output(&g, y);
    if (interp_init(&it, &g, 0, err)) goto fail;
    if (init_persistent(&it, 1234, err) || interp_run(&it, err) || interp_get_f32(&it, y, out, err)) {
        interp_free(&it);
        goto fail;
    }
    interp_free(&it);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "run failed: %s\n", err);
done:
    ir_graph_free(&g);
    return rc;
}

static double loss_of(interp *it, int loss, char *err) {
    double l = NAN;
    if (interp_run(it, err) || interp_get_f64(it, loss, &l, err)) return NAN;
    return l;
}

int gradcheck(const char *label, gc_build_fn build, void *ctx, double tol) {
    ir_graph g;
    ir_graph_init(&g);
    char err[IR_ERRLEN] = {0};
    int rc = 1, *params = NULL, *grads = NULL, np = 0;
    double worst = 0;
    interp it;
    int have_it = 0;
    int y = build(&g, ctx);
    if (y < 0 || g.failed) {
        fprintf(stderr, "FAIL gradcheck %s: build: %s\n", label, g.err);
        goto done;
    }
    int64_t ny = ir_numel(&g.vals[y].shape);
    float *r = malloc((size_t)(ny ? ny : 1) * sizeof(float));
    test_fill_uniform(r, ny, -1.0, 1.0, 99);
    int rv = ir_const(&g, DT_F32, g.vals[y].shape, r);
    free(r);
    int loss = ir_reduce_sum(&g, ir_mul(&g, y, rv), NULL, 0, 0);
    np = ir_trainable_params(&g, &params);
    grads = calloc((size_t)np + 1, sizeof(int));
    if (autodiff(&g, loss, params, np, grads) != 0) {
        fprintf(stderr, "FAIL gradcheck %s: autodiff: %s\n", label, g.err);
        goto done;
    }
    ir_add_output(&g, loss);
    for (int i = 0; i < np; i++) ir_add_output(&g, grads[i]);
    for (int i = 0; i < g.nnodes; i++) optest_ops_seen[g.nodes[i].op] = 1;
    if (interp_init(&it, &g, 1, err)) goto fail;
    have_it = 1;
    if (init_persistent(&it, 4321, err)) goto fail;
    if (isnan(loss_of(&it, loss, err))) goto fail;
    /* read every analytic gradient before any perturbation reruns the graph */
    double **an = calloc((size_t)np + 1, sizeof(double *));
    for (int i = 0; i < np; i++) {
        an[i] = calloc((size_t)ir_numel(&g.vals[params[i]].shape) + 1, sizeof(double));
        if (grads[i] >= 0 && interp_get_f64(&it, grads[i], an[i], err)) goto fail_an;
    }
    for (int i = 0; i < np; i++) {
        int p = params[i];
        int64_t n = ir_numel(&g.vals[p].shape);
        double scale = 1.0;
        for (int64_t j = 0; j < n; j++)
            if (fabs(an[i][j]) > scale) scale = fabs(an[i][j]);
        double *pv = interp_data(&it, p);
        const double h = 1e-6;
        for (int64_t j = 0; j < n; j++) {
            double x0 = pv[j];
            pv[j] = x0 + h;
            double lp = loss_of(&it, loss, err);
            pv[j] = x0 - h;
            double lm = loss_of(&it, loss, err);
            pv[j] = x0;
            double fd = (lp - lm) / (2 * h);
            double e = fabs(fd - an[i][j]) / scale;
            if (!(e <= worst)) worst = e;
            if (!(e <= tol)) {
                fprintf(stderr, "FAIL gradcheck %s: %s[%lld] fd=%.9g autodiff=%.9g (err %.3g > %.3g)\n", label,
                        g.vals[p].name, (long long)j, fd, an[i][j], e, tol);
                goto fail_an;
            }
        }
    }
    for (int i = 0; i < np; i++) free(an[i]);
    free(an);
    printf("ok   gradcheck %-40s max err %.2e (%d params)\n", label, worst, np);
    rc = 0;
    goto done;
fail_an:
    for (int i = 0; i < np; i++) free(an[i]);
    free(an);
    if (rc && err[0]) fprintf(stderr, "FAIL gradcheck %s: %s\n", label, err);
    goto done;
fail:
    fprintf(stderr, "FAIL gradcheck %s: %s\n", label, err);
done:
    if (have_it) interp_free(&it);
    free(params);
    free(grads);
    ir_graph_free(&g);
    return rc;
}
