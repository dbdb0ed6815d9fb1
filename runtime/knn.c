#include "knn.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir/gemm.h"
#include "ir/ir.h"

/* test rows per sgemm: 256 x 60000 similarities are 61 MB */
#define KNN_CHUNK 256

int64_t knn_vote(const float *sim, const int64_t *train_y, int64_t ntrain, int classes, int k, double temperature,
                 int64_t *nn_idx, float *nn_sim, double *votes) {
    /* top-k by insertion into a sorted list (descending similarity, ascending index on equal
     * similarity): the list changes rarely once full, so this is one compare per sample */
    int m = 0;
    for (int64_t j = 0; j < ntrain; j++) {
        float s = sim[j];
        if (m == k && !(s > nn_sim[k - 1])) continue; /* equal: the earlier index stays nearer */
        int p = m < k ? m++ : k - 1;
        while (p > 0 && s > nn_sim[p - 1]) {
            nn_sim[p] = nn_sim[p - 1];
            nn_idx[p] = nn_idx[p - 1];
            p--;
        }
        nn_sim[p] = s;
        nn_idx[p] = j;
    }
    for (int c = 0; c < classes; c++) votes[c] = 0;
    for (int i = 0; i < m; i++) votes[train_y[nn_idx[i]]] += exp((double)nn_sim[i] / temperature);
    int64_t best = 0;
    for (int c = 1; c < classes; c++)
        if (votes[c] > votes[best]) best = c;
    return best;
}

int knn_predict(const float *train, const int64_t *train_y, int64_t ntrain, const float *test, int64_t ntest,
                int64_t dim, int classes, int k, double temperature, int64_t *pred, char *err) {
    if (k < 1 || k > ntrain) {
        snprintf(err, IR_ERRLEN, "kNN: k = %d must be between 1 and the %lld training samples", k, (long long)ntrain);
        return -1;
    }
    if (classes < 1 || !(temperature > 0)) {
        snprintf(err, IR_ERRLEN, "kNN: needs at least one class and a positive temperature");
        return -1;
    }
    for (int64_t j = 0; j < ntrain; j++)
        if (train_y[j] < 0 || train_y[j] >= classes) {
            snprintf(err, IR_ERRLEN, "kNN: training label %lld of sample %lld is not in [0, %d)", (long long)train_y[j],
                     (long long)j, classes);
            return -1;
        }
    int64_t chunk = ntest < KNN_CHUNK ? ntest : KNN_CHUNK;
    float *sim = malloc((size_t)(chunk ? chunk : 1) * (size_t)ntrain * sizeof *sim);
    if (!sim) {
        snprintf(err, IR_ERRLEN, "kNN: out of memory for %lld x %lld similarities", (long long)chunk, (long long)ntrain);
        return -1;
    }
    /* per-thread scratch for the selection and the vote */
    int nt = omp_get_max_threads();
    int64_t *idx = malloc((size_t)nt * (size_t)k * sizeof *idx);
    float *ns = malloc((size_t)nt * (size_t)k * sizeof *ns);
    double *votes = malloc((size_t)nt * (size_t)classes * sizeof *votes);
    int rc = -1;
    if (!idx || !ns || !votes) {
        snprintf(err, IR_ERRLEN, "kNN: out of memory");
        goto out;
    }
    for (int64_t i0 = 0; i0 < ntest; i0 += chunk) {
        int64_t rows = ntest - i0 < chunk ? ntest - i0 : chunk;
        /* sim = test[i0 .. i0+rows) x train^T */
        ref_gemm_f32(0, 1, rows, ntrain, dim, 1.0f, test + i0 * dim, dim, train, dim, 0.0f, sim, ntrain);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            int t = omp_get_thread_num();
            pred[i0 + r] = knn_vote(sim + r * ntrain, train_y, ntrain, classes, k, temperature, idx + (int64_t)t * k,
                                    ns + (int64_t)t * k, votes + (int64_t)t * classes);
        }
    }
    rc = 0;
out:
    free(sim);
    free(idx);
    free(ns);
    free(votes);
    return rc;
}
