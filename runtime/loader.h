/* Batch loader: threads that assemble uint8 image batches [B,C,H,W] ahead of the step.
 *
 * Batches form one endless stream across epochs. Batch k of epoch e holds the samples
 * perm_e[k*B .. k*B+B) where perm_e is a Fisher-Yates permutation drawn from (seed, e) (the
 * identity without shuffling), so the stream is a pure function of the dataset, the
 * configuration and the seed: thread count and timing never change it. Without drop_last the
 * last batch of an epoch is partial (n < B, the remaining rows zero, labels and indices -1).
 * A run resumes exactly by opening the loader at (start_epoch, start_batch).
 *
 * Typical train loop:
 *   loader_cfg c = loader_defaults(256); c.seed = seed;
 *   sslc_loader *l; if (loader_open(&l, ds, &c, err)) ...
 *   for (step = 0; step < steps; step++) {
 *       loader_batch b; if (loader_next(l, &b, err)) ...   // blocks until ready
 *       upload b.images (u8 [B,C,H,W]) as the graph input `images`; b.epoch, b.batch for logs
 *   }
 *   loader_close(l);
 */
#ifndef SSLC_LOADER_H
#define SSLC_LOADER_H
#include <stdint.h>

#include "dataset.h"

typedef struct {
    int batch;        /* images per batch (>= 1) */
    int threads;      /* loader threads (>= 1) */
    int prefetch;     /* batches in the queue, counting the one the caller holds (>= 2) */
    int shuffle;      /* a new permutation each epoch; 0: dataset order */
    int drop_last;    /* skip the partial batch at the end of an epoch */
    uint64_t seed;
    ds_layout layout; /* DS_CHW: [B,C,H,W]; DS_HWC: [B,H,W,C] */
    int64_t start_epoch, start_batch; /* where the stream starts (resume) */
    /* data-parallel shard: the epoch is cut into global batches of batch * nshards samples (one
     * seeded permutation, the same on every rank) and this loader yields rows shard * batch ..
     * shard * batch + batch - 1 of each; nshards 1: the whole batch */
    int shard, nshards;
} loader_cfg;

/* batch B, 2 threads, prefetch 4, shuffle, drop_last, seed 0, CHW, from the start, one shard */
loader_cfg loader_defaults(int batch);

typedef struct {
    const uint8_t *images; /* [B,C,H,W] (or [B,H,W,C]) */
    const int32_t *labels; /* [B]; -1 for padding rows or unlabelled data */
    const int64_t *index;  /* [B] dataset indices; -1 for padding rows */
    int n;                 /* valid rows */
    int64_t epoch, batch;  /* batch index within its epoch */
    int64_t seq;           /* position in the stream since loader_open */
} loader_batch;

typedef struct sslc_loader sslc_loader;

/* Starts the threads. ds must outlive the loader. 0 or -1 with err. */
int loader_open(sslc_loader **out, const sslc_dataset *ds, const loader_cfg *cfg, char *err);
int64_t loader_batches_per_epoch(const sslc_loader *l);
/* The next batch of the stream; it stays valid until the next call (or loader_close). Returns 0,
 * or -1 with err when a sample of this batch could not be read (the stream then moves on). */
int loader_next(sslc_loader *l, loader_batch *b, char *err);
/* Stops and joins the threads (also while they are blocked), frees everything. NULL is fine. */
void loader_close(sslc_loader *l);

/* The sample order of one epoch (n indices), as the loader uses it. */
void loader_epoch_order(int64_t n, uint64_t seed, int64_t epoch, int shuffle, int64_t *perm);

#endif
