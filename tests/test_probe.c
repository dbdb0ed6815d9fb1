/* The linear probe (frontend/probe.h): a graph compiled by sslc (autodiff + optimizer pass) that
 * learns separable data, agrees between the cpu engine and the reference interpreter, and learns
 * the classes of fake: images. */
#include <stdlib.h>
#include <string.h>

#include "frontend/probe.h"
#include "optest.h"
#include "runtime/dataset.h"
#include "runtime/rng.h"

static double accuracy(const probe_model *m, const float *x, const int64_t *y, int64_t n) {
    int64_t *p = malloc((size_t)n * sizeof *p), ok = 0;
    char err[IR_ERRLEN];
    if (!p || probe_predict(m, x, n, p, err)) {
        free(p);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) ok += p[i] == y[i];
    free(p);
    return 100.0 * (double)ok / (double)n;
}

/* C Gaussian blobs in D dims, class means 3 apart along random directions, unit noise; with an
 * offset and scale per dimension that the standardization must undo */
static void blobs(float *x, int64_t *y, int64_t n, int D, int C, uint64_t seed) {
    sslc_rng r, rm;
    rng_seed(&rm, 99, 1); /* the same class means for every split */
    double mu[8][32];
    for (int c = 0; c < C; c++)
        for (int d = 0; d < D; d++) mu[c][d] = 3 * rng_normal(&rm);
    rng_seed(&r, seed, 2);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % C);
        y[i] = c;
        for (int d = 0; d < D; d++) x[i * D + d] = (float)((mu[c][d] + rng_normal(&r)) * (1 + d) + 10 * d);
    }
}

static int test_separable(void) {
    enum { N = 1200, NT = 600, D = 16, C = 4 };
    float *x = malloc(sizeof(float) * N * D), *xt = malloc(sizeof(float) * NT * D);
    int64_t y[N], yt[NT];
    blobs(x, y, N, D, C, 1);
    blobs(xt, yt, NT, D, C, 2);
    probe_opts o = probe_defaults();
    o.epochs = 10;
    o.batch = 64;
    probe_model m, mr;
    char err[IR_ERRLEN];
    CHECK(probe_fit(&o, x, y, N, D, C, &m, err) == 0, "%s", err);
    double tr = accuracy(&m, x, y, N), te = accuracy(&m, xt, yt, NT);
    CHECK(tr >= 99 && te >= 99, "separable blobs: train %.2f %%, test %.2f %% (want >= 99)", tr, te);
    /* the same graph on the reference interpreter: the same training, up to float rounding */
    o.device = ENGINE_REF;
    o.epochs = 2, o.min_steps = 0, o.nwd = 1; /* 36 steps */
    probe_model mc;
    CHECK(probe_fit(&o, x, y, N, D, C, &mr, err) == 0, "%s", err);
    o.device = ENGINE_CPU;
    CHECK(probe_fit(&o, x, y, N, D, C, &mc, err) == 0, "%s", err);
    double d = 0, a = 0;
    for (int i = 0; i < C * D; i++) {
        d = fmax(d, fabs(mr.w[i] - mc.w[i]));
        a = fmax(a, fabs(mr.w[i]));
    }
    CHECK(d <= 1e-4 * fmax(1, a), "cpu vs ref weights: max diff %g (max |w| %g)", d, a);
    probe_free(&mr);
    /* bad input */
    y[3] = C;
    CHECK(probe_fit(&o, x, y, N, D, C, &mr, err) < 0, "label out of range accepted");
    CHECK(strstr(err, "label 4 of sample 3"), "%s", err);
    CHECK(probe_fit(&o, x, y, N, D, 1, &mr, err) < 0, "one class accepted");
    printf("ok   linear probe: separable blobs train %.2f %% test %.2f %%, cpu = ref (max diff %.2g)\n", tr, te, d);
    probe_free(&m);
    probe_free(&mc);
    free(x);
    free(xt);
    return 0;
}

/* labels = argmax of C fixed linear functions of x uniform in [-1, 1]^D, keeping points whose
 * best and second-best differ by at least 0.1: separable, but only by a well-converged fit */
