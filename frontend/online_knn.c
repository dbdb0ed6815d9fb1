#include "online_knn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/dataset.h"
#include "../runtime/featnorm.h"
#include "../runtime/knn.h"
#include "encoder.h"
#include "extract.h"

struct online_knn {
    encoder_source s;
    extractor *x;
    int k, classes;
    int64_t *pred;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 0: usable, 1: not (why), -1: error */
static int check_split(const encoder_source *s, const char *data, ds_split split, int k, int *classes, char *why,
                       char *err) {
    sslc_dataset *ds;
    int64_t th, tw;
    encoder_source_size(s, &th, &tw);
    /* as the extractor opens it (folder: at the plan's size), headers only: nothing decoded */
    ds_options o = {.channels = s->backbone.channels, .height = (int)th, .width = (int)tw, .shape_only = 1, .quiet = 1};
    char e[IR_ERRLEN];
    if (ds_open(&ds, data, split, &o, e)) {
        if (split == DS_TRAIN) return snprintf(err, IR_ERRLEN, "%s", e), -1;
        snprintf(why, IR_ERRLEN, "%.100s has no test split (%.300s)", data, e);
        return 1;
    }
    const ds_info *in = ds_get_info(ds);
    int rc = 0;
    if (!in->has_labels || in->num_classes < 1)
        snprintf(why, IR_ERRLEN, "%s has no labels", in->what), rc = 1;
    else if (split == DS_TRAIN && in->n < k)
        snprintf(why, IR_ERRLEN, "%s has %lld images, fewer than k = %d", in->what, (long long)in->n, k), rc = 1;
    if (!rc && in->num_classes > *classes) *classes = in->num_classes;
    ds_close(ds);
    return rc;
}

int online_knn_open(online_knn **out, const char *plan_path, const char *data, uint64_t seed, int64_t n_train,
                    int64_t n_test, int k, engine_kind device, const engine *train, const volatile sig_atomic_t *cancel, char *why,
                    char *err) {
    *out = NULL;
    int classes = 0, rc;
    if (n_train < k) {
        snprintf(why, IR_ERRLEN, "%lld training images are fewer than k = %d", (long long)n_train, k);
        return 1;
    }
    online_knn *ok = calloc(1, sizeof *ok);
    if (!ok) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    if (encoder_open(&ok->s, plan_path, NULL, err)) {
        free(ok);
        return -1;
    }
    if ((rc = check_split(&ok->s, data, DS_TRAIN, k, &classes, why, err)) ||
        (rc = check_split(&ok->s, data, DS_TEST, k, &classes, why, err))) {
        online_knn_close(ok);
        return rc;
    }
    ok->k = k, ok->classes = classes;
    extract_opts xo = {.data = data, .what = ENCODER_FEATURES, .device = device, .seed = seed, .limit_train = n_train,
                       .limit_test = n_test, .subset_seed = seed, .weights_from = train, .cancel = cancel,
                       .keep_pixels = 1}; /* the subsets are read once: no re-decoding every epoch */
    if (extractor_open(&ok->x, &ok->s, &xo, err)) {
        online_knn_close(ok);
        return -1;
    }
    *out = ok;
    return 0;
}

int online_knn_measure(online_knn *ok, online_knn_result *r, char *err) {
    double t0 = now();
    feat_set tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    int rc = -1;
    int x = extractor_run(ok->x, DS_TRAIN, &tr, err);
    if (!x) x = extractor_run(ok->x, DS_TEST, &te, err);
    if (x) {
        rc = x; /* 1: cancelled */
        goto out;
    }
    free(ok->pred);
    if (!(ok->pred = malloc((size_t)te.n * sizeof *ok->pred))) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto out;
    }
    feat_l2_normalize(tr.x, tr.n, tr.dim);
    feat_l2_normalize(te.x, te.n, te.dim);
    int k = ok->k < tr.n ? ok->k : (int)tr.n;
    if (knn_predict(tr.x, tr.y, tr.n, te.x, te.n, tr.dim, ok->classes, k, KNN_DEFAULT_T, ok->pred, err)) goto out;
    int64_t hit = 0;
    for (int64_t i = 0; i < te.n; i++) hit += ok->pred[i] == te.y[i];
    r->top1 = te.n ? 100.0 * (double)hit / (double)te.n : 0;
    r->n_train = tr.n, r->n_test = te.n;
    r->seconds = now() - t0;
    rc = 0;
out:
    feat_set_free(&tr);
    feat_set_free(&te);
    return rc;
}

void online_knn_close(online_knn *ok) {
    if (!ok) return;
    extractor_close(ok->x);
    encoder_close(&ok->s);
    free(ok->pred);
    free(ok);
}
