#include "eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../runtime/featnorm.h"
#include "../runtime/fileio.h"
#include "../runtime/knn.h"
#include "extract.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

eval_opts eval_defaults(void) {
    eval_opts o = {.knn_k = KNN_DEFAULT_K, .linear = 1, .features = ENCODER_FEATURES, .device = ENGINE_CPU,
                   .verbose = 1, .write_json = 1, .probe = probe_defaults()};
    return o;
}

static double top1(const int64_t *pred, const int64_t *y, int64_t n) {
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += pred[i] == y[i];
    return n ? 100.0 * (double)ok / (double)n : 0;
}

/* labels present and in [0, classes) */
static int check_labels(const feat_set *f, int classes, char *err) {
    if (!f->classes) {
        snprintf(err, IR_ERRLEN, "%s has no labels: eval needs a labelled dataset", f->what);
        return -1;
    }
    for (int64_t i = 0; i < f->n; i++)
        if (f->y[i] < 0 || f->y[i] >= classes) {
            snprintf(err, IR_ERRLEN, "%s: label %lld of image %lld is not in [0, %d)", f->what, (long long)f->y[i],
                     (long long)i, classes);
            return -1;
        }
    return 0;
}


int eval_run(const eval_opts *o, eval_result *r, char *err) {
    memset(r, 0, sizeof *r);
    if (!o->linear && o->knn_k <= 0) {
        snprintf(err, IR_ERRLEN, "eval: nothing to do (no kNN, no linear probe)");
        return -1;
    }
    double t0 = now();
    encoder_source s;
    extractor *x = NULL;
    feat_set tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    probe_model pm;
    memset(&pm, 0, sizeof pm);
    int64_t *pred = NULL;
    int rc = -1;
    if (encoder_open(&s, o->source, o->params, err)) goto out;
    if (o->verbose && o->features == ENCODER_FEATURES && !s.params_path[0])
        fprintf(stderr, "sslc: note: no trained weights (a plan file without --params): the random-initialization "
                        "baseline\n");
    extract_opts xo = {.data = o->data, .what = o->features, .with_projector = o->with_projector, .batch = o->batch,
                       .device = o->device, .seed = o->seed, .verbose = o->verbose, .limit_train = o->limit,
                       .limit_test = o->limit, .subset_seed = o->seed};
    if (extractor_open(&x, &s, &xo, err) || extractor_run(x, DS_TRAIN, &tr, err) || extractor_run(x, DS_TEST, &te, err))
        goto out;
    extractor_close(x);
    x = NULL;
    r->seconds_features = now() - t0;
    r->classes = tr.classes > te.classes ? tr.classes : te.classes;
    r->n_train = tr.n, r->n_test = te.n, r->dim = tr.dim;
    if (check_labels(&tr, r->classes, err) || check_labels(&te, r->classes, err)) goto out;
    pred = malloc((size_t)te.n * sizeof *pred);
    if (!pred) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto out;
    }
    if (o->linear) {
        double t = now();
        probe_opts po = o->probe;
        po.seed = o->seed, po.device = o->device, po.verbose = o->verbose;
        if (probe_fit(&po, tr.x, tr.y, tr.n, tr.dim, r->classes, &pm, err) || probe_predict(&pm, te.x, te.n, pred, err))
            goto out;
        r->has_linear = 1;
        r->linear_top1 = top1(pred, te.y, te.n);
        r->linear_epochs = pm.epochs;
        r->seconds_linear = now() - t;
    }
    if (o->knn_k > 0) {
        double t = now();
        /* in place: the probe is done with the raw features */
        feat_l2_normalize(tr.x, tr.n, tr.dim);
        feat_l2_normalize(te.x, te.n, te.dim);
        if (knn_predict(tr.x, tr.y, tr.n, te.x, te.n, tr.dim, r->classes, o->knn_k, KNN_DEFAULT_T, pred, err)) goto out;
        r->has_knn = 1;
        r->knn_k = o->knn_k;
        r->knn_top1 = top1(pred, te.y, te.n);
        r->seconds_knn = now() - t;
    }
    r->seconds = now() - t0;
    if (o->write_json && sslc_is_dir(o->source)) {
        char js[8192];
        snprintf(r->json_path, sizeof r->json_path, "%s/%s", o->source, EVAL_JSON_FILE);
        int len = eval_json(o, r, js, sizeof js - 1);
        if (len < 0) {
            snprintf(err, IR_ERRLEN, "%.300s: the result does not fit", r->json_path);
            goto out;
        }
        js[len++] = '\n';
        const void *parts[1] = {js};
        size_t lens[1] = {(size_t)len};
        if (sslc_write_atomic(r->json_path, parts, lens, 1, err)) goto out;
    }
    rc = 0;
