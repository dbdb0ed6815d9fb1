/* Row and column normalization of feature matrices [n, dim] (row-major float32), for the
 * evaluation of frozen features (kNN, linear probe). */
#ifndef SSLC_FEATNORM_H
#define SSLC_FEATNORM_H
#include <stdint.h>

/* Each row to unit L2 norm (F.normalize with eps 1e-12: a zero row stays zero). */
void feat_l2_normalize(float *x, int64_t n, int64_t dim);

/* Per-column mean and standard deviation (population, accumulated in double) of x; a column
 * whose deviation is below 1e-6 times its scale gets std 1, so it maps to 0, not to noise.
 * Returns 0, or -1 when out of memory. */
int feat_moments(const float *x, int64_t n, int64_t dim, float *mean, float *std);
/* x[i][j] = (x[i][j] - mean[j]) / std[j] */
void feat_standardize(float *x, int64_t n, int64_t dim, const float *mean, const float *std);

/* The largest eigenvalue of x^T x / n (power iteration from a fixed start, `iters` rounds,
 * in double), estimated on at most max_rows rows spread evenly over x: the curvature scale
 * that bounds a stable gradient step on x. */
double feat_top_eigenvalue(const float *x, int64_t n, int64_t dim, int64_t max_rows, int iters);

#endif
