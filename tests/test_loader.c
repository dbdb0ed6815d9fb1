/* Loader: the batch stream is a function of (dataset, config, seed) only, whatever the thread
 * count; epochs are permutations; drop_last / partial batches; resume; errors reach the caller;
 * shutdown with threads blocked on a full queue. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optest.h"
#include "runtime/dataset.h"
#include "runtime/dataset_impl.h"
#include "runtime/loader.h"

#define N 103
#define B 10

/* n batches of the stream into idx (n*B indices) and a checksum of their images */
static int stream(const sslc_dataset *ds, loader_cfg c, int n, int64_t *idx, int64_t *epochs, uint64_t *sum) {
    sslc_loader *l;
    char err[IR_ERRLEN];
    if (loader_open(&l, ds, &c, err)) {
        fprintf(stderr, "FAIL loader_open: %s\n", err);
        return 1;
    }
    const ds_info *in = ds_get_info(ds);
    int64_t sb = (int64_t)in->c * in->h * in->w;
    uint8_t *want = malloc((size_t)sb);
    *sum = 0;
    for (int k = 0; k < n; k++) {
        loader_batch b;
        if (loader_next(l, &b, err)) {
            fprintf(stderr, "FAIL loader_next: %s\n", err);
            return 1;
        }
        CHECK(b.seq == k, "seq %lld at %d", (long long)b.seq, k);
        if (epochs) epochs[k] = b.epoch * 1000 + b.batch;
        for (int i = 0; i < c.batch; i++) {
            idx[(int64_t)k * c.batch + i] = b.index[i];
            if (i >= b.n) {
                CHECK(b.index[i] == -1 && b.labels[i] == -1, "padding row %d", i);
                for (int64_t p = 0; p < sb; p++) CHECK(b.images[i * sb + p] == 0, "padding row not zero");
                continue;
            }
            int32_t lab;
            CHECK(ds_read(ds, b.index[i], want, c.layout, &lab, err) == 0, "%s", err);
            CHECK(!memcmp(want, b.images + i * sb, (size_t)sb) && lab == b.labels[i], "batch %d row %d differs from sample %lld",
                  k, i, (long long)b.index[i]);
            for (int64_t p = 0; p < sb; p++) *sum = *sum * 31 + b.images[i * sb + p];
        }
    }
    free(want);
    loader_close(l);
    return 0;
}

static int test_determinism(const sslc_dataset *ds) {
    int nb = 25; /* 2.5 epochs of 10 batches */
    int64_t *a = malloc(sizeof(int64_t) * nb * B), *b = malloc(sizeof(int64_t) * nb * B), ea[25], eb[25];
    uint64_t sa, sbm;
    loader_cfg c = loader_defaults(B);
    c.seed = 42;
    c.threads = 1;
    c.prefetch = 2;
    if (stream(ds, c, nb, a, ea, &sa)) return 1;
    c.threads = 4;
    c.prefetch = 7;
    if (stream(ds, c, nb, b, eb, &sbm)) return 1;
    CHECK(!memcmp(a, b, sizeof(int64_t) * nb * B) && !memcmp(ea, eb, sizeof ea) && sa == sbm,
          "stream depends on threads / prefetch");
    /* each epoch: 10 full batches of distinct indices (3 samples dropped) */
    for (int e = 0; e < 2; e++) {
        char seen[N] = {0};
        for (int i = 0; i < 10 * B; i++) {
            int64_t x = a[e * 10 * B + i];
            CHECK(x >= 0 && x < N && !seen[x], "epoch %d repeats sample %lld", e, (long long)x);
            seen[x] = 1;
        }
        CHECK(ea[e * 10] == e * 1000 && ea[e * 10 + 9] == e * 1000 + 9, "epoch/batch numbering");
    }
    CHECK(memcmp(a, a + 10 * B, sizeof(int64_t) * 10 * B), "epochs 0 and 1 have the same order");
    int64_t perm[N];
    loader_epoch_order(N, 42, 1, 1, perm);
    CHECK(!memcmp(perm, a + 10 * B, sizeof(int64_t) * 10 * B), "loader_epoch_order differs from the stream");
    /* another seed, another order; no shuffle: dataset order */
    c.seed = 43;
    if (stream(ds, c, 10, b, NULL, &sbm)) return 1;
    CHECK(memcmp(a, b, sizeof(int64_t) * 10 * B), "seed does not change the order");
    c.shuffle = 0;
    if (stream(ds, c, 10, b, NULL, &sbm)) return 1;
    for (int i = 0; i < 10 * B; i++) CHECK(b[i] == i, "unshuffled order");
    /* resume at epoch 1, batch 3 = the stream from batch 13 */
    c = loader_defaults(B);
    c.seed = 42;
    c.start_epoch = 1;
    c.start_batch = 3;
    if (stream(ds, c, 12, b, eb, &sbm)) return 1;
    CHECK(!memcmp(b, a + 13 * B, sizeof(int64_t) * 12 * B) && eb[0] == 1003 && eb[7] == 2000, "resume");
    free(a), free(b);
    return 0;
}

static int test_partial(const sslc_dataset *ds) {
    loader_cfg c = loader_defaults(B);
    c.drop_last = 0;
    c.layout = DS_HWC;
    int64_t idx[22 * B], ep[22];
    uint64_t s;
    if (stream(ds, c, 22, idx, ep, &s)) return 1;
    char seen[N] = {0};
    for (int i = 0; i < 11 * B; i++)
        if (idx[i] >= 0) seen[idx[i]]++;
    for (int i = 0; i < N; i++) CHECK(seen[i] == 1, "sample %d seen %d times in an epoch without drop_last", i, seen[i]);
    CHECK(ep[10] == 10 && ep[11] == 1000 && idx[10 * B + 3] == -1 && idx[10 * B + 2] >= 0, "partial last batch");
    sslc_loader *l;
    char err[IR_ERRLEN];
    c = loader_defaults(200);
    CHECK(loader_open(&l, ds, &c, err) != 0 && strstr(err, "fewer than one batch"), "batch larger than the dataset");
    c = loader_defaults(B);
    c.threads = 0;
    CHECK(loader_open(&l, ds, &c, err) != 0 && strstr(err, "threads"), "0 threads accepted");
    return 0;
}

