/* kNN classification (runtime/knn.h): hand-checked votes, weighting and tie-breaking, and the
 * chunked sgemm path against a plain loop. */
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "runtime/featnorm.h"
#include "runtime/knn.h"

static int test_vote(void) {
    int64_t idx[8];
    float ns[8];
    double votes[4];
    /* neighbours of sims {0.9, 0.5, 0.5, 0.8, 0.1, 0.5}: 0 (0.9), 3 (0.8), then the three at 0.5
     * tie and the lowest index, 1, is nearer. T = 1: class 0 gets e^0.9 = 2.46, class 1 gets
     * e^0.8 + e^0.5 = 3.87 -> 1. */
    const float sim[6] = {0.9f, 0.5f, 0.5f, 0.8f, 0.1f, 0.5f};
    const int64_t y[6] = {0, 1, 2, 1, 0, 2};
    CHECK(knn_vote(sim, y, 6, 3, 3, 1.0, idx, ns, votes) == 1, "weighted vote, T = 1");
    CHECK(idx[0] == 0 && idx[1] == 3 && idx[2] == 1, "neighbours %lld %lld %lld, expected 0 3 1", (long long)idx[0],
          (long long)idx[1], (long long)idx[2]);
    CHECK(fabs(votes[1] - (exp(0.8) + exp(0.5))) < 1e-6 && fabs(votes[0] - exp(0.9)) < 1e-6 && votes[2] == 0,
          "votes %g %g %g", votes[0], votes[1], votes[2]);
    /* k = 4: the second 0.5 (index 2, class 2) joins; k = 1: the nearest alone */
    CHECK(knn_vote(sim, y, 6, 3, 4, 1.0, idx, ns, votes) == 1 && idx[3] == 2, "k = 4");
    CHECK(knn_vote(sim, y, 6, 3, 1, 1.0, idx, ns, votes) == 0, "k = 1");
    /* the temperature: sims {0.9, 0.8, 0.8}, classes {0, 1, 1}. T = 1: 2 e^0.8 = 4.45 > e^0.9 = 2.46
     * -> 1; T = 0.07: e^12.86 = 3.8e5 > 2 e^11.43 = 1.8e5 -> 0 */
    const float s2[3] = {0.9f, 0.8f, 0.8f};
    const int64_t y2[3] = {0, 1, 1};
    CHECK(knn_vote(s2, y2, 3, 2, 3, 1.0, idx, ns, votes) == 1, "T = 1 favours the majority");
    CHECK(knn_vote(s2, y2, 3, 2, 3, KNN_DEFAULT_T, idx, ns, votes) == 0, "T = 0.07 favours the nearest");
    /* equal votes: the lower class wins, whichever neighbour came first */
    const float s3[4] = {0.5f, 0.5f, -1.0f, 0.2f};
    const int64_t y3[4] = {2, 1, 0, 3};
    CHECK(knn_vote(s3, y3, 4, 4, 2, 1.0, idx, ns, votes) == 1, "vote tie -> lower class");
    const int64_t y4[4] = {1, 2, 0, 3};
    CHECK(knn_vote(s3, y4, 4, 4, 2, 1.0, idx, ns, votes) == 1, "vote tie -> lower class (swapped)");
    /* k = ntrain: everyone votes */
    CHECK(knn_vote(s3, y3, 4, 4, 4, 1.0, idx, ns, votes) == 1 && idx[2] == 3 && idx[3] == 2, "k = ntrain order");
    printf("ok   kNN vote: weighting, temperature, neighbour and class ties\n");
    return 0;
}

/* small integer features: every dot product is exact in float, so sgemm and a plain loop agree
 * bit for bit and ties (frequent here) are broken the same way */
static int test_predict(void) {
    enum { NTR = 70, NTE = 600, DIM = 4, C = 5, K = 7 }; /* NTE > one chunk of 256 */
    float *tr = malloc(sizeof(float) * NTR * DIM), *te = malloc(sizeof(float) * NTE * DIM), sim[NTR];
    int64_t ytr[NTR], pred[NTE], idx[K];
    float ns[K];
    double votes[C];
    uint64_t s = 12345;
    for (int i = 0; i < NTR * DIM; i++) tr[i] = (float)((int)((s = s * 6364136223846793005ULL + 1) >> 61) - 3);
    for (int i = 0; i < NTE * DIM; i++) te[i] = (float)((int)((s = s * 6364136223846793005ULL + 1) >> 61) - 3);
    for (int i = 0; i < NTR; i++) ytr[i] = i % C;
    char err[IR_ERRLEN];
    CHECK(knn_predict(tr, ytr, NTR, te, NTE, DIM, C, K, 1.0, pred, err) == 0, "%s", err);
    for (int i = 0; i < NTE; i++) {
        for (int j = 0; j < NTR; j++) {
            float d = 0;
            for (int k = 0; k < DIM; k++) d += te[i * DIM + k] * tr[j * DIM + k];
            sim[j] = d;
        }
        int64_t p = knn_vote(sim, ytr, NTR, C, K, 1.0, idx, ns, votes);
        CHECK(p == pred[i], "test row %d: %lld vs %lld", i, (long long)pred[i], (long long)p);
    }
    /* bad input: one line each */
    CHECK(knn_predict(tr, ytr, NTR, te, NTE, DIM, C, 0, 1.0, pred, err) && strstr(err, "k = 0"), "k = 0: %s", err);
    CHECK(knn_predict(tr, ytr, NTR, te, NTE, DIM, C, NTR + 1, 1.0, pred, err) && strstr(err, "between 1"), "k > n");
    ytr[5] = C;
    CHECK(knn_predict(tr, ytr, NTR, te, NTE, DIM, C, K, 1.0, pred, err) && strstr(err, "not in [0, 5)"), "label: %s", err);
    /* L2 normalization: unit rows, a zero row stays zero */
    float x[6] = {3, 4, 0, 0, 0, 0};
    feat_l2_normalize(x, 2, 3);
    CHECK(fabsf(x[0] - 0.6f) < 1e-7f && fabsf(x[1] - 0.8f) < 1e-7f && x[3] == 0 && x[4] == 0, "l2 normalize");
    free(tr);
    free(te);
    printf("ok   kNN predict: chunked sgemm equals a plain loop on %d test rows, bad k and labels refused\n", NTE);
    return 0;
}

int main(void) {
    int fails = test_vote() + test_predict();
    printf("%d passed, %d failed\n", 2 - fails, fails);
    return fails != 0;
}
