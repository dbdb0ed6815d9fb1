/* What `sslc report` draws from embeddings: a 2-D map (PCA) and nearest neighbours. */
#ifndef SSLC_REPORT_EMBED_H
#define SSLC_REPORT_EMBED_H
#include <stdint.h>

/* The rows of x [n, dim] projected on their first two principal components into xy [n, 2]:
 * centred, covariance by OpenBLAS, each component by power iteration from a fixed start
 * (then deflation), signed so that its largest coordinate is positive: the same input gives
 * the same map. 0, or -1 with err (out of memory). */
int pca2(const float *x, int64_t n, int64_t dim, float *xy, char *err);

/* The k rows of bank [nbank, dim] most similar (dot product; L2-normalized rows: cosine) to q
 * [dim], most similar first, into nn[k] (ties: the lower index). k <= nbank. 0 or -1 (memory). */
int nearest(const float *bank, int64_t nbank, int64_t dim, const float *q, int k, int64_t *nn, char *err);

#endif
