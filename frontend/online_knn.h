/* kNN accuracy while a run trains (as solo-learn's online kNN): the eval-mode encoder, with the
 * training engine's current weights, embeds a seeded subset of the train and test splits, and
 * kNN (runtime/knn.h) on those scores the test subset. It only reads the training engine (its
 * own engine and dataset handles; no random numbers of the run are drawn), so a run trains the
 * same with it on or off, and resumes bit-exactly either way. The subsets' pixels are read from
 * the data at the first measurement and kept for the run (folder: data is decoded once). */
#ifndef SSLC_ONLINE_KNN_H
#define SSLC_ONLINE_KNN_H
#include <signal.h>
#include <stdint.h>

#include "../runtime/engine.h"

#define ONLINE_KNN_DEFAULT_TRAIN 5000
#define ONLINE_KNN_DEFAULT_TEST 1000

typedef struct online_knn online_knn;

typedef struct {
    double top1;              /* percent of the test subset */
    int64_t n_train, n_test;  /* the subsets' sizes (smaller than asked when a split is) */
    double seconds;
} online_knn_result;

/* Prepares the measurement of the plan's encoder, with the weights of `train` (borrowed), on data (a labelled dataset with a test split):
 * n_train / n_test samples of each split (seed picks them), kNN with k neighbours, on device.
 * Nothing is compiled yet. Returns 0, 1 when the data cannot be measured this way (no labels,
 * no test split, too few samples: `why` says which, the run goes on without it), or -1 with err. */
int online_knn_open(online_knn **ok, const char *plan_path, const char *data, uint64_t seed, int64_t n_train,
                    int64_t n_test, int k, engine_kind device, const engine *train,
                    const volatile sig_atomic_t *cancel, char *why, char *err);
/* Scores the weights the training engine holds now (persistent values matched by name). 0, 1
 * when *cancel became non-zero meanwhile (checked between batches: a stop signal must not wait
 * for the measurement), or -1 with err. */
int online_knn_measure(online_knn *ok, online_knn_result *r, char *err);
void online_knn_close(online_knn *ok);

#endif
