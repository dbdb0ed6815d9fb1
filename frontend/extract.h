/* Frozen features of a whole dataset split: the eval-mode encoder of a SOURCE (plan file or run
 * directory, frontend/encoder.h) over every image in dataset order, compiled for one batch size
 * and run by an engine (cpu: fused JIT kernels; ref: the reference interpreter), with loader
 * threads decoding the next batches meanwhile. The last partial batch is padded and its padding
 * rows dropped. Used by `sslc embed` and `sslc eval`. */
#ifndef SSLC_EXTRACT_H
#define SSLC_EXTRACT_H
#include <signal.h>
#include <stdint.h>

#include "../runtime/dataset.h"
#include "../runtime/engine.h"
#include "encoder.h"

#define EXTRACT_DEFAULT_BATCH 256

typedef struct {
    float *x;   /* [n, dim] row-major */
    int64_t *y; /* [n] labels, -1 where the dataset has none */
    int64_t *idx; /* [n] the rows' sample indices in the split (a subset: sorted, seeded) */
    int64_t n, dim;
    int classes; /* the dataset's (0: unlabelled) */
    char **paths;       /* [n] the image files (folder: data), else NULL */
    char **class_names; /* [classes] when the dataset names its classes (ds_class_name), else NULL */
    char what[96]; /* e.g. "fashion-mnist train" */
} feat_set;
void feat_set_free(feat_set *f);

typedef struct {
    const char *data;    /* dataset spec (runtime/dataset.h) */
    encoder_output what; /* encoder features or normalized pixels */
    int with_projector;  /* the projection instead of the backbone features */
    int batch;           /* images per forward; 0: EXTRACT_DEFAULT_BATCH */
    engine_kind device;
    uint64_t seed;       /* fake: datasets */
    int verbose;         /* progress and a summary line on stderr */
    int64_t limit_train, limit_test; /* > 0: a seeded subset of at most this many samples */
    uint64_t subset_seed;            /* which subsets (extract_subset) */
    /* not NULL: the weights are this engine's current parameters and state, copied by name at
     * every extractor_run (online evaluation during training; the engine is only read) */
    const engine *weights_from;
    /* not NULL: checked between batches; once non-zero, extractor_run stops and returns 1 (a
     * run's stop signal: the online evaluation must not hold up its checkpoint) */
    const volatile sig_atomic_t *cancel;
    /* read each split's selected samples from the dataset once, at its first extractor_run, and
     * keep their pixels and labels: later runs embed the kept pixels without reopening (and, for
     * folder: data, decoding) the dataset; they leave feat_set's paths and class_names NULL.
     * Memory: the selected samples' C x H x W bytes (online evaluation during training). */
    int keep_pixels;
} extract_opts;

typedef struct extractor extractor;

/* Borrows s (an opened source; it must outlive the extractor). Nothing is compiled yet: the
 * graph depends on the dataset's image size, known at the first extractor_run. */
int extractor_open(extractor **x, const encoder_source *s, const extract_opts *o, char *err);
/* The features of one split into out (allocated here; feat_set_free). The dataset's images must
 * have the plan's image size or the size of the images it trained on (resized in the graph);
 * channels are converted to the plan's (1 <-> 3) as in training. 0, 1 (cancelled), or -1 with err. */
int extractor_run(extractor *x, ds_split split, feat_set *out, char *err);
void extractor_close(extractor *x);

/* The subset extract_opts.limit selects: k of n sample indices (all when k >= n), each subset
 * equally likely (seeded selection sampling), in increasing order, into idx[min(k, n)]. The same (n, k, seed)
 * gives the same subset everywhere; the split is part of the seed, so train and test subsets
 * are drawn independently. */
void extract_subset(int64_t n, int64_t k, uint64_t seed, ds_split split, int64_t *idx);

#endif
