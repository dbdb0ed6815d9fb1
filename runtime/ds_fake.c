/* fake:N[:CxHxW]: deterministic random labelled images, generated on read from (seed, split,
 * index): a class-specific smooth pattern (stripes of a class frequency, direction and colour
 * phase) plus uniform noise, so that the classes can be learnt. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_impl.h"
#include "rng.h"

#define FAKE_CLASSES 10

#define FAKE_TABLE 4096

typedef struct {
    uint64_t seed;
    int split;
    float sine[FAKE_TABLE]; /* sin(2 pi k / FAKE_TABLE) */
} fake_impl;

static int fake_read(const sslc_dataset *ds, int64_t i, uint8_t *chw, int32_t *label, char *err) {
    (void)err;
    const fake_impl *f = ds->impl;
    sslc_rng r;
    rng_seed(&r, f->seed ^ 0x66616B6500000000ULL, ((uint64_t)f->split << 48) ^ (uint64_t)i); /* "fake" */
    int cls = (int)(rng_u32(&r) % FAKE_CLASSES);
    int C = ds->native_c, H = ds->info.h, W = ds->info.w;
    /* pattern: sin(2 pi (fx x / W + fy y / H) + phase), in table steps */
    double fx = 1 + cls % 4, fy = 1 + (cls * 7) % 3, phase = rng_uniform(&r);
    for (int c = 0; c < C; c++) {
        double cp = phase + c * (1.0 + 0.7 * cls) / 6.283185307179586;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double turns = fx * x / W + fy * y / H + cp;
                int k = (int)((turns - floor(turns)) * FAKE_TABLE) & (FAKE_TABLE - 1);
                int v = 128 + (int)(70 * f->sine[k]) + (int)(rng_u32(&r) % 101) - 50;
                chw[((int64_t)c * H + y) * W + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    }
    *label = cls;
    return 0;
}

static void fake_close(sslc_dataset *ds) {
    free(ds->impl);
    ds->impl = NULL;
}

int ds_open_fake(sslc_dataset *ds, const char *arg, ds_split split, const ds_options *opt, char *err) {
    snprintf(ds->info.what, sizeof ds->info.what, "fake:%.40s %s", arg, ds_split_name(split));
    char *end;
    errno = 0;
    long long n = strtoll(arg, &end, 10);
    if (end == arg || errno || n < 1 || n > (1LL << 40) || (*end && *end != ':'))
        return ds_fail(err, "fake:N needs a positive sample count, got '%s'", arg);
    int C = opt->channels ? opt->channels : 3, H = opt->height ? opt->height : 32, W = opt->width ? opt->width : 32;
    if (*end == ':') {
        int c, h, w, used = 0;
        if (sscanf(end + 1, "%dx%dx%d%n", &c, &h, &w, &used) != 3 || end[1 + used] || (c != 1 && c != 3) || h < 1 ||
            w < 1 || h > 4096 || w > 4096)
            return ds_fail(err, "fake:N:CxHxW expects C in {1,3} and sizes 1..4096, got '%s'", end + 1);
        C = c, H = h, W = w;
    }
    if (H < 1 || W < 1 || H > 4096 || W > 4096) return ds_fail(err, "fake: image size %dx%d out of range", H, W);
    fake_impl *f = calloc(1, sizeof *f);
    if (!f) return ds_fail(err, "out of memory");
    f->seed = opt->seed;
    f->split = split == DS_TEST;
    for (int k = 0; k < FAKE_TABLE; k++) f->sine[k] = (float)sin(6.283185307179586 * k / FAKE_TABLE);
    ds->impl = f;
    ds->read = fake_read;
    ds->close = fake_close;
    ds->info.n = n;
    ds->info.c = C;
    ds->info.h = H;
    ds->info.w = W;
    ds->info.num_classes = FAKE_CLASSES;
    ds->info.has_labels = 1;
    return 0;
}
