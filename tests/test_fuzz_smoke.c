/* Bounded smoke run of the libFuzzer entry points (tests/fuzz/fuzz_*.c, linked here under the
 * names fuzz_<reader>, see tests/fuzz/fuzz_target.h) in the default suite, without clang: every
 * seed file of tests/fuzz/corpus/<reader>/, then SSLC_FUZZ_SMOKE_N (default 300) seeded mutations
 * per reader (bit flips, byte changes, truncations, insertions, deletions, splices of two seeds,
 * as tests/fuzzkit.h's fuzzers do). A crash or a broken contract aborts, which fails the test;
 * the ASan build of the suite runs it under the sanitizers. SSLC_FUZZ_SEED (default 1) seeds it. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_target.h"
#include "fuzzkit.h"

int fuzz_plan(const uint8_t *, size_t);
int fuzz_checkpoint(const uint8_t *, size_t);
int fuzz_onnx(const uint8_t *, size_t);
int fuzz_image(const uint8_t *, size_t);
int fuzz_cifar(const uint8_t *, size_t);
int fuzz_idx(const uint8_t *, size_t);
int fuzz_compile_args(const uint8_t *, size_t);

static const struct {
    const char *name;
    int (*one)(const uint8_t *, size_t);
} readers[] = {{"plan", fuzz_plan},   {"checkpoint", fuzz_checkpoint}, {"onnx", fuzz_onnx},
               {"image", fuzz_image}, {"cifar", fuzz_cifar},           {"idx", fuzz_idx},
               {"compile_args", fuzz_compile_args}};

typedef struct {
    uint8_t *b;
    size_t n;
} blob;

static int load_dir(const char *dir, blob **out) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    blob *v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        v = realloc(v, (size_t)(n + 1) * sizeof *v);
        v[n].n = len > 0 ? (size_t)len : 0;
        v[n].b = malloc(v[n].n + 1);
        if (v[n].n && fread(v[n].b, 1, v[n].n, f) != v[n].n) v[n].n = 0;
        fclose(f);
        n++;
    }
    closedir(d);
    *out = v;
    return n;
}

/* One to four mutations of a copy of a seed (malloc'd, *len set); a splice takes a second seed. */
static uint8_t *mutate(const blob *seeds, int nseeds, size_t *len) {
    const blob *s = &seeds[below((size_t)nseeds)];
    size_t n = s->n, cap = n + 64;
    uint8_t *b = malloc(cap);
    memcpy(b, s->b, n);
    for (int k = 0, m = 1 + (int)below(4); k < m; k++) {
        switch (below(7)) {
        case 0:
            if (n) b[below(n)] ^= (uint8_t)(1u << below(8));
            break;
        case 1:
            if (n) b[below(n)] = (uint8_t)rnd();
            break;
        case 2:
            if (n) b[below(n)] = below(2) ? 0xff : 0;
            break;
        case 3: n = below(n + 1); break;
        case 4:
            if (n < cap) {
                size_t at = below(n + 1);
                memmove(b + at + 1, b + at, n - at);
                b[at] = (uint8_t)rnd();
                n++;
            }
            break;
        case 5:
            if (n) {
                size_t at = below(n);
                memmove(b + at, b + at + 1, n - at - 1);
                n--;
            }
            break;
        default: { /* the head of this input, the tail of another seed */
            const blob *t = &seeds[below((size_t)nseeds)];
            size_t cut = below(n + 1), from = below(t->n + 1), tail = t->n - from;
            if (cut + tail > cap) b = realloc(b, cap = cut + tail);
            memcpy(b + cut, t->b + from, tail);
            n = cut + tail;
        }
        }
    }
    *len = n;
    return b;
}

int main(void) {
    const char *e = getenv("SSLC_FUZZ_SEED");
    unsigned long long seed = e ? strtoull(e, NULL, 10) : 1;
    fuzz_rs = seed | 1; /* xorshift needs a nonzero state */
    e = getenv("SSLC_FUZZ_SMOKE_N");
    int nmut = e ? atoi(e) : 300;
    for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", SSLC_FUZZ_CORPUS, readers[r].name);
        blob *seeds = NULL;
        int ns = load_dir(dir, &seeds);
        if (ns < 1) {
            fprintf(stderr, "FAIL: no seeds in %s\n", dir);
            return 1;
        }
        double t0 = now();
        for (int i = 0; i < ns; i++) {
            long before = fuzz_accepted;
            readers[r].one(seeds[i].b, seeds[i].n);
            if (fuzz_accepted == before) {
                fprintf(stderr, "FAIL: %s: a seed of %s is refused (regenerate with tests/fuzz/make_corpus.sh)\n",
                        readers[r].name, dir);
                return 1;
            }
        }
        long seeded = fuzz_accepted;
        for (int i = 0; i < nmut; i++) {
            size_t len;
            uint8_t *b = mutate(seeds, ns, &len);
            readers[r].one(b, len);
            free(b);
        }
        printf("%-13s %2d seeds + %d mutations (%ld accepted) in %.2f s\n", readers[r].name, ns, nmut,
               fuzz_accepted - seeded, now() - t0);
        for (int i = 0; i < ns; i++) free(seeds[i].b);
        free(seeds);
    }
    printf("fuzz smoke: ok (seed %llu)\n", seed);
    return 0;
}
