#include "report_embed.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/ir.h"
#include "../runtime/knn.h"

#define PCA_ITERS 300

/* v <- top eigenvector of the symmetric c [d, d] (double), orthogonal to prev (NULL: none) */
static void power_iteration(const double *c, int64_t d, const double *prev, double *v, double *tmp) {
    for (int64_t i = 0; i < d; i++) v[i] = 1.0 + (double)i / (double)d; /* fixed, not orthogonal to much */
    for (int it = 0; it < PCA_ITERS; it++) {
        if (prev) {
            double p = 0;
            for (int64_t i = 0; i < d; i++) p += prev[i] * v[i];
            for (int64_t i = 0; i < d; i++) v[i] -= p * prev[i];
        }
        double nrm = 0;
        for (int64_t i = 0; i < d; i++) {
            double s = 0;
            for (int64_t j = 0; j < d; j++) s += c[i * d + j] * v[j];
            tmp[i] = s;
            nrm += s * s;
        }
        nrm = sqrt(nrm);
        if (nrm < 1e-30) break; /* no variance left: keep v */
        for (int64_t i = 0; i < d; i++) v[i] = tmp[i] / nrm;
    }
    int64_t big = 0;
    for (int64_t i = 1; i < d; i++)
        if (fabs(v[i]) > fabs(v[big])) big = i;
    if (v[big] < 0)
        for (int64_t i = 0; i < d; i++) v[i] = -v[i];
}

int pca2(const float *x, int64_t n, int64_t dim, float *xy, char *err) {
    float *xc = calloc((size_t)n * (size_t)dim, sizeof *xc), *cf = malloc((size_t)dim * (size_t)dim * sizeof *cf);
    double *c = malloc((size_t)dim * (size_t)dim * sizeof *c), *v = malloc((size_t)dim * 3 * sizeof *v);
    double *mean = calloc((size_t)dim, sizeof *mean);
    int rc = -1;
    if (!xc || !cf || !c || !v || !mean) {
        snprintf(err, IR_ERRLEN, "out of memory for the PCA of %lld x %lld embeddings", (long long)n, (long long)dim);
        goto out;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) mean[j] += x[i * dim + j];
    for (int64_t j = 0; j < dim; j++) mean[j] /= (double)(n ? n : 1);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) xc[i * dim + j] = (float)(x[i * dim + j] - mean[j]);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)dim, (blasint)dim, (blasint)n, 1.0f, xc, (blasint)dim,
                xc, (blasint)dim, 0.0f, cf, (blasint)dim);
    for (int64_t i = 0; i < dim * dim; i++) c[i] = cf[i];
    double *v1 = v, *v2 = v + dim, *tmp = v + 2 * dim;
    power_iteration(c, dim, NULL, v1, tmp);
    power_iteration(c, dim, v1, v2, tmp);
    for (int64_t i = 0; i < n; i++) {
        double a = 0, b = 0;
        for (int64_t j = 0; j < dim; j++) a += xc[i * dim + j] * v1[j], b += xc[i * dim + j] * v2[j];
        xy[2 * i] = (float)a, xy[2 * i + 1] = (float)b;
    }
    rc = 0;
out:
    free(xc), free(cf), free(c), free(v), free(mean);
    return rc;
}

int nearest(const float *bank, int64_t nbank, int64_t dim, const float *q, int k, int64_t *nn, char *err) {
    float *sim = malloc((size_t)nbank * sizeof *sim), *nn_sim = malloc((size_t)k * sizeof *nn_sim);
    int64_t *y = calloc((size_t)nbank, sizeof *y);
    double votes[1];
    int rc = -1;
    if (!sim || !nn_sim || !y) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto out;
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)nbank, (blasint)dim, 1.0f, bank, (blasint)dim, q, 1, 0.0f, sim, 1);
    /* knn.h's selection (one class: the vote is irrelevant, the neighbours are what we want) */
    knn_vote(sim, y, nbank, 1, k, KNN_DEFAULT_T, nn, nn_sim, votes);
    rc = 0;
out:
    free(sim), free(nn_sim), free(y);
    return rc;
}
