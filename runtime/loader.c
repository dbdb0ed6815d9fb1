/* Batch loader (see loader.h): a ring of `prefetch` batch slots; batch seq lives in slot
 * seq % prefetch. Workers claim the next sequence number whose slot the caller has released,
 * take its sample indices from the epoch's permutation (cached) under the lock, then decode
 * outside it. The caller waits for its slot to be ready. */
#include "loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h" /* IR_ERRLEN */
#include "rng.h"

typedef struct {
    uint8_t *images;
    int32_t *labels;
    int64_t *index;
    int64_t seq, epoch, batch;
    int n;
    int ready, failed;
    char err[IR_ERRLEN];
} slot;

typedef struct {
    int64_t epoch; /* -1: empty */
    int64_t *perm;
} perm_entry;

struct sslc_loader {
    const sslc_dataset *ds;
    loader_cfg cfg;
    int64_t n, bpe, sample_bytes;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    slot *slots;
    perm_entry *perms;
    int nperms;
    pthread_t *threads;
    int nthreads;
    int64_t next_claim, released, next_take;
    int holding, sync_init;
    atomic_int stop;
};

loader_cfg loader_defaults(int batch) {
    loader_cfg c = {.batch = batch, .threads = 2, .prefetch = 4, .shuffle = 1, .drop_last = 1, .layout = DS_CHW,
                    .shard = 0, .nshards = 1};
    return c;
}

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform in [0, n) without bias */
static uint64_t bounded(sslc_rng *r, uint64_t n) {
    if (n <= 0xFFFFFFFFull) {
        uint32_t un = (uint32_t)n, lim = (uint32_t)(-un) % un, x;
        do x = rng_u32(r);
        while (x < lim);
        return x % un;
    }
    uint64_t lim = (uint64_t)(-n) % n, x;
    do x = (uint64_t)rng_u32(r) << 32 | rng_u32(r);
    while (x < lim);
    return x % n;
}