static int test_shutdown(const sslc_dataset *ds) {
    char err[IR_ERRLEN];
    for (int k = 0; k < 20; k++) { /* close at once, after one batch, with the queue full */
        sslc_loader *l;
        loader_cfg c = loader_defaults(B);
        c.threads = 1 + k % 4;
        c.prefetch = 2 + k % 3;
        CHECK(loader_open(&l, ds, &c, err) == 0, "%s", err);
        loader_batch b;
        if (k % 2) CHECK(loader_next(l, &b, err) == 0, "%s", err);
        if (k % 3 == 0) usleep(2000);
        loader_close(l);
    }
    loader_close(NULL);
    return 0;
}

/* A dataset whose sample 5 cannot be read. Every format loads at open now (folder: decodes
 * there), so the loader's error path is driven by a read function of the test's own. */
static int failing_read(const sslc_dataset *ds, int64_t i, uint8_t *chw, int32_t *label, char *err) {
    (void)ds;
    if (i == 5) return ds_fail(err, "test: sample 5.png cannot be read");
    memset(chw, (int)i, 48);
    *label = 0;
    return 0;
}

static int test_errors(void) {
    char err[IR_ERRLEN];
    sslc_dataset *ds = calloc(1, sizeof *ds);
    CHECK(ds != NULL, "out of memory");
    ds->info = (ds_info){.n = 8, .c = 3, .h = 4, .w = 4, .num_classes = 1, .has_labels = 1, .what = "failing"};
    ds->native_c = 3;
    ds->read = failing_read;
    loader_cfg c = loader_defaults(2);
    c.shuffle = 0;
    c.threads = 3;
    sslc_loader *l;
    CHECK(loader_open(&l, ds, &c, err) == 0, "%s", err);
    int bad = 0;
    for (int k = 0; k < 8; k++) {
        loader_batch b;
        err[0] = 0;
        int rc = loader_next(l, &b, err);
        if (b.batch == 2) {
            CHECK(rc != 0 && strstr(err, "5.png"), "corrupt image in batch 2 not reported (%s)", err);
            if (!bad++) printf("     expected error: %s\n", err);
        } else
            CHECK(rc == 0, "batch %lld: %s", (long long)b.batch, err);
    }
    CHECK(bad == 2, "the corrupt batch was reported %d times in 2 epochs", bad);
    loader_close(l);
    ds_close(ds);
    return 0;
}

/* data-parallel shards: 2 shards of batch B/2 are the halves of each batch of B, in order,
 * across epochs and from a resume position; a shard outside the job is refused */
static int test_shards(const sslc_dataset *ds) {
    int nb = 25;
    int64_t *whole = malloc(sizeof(int64_t) * nb * B), *half[2] = {malloc(sizeof(int64_t) * nb * B / 2),
                                                                    malloc(sizeof(int64_t) * nb * B / 2)};
    int64_t ew[25], eh[25];
    uint64_t s;
    loader_cfg c = loader_defaults(B);
    c.seed = 42;
    if (stream(ds, c, nb, whole, ew, &s)) return 1;
    for (int r = 0; r < 2; r++) {
        loader_cfg h = loader_defaults(B / 2);
        h.seed = 42, h.shard = r, h.nshards = 2;
        if (stream(ds, h, nb, half[r], eh, &s)) return 1;
        CHECK(!memcmp(ew, eh, sizeof ew), "shard %d: batch numbering differs", r);
        for (int k = 0; k < nb; k++)
            CHECK(!memcmp(half[r] + k * B / 2, whole + k * B + r * B / 2, sizeof(int64_t) * B / 2),
                  "shard %d, batch %d: not its half of the global batch", r, k);
        h.start_epoch = 1, h.start_batch = 3;
        if (stream(ds, h, 4, half[r], eh, &s)) return 1;
        CHECK(!memcmp(half[r], whole + 13 * B + r * B / 2, sizeof(int64_t) * B / 2), "shard %d: resume", r);
    }
    sslc_loader *l;
    char err[IR_ERRLEN];
    c.shard = 2, c.nshards = 2;
    CHECK(loader_open(&l, ds, &c, err) != 0 && strstr(err, "shard 2 of 2"), "shard 2 of 2 accepted: %s", err);
    free(whole), free(half[0]), free(half[1]);
    return 0;
}

int main(void) {
    sslc_dataset *ds;
    char err[IR_ERRLEN];
    ds_options o = {.seed = 9};
    if (ds_open(&ds, "fake:103:3x5x4", DS_TRAIN, &o, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int failed = 0;
    struct {
        const char *name;
        int (*fn)(const sslc_dataset *);
    } tests[] = {{"determinism across threads, epochs, resume", test_determinism},
                 {"partial batches", test_partial},
                 {"data-parallel shards", test_shards},
                 {"shutdown", test_shutdown}};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int r = tests[i].fn(ds);
        printf("%s %s\n", r ? "FAIL" : "ok  ", tests[i].name);
        failed += r != 0;
    }
    int r = test_errors();
    printf("%s errors reach the caller\n", r ? "FAIL" : "ok  ");
    failed += r != 0;
    ds_close(ds);
    return failed ? 1 : 0;
}