static void argmax_data(float *x, int64_t *y, int64_t n, int D, int C, uint64_t seed) {
    sslc_rng r, rw;
    rng_seed(&rw, 7, 3);
    double w[8][32];
    for (int c = 0; c < C; c++)
        for (int d = 0; d < D; d++) w[c][d] = rng_normal(&rw);
    rng_seed(&r, seed, 4);
    for (int64_t i = 0; i < n;) {
        double s[8], best = -1e30, second = -1e30;
        int bc = 0;
        for (int d = 0; d < D; d++) x[i * D + d] = (float)(2 * rng_uniform(&r) - 1);
        for (int c = 0; c < C; c++) {
            s[c] = 0;
            for (int d = 0; d < D; d++) s[c] += w[c][d] * x[i * D + d];
            if (s[c] > best) second = best, best = s[c], bc = c;
            else if (s[c] > second) second = s[c];
        }
        if (best - second < 0.1) continue;
        y[i++] = bc;
    }
}

static int test_margin(void) {
    enum { N = 4000, NT = 1000, D = 8, C = 4 };
    float *x = malloc(sizeof(float) * N * D), *xt = malloc(sizeof(float) * NT * D);
    int64_t *y = malloc(sizeof(int64_t) * N), *yt = malloc(sizeof(int64_t) * NT);
    argmax_data(x, y, N, D, C, 1);
    argmax_data(xt, yt, NT, D, C, 2);
    probe_opts o = probe_defaults();
    probe_model m;
    char err[IR_ERRLEN];
    CHECK(probe_fit(&o, x, y, N, D, C, &m, err) == 0, "%s", err);
    double te = accuracy(&m, xt, yt, NT);
    CHECK(te >= 99, "argmax-linear labels with margin 0.1: test %.2f %% (want >= 99)", te);
    printf("ok   linear probe: linearly separable labels with a small margin, test %.2f %%\n", te);
    probe_free(&m);
    free(x), free(y), free(xt), free(yt);
    return 0;
}

/* raw pixels of fake: images (class patterns under noise) */
static int fake_pixels(ds_split split, int64_t n, float **x, int64_t **y, int *dim) {
    sslc_dataset *ds;
    char err[IR_ERRLEN], spec[64];
    snprintf(spec, sizeof spec, "fake:%lld:1x16x16", (long long)n);
    ds_options o = {.seed = 3};
    if (ds_open(&ds, spec, split, &o, err)) return -1;
    const ds_info *in = ds_get_info(ds);
    *dim = in->c * in->h * in->w;
    *x = malloc(sizeof(float) * (size_t)(n * *dim));
    *y = malloc(sizeof(int64_t) * (size_t)n);
    uint8_t *img = malloc((size_t)*dim);
    for (int64_t i = 0; i < n; i++) {
        int32_t lab;
        if (ds_read(ds, i, img, DS_CHW, &lab, err)) return -1;
        for (int k = 0; k < *dim; k++) (*x)[i * *dim + k] = img[k] / 255.0f;
        (*y)[i] = lab;
    }
    free(img);
    ds_close(ds);
    return 0;
}

/* the phase of the fake patterns is random, so raw pixels separate the classes only in part */
#define PROBE_FAKE_MIN 30
static int test_fake(void) {
    float *x, *xt;
    int64_t *y, *yt;
    int dim;
    CHECK(fake_pixels(DS_TRAIN, 2000, &x, &y, &dim) == 0 && fake_pixels(DS_TEST, 500, &xt, &yt, &dim) == 0, "fake data");
    probe_opts o = probe_defaults();
    o.epochs = 20;
    probe_model m;
    char err[IR_ERRLEN];
    CHECK(probe_fit(&o, x, y, 2000, dim, 10, &m, err) == 0, "%s", err);
    double te = accuracy(&m, xt, yt, 500);
    CHECK(te >= PROBE_FAKE_MIN, "fake:2000:1x16x16 pixels: test top-1 %.2f %% < %d %%", te, PROBE_FAKE_MIN);
    printf("ok   linear probe on fake:2000:1x16x16 pixels: test top-1 %.2f %% (chance 10 %%)\n", te);
    probe_free(&m);
    free(x), free(y), free(xt), free(yt);
    return 0;
}

int main(void) {
    int fails = test_separable() + test_margin() + test_fake();
    printf("%d passed, %d failed\n", 3 - fails, fails);
    return fails != 0;
}
