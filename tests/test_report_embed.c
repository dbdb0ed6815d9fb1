/* The pieces behind online kNN and `sslc report`: the seeded subset of a split
 * (frontend/extract.h), the PCA map and nearest neighbours (frontend/report_embed.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/extract.h"
#include "frontend/report_draw.h"
#include "frontend/report_embed.h"
#include "optest.h"
#include "runtime/rng.h"

static int test_subset(void) {
    enum { N = 1000, K = 100, SEEDS = 2000 };
    int64_t a[K], b[K];
    extract_subset(N, K, 7, DS_TRAIN, a);
    for (int i = 0; i < K; i++)
        CHECK(a[i] >= 0 && a[i] < N && (i == 0 || a[i] > a[i - 1]), "subset: index %d = %lld not increasing in [0, %d)", i,
              (long long)a[i], N);
    extract_subset(N, K, 7, DS_TRAIN, b);
    CHECK(!memcmp(a, b, sizeof a), "the same seed gives another subset");
    extract_subset(N, K, 8, DS_TRAIN, b);
    CHECK(memcmp(a, b, sizeof a), "another seed gives the same subset");
    extract_subset(N, K, 7, DS_TEST, b);
    CHECK(memcmp(a, b, sizeof a), "the test split draws the train split's subset");
    int64_t all[10];
    extract_subset(10, 50, 3, DS_TRAIN, all);
    for (int i = 0; i < 10; i++) CHECK(all[i] == i, "k >= n: every index in order");
    /* each index is taken with probability K / N: over 2000 seeds, 200 times on average (a
     * binomial with sd 13.4; 6 sd either way) */
    static int count[N];
    for (int s = 0; s < SEEDS; s++) {
        extract_subset(N, K, (uint64_t)s, DS_TRAIN, a);
        for (int i = 0; i < K; i++) count[a[i]]++;
    }
    for (int i = 0; i < N; i++)
        CHECK(abs(count[i] - SEEDS * K / N) < 81, "index %d chosen %d times in %d subsets (expected %d)", i, count[i],
              SEEDS, SEEDS * K / N);
    printf("ok   subsets: sorted, seeded, per split, uniform over %d seeds\n", SEEDS);
    return 0;
}

static int test_pca(void) {
    /* points a * u + b * v + noise in 16 dimensions, var(a) = 9, var(b) = 1: the map's first
     * axis is +-a, the second +-b (up to the sign convention) */
    enum { N = 500, D = 16 };
    float *x = malloc(sizeof(float) * N * D), *xy = malloc(sizeof(float) * N * 2), *xy2 = malloc(sizeof(float) * N * 2);
    double *ab = malloc(sizeof(double) * N * 2);
    char err[IR_ERRLEN];
    sslc_rng r;
    rng_seed(&r, 1, 2);
    for (int i = 0; i < N; i++) {
        double a = 3 * rng_normal(&r), b = rng_normal(&r);
        ab[2 * i] = a, ab[2 * i + 1] = b;
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)((j == 2 ? a * 0.6 : j == 5 ? a * 0.8 : 0) + (j == 9 ? b : 0) + 1.0 + 0.01 * rng_normal(&r));
    }
    CHECK(pca2(x, N, D, xy, err) == 0, "pca2: %s", err);
    double c1 = 0, c2 = 0, n1 = 0, n2 = 0, m1 = 0, m2 = 0;
    for (int i = 0; i < N; i++) m1 += xy[2 * i], m2 += xy[2 * i + 1];
    for (int i = 0; i < N; i++) {
        c1 += xy[2 * i] * ab[2 * i], c2 += xy[2 * i + 1] * ab[2 * i + 1];
        n1 += xy[2 * i] * xy[2 * i], n2 += xy[2 * i + 1] * xy[2 * i + 1];
    }
    double a2 = 0, b2 = 0;
    for (int i = 0; i < N; i++) a2 += ab[2 * i] * ab[2 * i], b2 += ab[2 * i + 1] * ab[2 * i + 1];
    CHECK(fabs(m1) / N < 1e-3 && fabs(m2) / N < 1e-3, "the map is centred");
    CHECK(fabs(c1) / sqrt(n1 * a2) > 0.999 && fabs(c2) / sqrt(n2 * b2) > 0.99, "axes follow the variance: %g %g",
          fabs(c1) / sqrt(n1 * a2), fabs(c2) / sqrt(n2 * b2));
    CHECK(pca2(x, N, D, xy2, err) == 0 && !memcmp(xy, xy2, sizeof(float) * N * 2), "the same input gives another map");
    free(x), free(xy), free(xy2), free(ab);
    printf("ok   PCA map: centred, axes in order of variance, deterministic\n");
    return 0;
}

static int test_nearest(void) {
    /* bank rows e_i scaled: q = (0.1, 0.9, 0.5, 0.9): most similar are rows 1 and 3 (tie: 1 first), then 2 */
    const float bank[4 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    const float q[4] = {0.1f, 0.9f, 0.5f, 0.9f};
    int64_t nn[3];
    char err[IR_ERRLEN];
    CHECK(nearest(bank, 4, 4, q, 3, nn, err) == 0, "nearest: %s", err);
    CHECK(nn[0] == 1 && nn[1] == 3 && nn[2] == 2, "nearest %lld %lld %lld, expected 1 3 2", (long long)nn[0],
          (long long)nn[1], (long long)nn[2]);
    printf("ok   nearest neighbours: order and ties\n");
    return 0;
}

/* the map's legend names the classes when the dataset does (escaped, long names shortened on a
 * character boundary and whole in a tooltip), and numbers them when it does not */
static int test_legend(void) {
    float xy[6] = {0, 0, 1, 1, 2, 0.5f};
    int64_t cls[3] = {0, 1, 2};
    char a[] = "T-shirt/top", b[] = "<b>&amp", c[] = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x";
    char *names[3] = {a, b, c};
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    CHECK(f, "open_memstream");
    svg_scatter(f, xy, cls, 3, 3, names);
    fclose(f);
    CHECK(strstr(svg, ">T-shirt/top</text>") && strstr(svg, "<title>T-shirt/top</title>"), "legend: no 'T-shirt/top' in %s", svg);
    CHECK(strstr(svg, ">&lt;b&gt;&amp;amp</text>"), "legend: a name is not escaped in %s", svg);
    /* 23 bytes: cut to 20 = 10 two-byte characters, never inside one */
    CHECK(strstr(svg, ">\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...</text>"), "legend: long name not shortened on a character boundary in %s", svg);
    CHECK(!strstr(svg, ">class "), "legend: class numbers beside the names in %s", svg);
    free(svg);
    svg = NULL;
    CHECK((f = open_memstream(&svg, &len)), "open_memstream");
    svg_scatter(f, xy, cls, 3, 3, NULL);
    fclose(f);
    CHECK(strstr(svg, ">class 0</text>") && strstr(svg, ">class 2</text>") && !strstr(svg, "<title>"),
          "legend without names: no 'class 0'..'class 2' in %s", svg);
    free(svg);
    return 0;
}

int main(void) {
    int fails = test_subset() + test_pca() + test_nearest() + test_legend();
    printf("%d passed, %d failed\n", 4 - fails, fails);
    return fails != 0;
}