void loader_epoch_order(int64_t n, uint64_t seed, int64_t epoch, int shuffle, int64_t *perm) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    if (!shuffle) return;
    sslc_rng r;
    rng_seed(&r, mix64(seed ^ 0x73687566666C6500ULL), (uint64_t)epoch); /* "shuffle" */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)bounded(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

/* the permutation of `epoch` (caller holds the lock); NULL if out of memory */
static const int64_t *epoch_perm(sslc_loader *l, int64_t epoch) {
    int victim = 0;
    for (int k = 0; k < l->nperms; k++) {
        if (l->perms[k].epoch == epoch) return l->perms[k].perm;
        if (l->perms[k].epoch < l->perms[victim].epoch) victim = k;
    }
    perm_entry *e = &l->perms[victim];
    if (!e->perm && !(e->perm = malloc((size_t)l->n * sizeof *e->perm))) return NULL;
    loader_epoch_order(l->n, l->cfg.seed, epoch, l->cfg.shuffle, e->perm);
    e->epoch = epoch;
    return e->perm;
}

static void *worker(void *arg) {
    sslc_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->next_claim >= l->released + l->cfg.prefetch) pthread_cond_wait(&l->cv_work, &l->mu);
        if (l->stop) break;
        int64_t seq = l->next_claim++;
        slot *s = &l->slots[seq % l->cfg.prefetch];
        int64_t pos = l->cfg.start_batch + seq;
        s->seq = seq;
        s->epoch = l->cfg.start_epoch + pos / l->bpe;
        s->batch = pos % l->bpe;
        s->ready = s->failed = 0;
        int64_t first = (s->batch * l->cfg.nshards + l->cfg.shard) * l->cfg.batch;
        int64_t n = l->n - first < l->cfg.batch ? l->n - first : l->cfg.batch;
        if (n < 0) n = 0; /* the partial last global batch may not reach this shard */
        s->n = (int)n;
        const int64_t *perm = epoch_perm(l, s->epoch);
        if (!perm) {
            snprintf(s->err, sizeof s->err, "loader: out of memory for the sample order");
            s->failed = 1;
        } else
            for (int64_t i = 0; i < l->cfg.batch; i++) s->index[i] = i < n ? perm[first + i] : -1;
        pthread_mutex_unlock(&l->mu);
        for (int64_t i = 0; i < l->cfg.batch && !s->failed; i++) {
            uint8_t *dst = s->images + i * l->sample_bytes;
            if (i >= n) {
                memset(dst, 0, (size_t)l->sample_bytes);
                s->labels[i] = -1;
            } else if (ds_read(l->ds, s->index[i], dst, l->cfg.layout, &s->labels[i], s->err))
                s->failed = 1;
            if (l->stop) break; /* shutting down: the batch is abandoned */
        }
        pthread_mutex_lock(&l->mu);
        s->ready = 1;
        pthread_cond_broadcast(&l->cv_ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int64_t loader_batches_per_epoch(const sslc_loader *l) { return l->bpe; }

int loader_open(sslc_loader **out, const sslc_dataset *ds, const loader_cfg *cfg, char *err) {
    *out = NULL;
    const ds_info *in = ds_get_info(ds);
    if (cfg->batch < 1) return snprintf(err, IR_ERRLEN, "loader: batch must be >= 1, got %d", cfg->batch), -1;
    if (cfg->threads < 1 || cfg->threads > 256)
        return snprintf(err, IR_ERRLEN, "loader: threads must be in 1..256, got %d", cfg->threads), -1;
    if (cfg->prefetch < 2 || cfg->prefetch > 1024)
        return snprintf(err, IR_ERRLEN, "loader: prefetch must be in 2..1024, got %d", cfg->prefetch), -1;
    if (cfg->start_epoch < 0 || cfg->start_batch < 0)
        return snprintf(err, IR_ERRLEN, "loader: negative start position"), -1;
    if (cfg->nshards < 1 || cfg->shard < 0 || cfg->shard >= cfg->nshards)
        return snprintf(err, IR_ERRLEN, "loader: shard %d of %d does not exist", cfg->shard, cfg->nshards), -1;
    int64_t gb = (int64_t)cfg->batch * cfg->nshards;
    int64_t bpe = cfg->drop_last ? in->n / gb : (in->n + gb - 1) / gb;
    if (bpe < 1)
        return snprintf(err, IR_ERRLEN, "loader: %s has %lld samples, fewer than one batch of %lld", in->what,
                        (long long)in->n, (long long)gb),
               -1;
    if (cfg->start_batch >= bpe)
        return snprintf(err, IR_ERRLEN, "loader: start batch %lld is past the %lld batches of an epoch",
                        (long long)cfg->start_batch, (long long)bpe),
               -1;
    sslc_loader *l = calloc(1, sizeof *l);
    if (!l) return snprintf(err, IR_ERRLEN, "loader: out of memory"), -1;
    l->ds = ds;
    l->cfg = *cfg;
    l->n = in->n;
    l->bpe = bpe;
    l->sample_bytes = (int64_t)in->c * in->h * in->w;
    l->slots = calloc((size_t)cfg->prefetch, sizeof *l->slots);
    l->nperms = cfg->prefetch + 1;
    l->perms = calloc((size_t)l->nperms, sizeof *l->perms);
    l->threads = calloc((size_t)cfg->threads, sizeof *l->threads);
    int ok = l->slots && l->perms && l->threads;
    for (int k = 0; ok && k < cfg->prefetch; k++) {
        slot *s = &l->slots[k];
        s->images = malloc((size_t)(l->sample_bytes * cfg->batch));
        s->labels = malloc((size_t)cfg->batch * sizeof *s->labels);
        s->index = malloc((size_t)cfg->batch * sizeof *s->index);
        ok = s->images && s->labels && s->index;
    }
    for (int k = 0; ok && k < l->nperms; k++) l->perms[k].epoch = -1;
    if (!ok) {
        loader_close(l);
        return snprintf(err, IR_ERRLEN, "loader: out of memory for %d batches of %d images", cfg->prefetch, cfg->batch), -1;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_work, NULL);
    pthread_cond_init(&l->cv_ready, NULL);
    l->sync_init = 1;
    for (int k = 0; k < cfg->threads; k++) {
        if (pthread_create(&l->threads[k], NULL, worker, l)) {
            loader_close(l);
            return snprintf(err, IR_ERRLEN, "loader: cannot start thread %d", k), -1;
        }
        l->nthreads++;
    }
    *out = l;
    return 0;
}

int loader_next(sslc_loader *l, loader_batch *b, char *err) {
    pthread_mutex_lock(&l->mu);
    if (l->holding) { /* release the previous batch's slot */
        l->holding = 0;
        l->released++;
        pthread_cond_broadcast(&l->cv_work);
    }
    int64_t seq = l->next_take++;
    slot *s = &l->slots[seq % l->cfg.prefetch];
    while (!(s->ready && s->seq == seq)) pthread_cond_wait(&l->cv_ready, &l->mu);
    l->holding = 1;
    pthread_mutex_unlock(&l->mu);
    b->images = s->images;
    b->labels = s->labels;
    b->index = s->index;
    b->n = s->n;
    b->epoch = s->epoch;
    b->batch = s->batch;
    b->seq = s->seq;
    if (s->failed) {
        snprintf(err, IR_ERRLEN, "%s", s->err);
        return -1;
    }
    return 0;
}

void loader_close(sslc_loader *l) {
    if (!l) return;
    if (l->nthreads) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv_work);
        pthread_mutex_unlock(&l->mu);
        for (int k = 0; k < l->nthreads; k++) pthread_join(l->threads[k], NULL);
    }
    if (l->sync_init) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv_work);
        pthread_cond_destroy(&l->cv_ready);
    }
    if (l->slots)
        for (int k = 0; k < l->cfg.prefetch; k++) {
            free(l->slots[k].images);
            free(l->slots[k].labels);
            free(l->slots[k].index);
        }
    if (l->perms)
        for (int k = 0; k < l->nperms; k++) free(l->perms[k].perm);
    free(l->slots);
    free(l->perms);
    free(l->threads);
    free(l);
}
