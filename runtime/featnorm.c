#include "featnorm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void feat_l2_normalize(float *x, int64_t n, int64_t dim) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double s = 0;
        for (int64_t j = 0; j < dim; j++) s += (double)r[j] * r[j];
        double nrm = sqrt(s);
        float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
        for (int64_t j = 0; j < dim; j++) r[j] *= inv;
    }
}

int feat_moments(const float *x, int64_t n, int64_t dim, float *mean, float *std) {
    /* two passes in double, row by row (cache friendly); a few hundred ms for 60k x 784 */
    double *s = calloc((size_t)dim + 1, sizeof *s), *ss = calloc((size_t)dim + 1, sizeof *ss),
           *amax = calloc((size_t)dim + 1, sizeof *amax);
    int rc = -1;
    if (!s || !ss || !amax) goto out;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) s[j] += x[i * dim + j];
    for (int64_t j = 0; j < dim; j++) s[j] = n ? s[j] / (double)n : 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) {
            double v = x[i * dim + j], d = v - s[j];
            ss[j] += d * d;
            if (fabs(v) > amax[j]) amax[j] = fabs(v);
        }
    for (int64_t j = 0; j < dim; j++) {
        double sd = n ? sqrt(ss[j] / (double)n) : 0;
        mean[j] = (float)s[j];
        std[j] = sd > 1e-6 * (amax[j] > 1 ? amax[j] : 1) ? (float)sd : 1.0f;
    }
    rc = 0;
out:
    free(s);
    free(ss);
    free(amax);
    return rc;
}

void feat_standardize(float *x, int64_t n, int64_t dim, const float *mean, const float *std) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        for (int64_t j = 0; j < dim; j++) r[j] = (r[j] - mean[j]) / std[j];
    }
}

double feat_top_eigenvalue(const float *x, int64_t n, int64_t dim, int64_t max_rows, int iters) {
    double *v = malloc((size_t)dim * sizeof *v), *u = calloc((size_t)dim, sizeof *u);
    double lam = 0;
    int64_t m = n < max_rows ? n : max_rows;
    if (!v || !u || m < 1) goto out;
    for (int64_t j = 0; j < dim; j++) v[j] = 1 / sqrt((double)dim) * (1 + 0.01 * (double)(j % 7));
    for (int it = 0; it < iters; it++) {
        /* u = x^T (x v) / n, row by row */
        memset(u, 0, (size_t)dim * sizeof *u);
        for (int64_t k = 0; k < m; k++) {
            const float *r = x + (k * n / m) * dim;
            double d = 0;
            for (int64_t j = 0; j < dim; j++) d += r[j] * v[j];
            for (int64_t j = 0; j < dim; j++) u[j] += d * r[j];
        }
        double nrm = 0;
        for (int64_t j = 0; j < dim; j++) nrm += u[j] * u[j];
        nrm = sqrt(nrm);
        lam = nrm / (double)m; /* |C v| with |v| = 1 */
        if (nrm == 0) break;
        for (int64_t j = 0; j < dim; j++) v[j] = u[j] / nrm;
    }
out:
    free(v);
    free(u);
    return lam;
}
