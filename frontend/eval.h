/* `sslc eval`: top-1 accuracy of frozen features on a labelled dataset's test split — kNN
 * (runtime/knn.h) and/or a linear probe (frontend/probe.h) fitted on the train split. The
 * features are the encoder's (a run directory's trained weights, a plan's initialization: the
 * random-init baseline) or the normalized pixels (the raw-pixel baseline). `sslc train` calls
 * eval_run at the end of a run. */
#ifndef SSLC_EVAL_H
#define SSLC_EVAL_H
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "probe.h"

#define EVAL_JSON_FILE "eval.json"

typedef struct {
    const char *source; /* plan file or run directory */
    const char *params; /* weights overriding the source's (NULL: none) */
    const char *data;   /* dataset spec */
    int knn_k;          /* 0: no kNN */
    int linear;         /* fit and score the linear probe */
    encoder_output features;
    int with_projector;
    int batch;          /* feature extraction batch (0: default) */
    int64_t limit;      /* > 0: a seeded subset (seed) of at most this many images of each split */
    engine_kind device;
    uint64_t seed;      /* the probe's mini-batch order (and fake: data) */
    int verbose;        /* progress and timings on stderr */
    int write_json;     /* source is a run directory: write DIR/eval.json */
    probe_opts probe;   /* epochs, lr, ...; seed, device and verbose come from the fields above */
} eval_opts;

/* kNN-20 and linear probe on encoder features, cpu engine, seed 0, verbose, eval.json */
eval_opts eval_defaults(void);

typedef struct {
    int has_linear, has_knn, knn_k;
    double linear_top1, knn_top1; /* percent */
    int64_t linear_epochs;        /* the probe's final fit, as its log line says */
    int64_t n_train, n_test, dim;
    int classes;
    double seconds, seconds_features, seconds_linear, seconds_knn;
    char json_path[4096]; /* where eval.json went ("" : not written) */
} eval_result;

/* Features of both splits, then the accuracies. 0, or -1 with one line in err (IR_ERRLEN). */
int eval_run(const eval_opts *o, eval_result *r, char *err);
/* One JSON object (no newline) describing the evaluation; -1 if it does not fit. */
int eval_json(const eval_opts *o, const eval_result *r, char *buf, size_t n);
/* "linear top-1 85.12 %  knn-20 top-1 82.70 %" */
void eval_summary(const eval_result *r, char *buf, size_t n);

#endif