out:
    free(pred);
    probe_free(&pm);
    feat_set_free(&tr);
    feat_set_free(&te);
    extractor_close(x);
    encoder_close(&s);
    return rc;
}

/* s as a JSON string (quotes, backslashes and control characters escaped) */
static int json_str(char *buf, size_t n, const char *s) {
    size_t k = 0;
    if (k < n) buf[k] = '"';
    k++;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char e[8];
        int m;
        if (*p == '"' || *p == '\\')
            m = snprintf(e, sizeof e, "\\%c", *p);
        else if (*p < 0x20)
            m = snprintf(e, sizeof e, "\\u%04x", *p);
        else
            m = snprintf(e, sizeof e, "%c", *p);
        for (int i = 0; i < m; i++, k++)
            if (k < n) buf[k] = e[i];
    }
    if (k < n) buf[k] = '"';
    k++;
    if (k < n) buf[k] = 0;
    return (int)k;
}

int eval_json(const eval_opts *o, const eval_result *r, char *buf, size_t n) {
    char src[4200], data[4200];
    if (json_str(src, sizeof src, o->source) >= (int)sizeof src || json_str(data, sizeof data, o->data) >= (int)sizeof data)
        return -1;
    int k = snprintf(buf, n,
                     "{\"source\": %s, \"data\": %s, \"features\": \"%s%s\", \"n_train\": %lld, \"n_test\": %lld, "
                     "\"dim\": %lld, \"classes\": %d",
                     src, data, o->features == ENCODER_PIXELS ? "pixels" : "encoder",
                     o->features == ENCODER_FEATURES && o->with_projector ? "+projector" : "", (long long)r->n_train,
                     (long long)r->n_test, (long long)r->dim, r->classes);
    if (k < 0 || (size_t)k >= n) return -1;
    if (r->has_linear) {
        k += snprintf(buf + k, n - (size_t)k, ", \"linear_top1\": %.2f, \"linear_epochs\": %lld", r->linear_top1,
                      (long long)r->linear_epochs);
        if ((size_t)k >= n) return -1;
    }
    if (r->has_knn) {
        k += snprintf(buf + k, n - (size_t)k, ", \"knn_k\": %d, \"knn_top1\": %.2f", r->knn_k, r->knn_top1);
        if ((size_t)k >= n) return -1;
    }
    if (o->limit > 0) {
        k += snprintf(buf + k, n - (size_t)k, ", \"limit\": %lld", (long long)o->limit);
        if ((size_t)k >= n) return -1;
    }
    k += snprintf(buf + k, n - (size_t)k, ", \"seed\": %llu, \"seconds\": %.1f}", (unsigned long long)o->seed, r->seconds);
    return (size_t)k >= n ? -1 : k;
}

void eval_summary(const eval_result *r, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    if (r->has_linear) k += (size_t)snprintf(buf + k, n - k, "linear top-1 %.2f %%", r->linear_top1);
    if (r->has_knn && k < n)
        snprintf(buf + k, n - k, "%sknn-%d top-1 %.2f %%", k ? "  " : "", r->knn_k, r->knn_top1);
}
