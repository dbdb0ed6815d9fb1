/* Datasets: every format read back from files written here (IDX gzipped and plain, CIFAR-10
 * batches, folders of PNG/JPEG), fake data, the real Fashion-MNIST when installed, and one
 * clear error for every kind of bad input. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "optest.h"
#include "runtime/dataset.h"
#include "runtime/fileio.h"
#include "runtime/image.h"

static char root[256];

static const char *P(const char *fmt, ...) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    int n = snprintf(b, 512, "%s/", root);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, (size_t)(512 - n), fmt, ap);
    va_end(ap);
    return b;
}

static void mkdirs(const char *path) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static int write_gz(const char *path, const void *data, size_t n) {
    gzFile f = gzopen(path, "wb");
    if (!f) return -1;
    int w = gzwrite(f, data, (unsigned)n);
    gzclose(f);
    return w == (int)n ? 0 : -1;
}

/* IDX bytes: magic 0 0 8 ndim, big-endian dims, payload */
static size_t idx_bytes(unsigned char *out, int ndim, const uint32_t *dims, const unsigned char *payload, size_t plen) {
    out[0] = out[1] = 0, out[2] = 8, out[3] = (unsigned char)ndim;
    for (int k = 0; k < ndim; k++)
        for (int b = 0; b < 4; b++) out[4 + 4 * k + b] = (unsigned char)(dims[k] >> (24 - 8 * b));
    memcpy(out + 4 + 4 * ndim, payload, plen);
    return 4 + 4 * (size_t)ndim + plen;
}

/* fashion-mnist files in dir: n images of h x w, pixel (i, p) = i*7 + p, label i % 10 */
static int make_idx(const char *dir, const char *pre, uint32_t n, uint32_t h, uint32_t w, int gz) {
    mkdirs(dir);
    unsigned char img[4096], lab[256], buf[8192];
    for (uint32_t i = 0; i < n * h * w; i++) img[i] = (unsigned char)((i / (h * w)) * 7 + i % (h * w));
    for (uint32_t i = 0; i < n; i++) lab[i] = (unsigned char)(i % 10);
    char path[600];
    uint32_t d3[3] = {n, h, w}, d1[1] = {n};
    size_t len = idx_bytes(buf, 3, d3, img, n * h * w);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, pre, gz ? ".gz" : "");
    if ((gz ? write_gz : write_file)(path, buf, len)) return -1;
    len = idx_bytes(buf, 1, d1, lab, n);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, pre, gz ? ".gz" : "");
    return (gz ? write_gz : write_file)(path, buf, len);
}

/* opening `spec` must fail with a message containing `want` */
static int expect_open_error(const char *spec, ds_split split, const ds_options *opt, const char *want) {
    sslc_dataset *ds;
    char err[IR_ERRLEN] = {0};
    int rc = ds_open(&ds, spec, split, opt, err);
    if (rc == 0) {
        ds_close(ds);
        fprintf(stderr, "FAIL %s opened, expected an error containing '%s'\n", spec, want);
        return 1;
    }
    if (!strstr(err, want) || strchr(err, '\n')) {
        fprintf(stderr, "FAIL %s: error '%s' lacks '%s'\n", spec, err, want);
        return 1;
    }
    printf("     expected error: %s\n", err);
    return 0;
}

static int test_fake(void) {
    sslc_dataset *a, *b, *t, *g;
    char err[IR_ERRLEN];
    ds_options o = {.seed = 5};
    CHECK(ds_open(&a, "fake:100", DS_TRAIN, &o, err) == 0, "%s", err);
    CHECK(ds_open(&b, "fake:100", DS_TRAIN, &o, err) == 0, "%s", err);
    CHECK(ds_open(&t, "fake:100", DS_TEST, &o, err) == 0, "%s", err);
    ds_options o1 = {.seed = 5, .channels = 1};
    CHECK(ds_open(&g, "fake:100:3x32x32", DS_TRAIN, &o1, err) == 0, "%s", err);
    const ds_info *in = ds_get_info(a);
    CHECK(in->n == 100 && in->c == 3 && in->h == 32 && in->w == 32 && in->num_classes == 10 && in->has_labels,
          "fake info %lld %d %d %d", (long long)in->n, in->c, in->h, in->w);
    uint8_t x[3072], y[3072], hwc[3072], gray[1024], z[3072];
    int32_t la, lb, lt, counts[10] = {0};
    int same_test = 1;
    for (int i = 0; i < 100; i++) {
        CHECK(ds_read(a, i, x, DS_CHW, &la, err) == 0 && ds_read(b, i, y, DS_CHW, &lb, err) == 0, "%s", err);
        CHECK(!memcmp(x, y, sizeof x) && la == lb && la >= 0 && la < 10, "fake sample %d not deterministic", i);
        counts[la]++;
        CHECK(ds_read(t, i, z, DS_CHW, &lt, err) == 0, "%s", err);
        same_test &= !memcmp(x, z, sizeof x);
        CHECK(ds_read(a, i, hwc, DS_HWC, NULL, err) == 0 && ds_read(g, i, gray, DS_CHW, &lb, err) == 0, "%s", err);
        for (int p = 0; p < 1024; p++) {
            CHECK(hwc[3 * p + 1] == x[1024 + p], "HWC layout");
            CHECK(gray[p] == ds_luma(x[p], x[1024 + p], x[2048 + p]), "RGB -> gray conversion");
        }
    }
    CHECK(!same_test, "test split equals train split");
    for (int k = 0; k < 10; k++) CHECK(counts[k] > 0, "class %d never drawn", k);
    ds_close(a), ds_close(b), ds_close(t), ds_close(g);
    ds_options o2 = {.seed = 6};
    CHECK(ds_open(&a, "fake:3:1x8x6", DS_TRAIN, &o2, err) == 0, "%s", err);
    in = ds_get_info(a);
    CHECK(in->c == 1 && in->h == 8 && in->w == 6, "fake:3:1x8x6 shape");
    CHECK(ds_read(a, 3, x, DS_CHW, NULL, err) != 0 && strstr(err, "out of range"), "index 3 of 3 read");
    ds_close(a);
    return expect_open_error("fake:0", DS_TRAIN, NULL, "positive sample count") ||
           expect_open_error("fake:abc", DS_TRAIN, NULL, "positive sample count") ||
           expect_open_error("fake:5:2x8x8", DS_TRAIN, NULL, "C in {1,3}") ||
           expect_open_error("fake", DS_TRAIN, NULL, "fake:N") || expect_open_error("imagenet:/x", DS_TRAIN, NULL, "unknown dataset") ||
           expect_open_error("cifar10", DS_TRAIN, NULL, "cifar10:DIR");
}

static int test_idx(void) {
    char err[IR_ERRLEN], spec[600];
    for (int gz = 0; gz < 2; gz++) {
        const char *dir = P(gz ? "fm" : "fmplain");
        CHECK(make_idx(dir, "train", 9, 5, 4, gz) == 0 && make_idx(dir, "t10k", 3, 5, 4, gz) == 0, "writing IDX files");
        snprintf(spec, sizeof spec, "fashion-mnist:%s", dir);
        for (int split = 0; split < 2; split++) {
            sslc_dataset *ds;
            CHECK(ds_open(&ds, spec, (ds_split)split, NULL, err) == 0, "%s", err);
            const ds_info *in = ds_get_info(ds);
            CHECK(in->n == (split ? 3 : 9) && in->c == 1 && in->h == 5 && in->w == 4 && in->num_classes == 10,
                  "IDX info");
            CHECK(!strcmp(ds_class_name(ds, 0), "T-shirt/top") && !strcmp(ds_class_name(ds, 9), "Ankle boot") &&
                      !ds_class_name(ds, 10) && !ds_class_name(ds, -1),
                  "Fashion-MNIST class names");
            for (int i = 0; i < in->n; i++) {
                uint8_t x[20];
                int32_t lab;
                CHECK(ds_read(ds, i, x, DS_CHW, &lab, err) == 0, "%s", err);
                CHECK(lab == i % 10 && x[0] == (uint8_t)(i * 7) && x[19] == (uint8_t)(i * 7 + 19), "IDX sample %d", i);
            }
            ds_close(ds);
        }
    }
    /* errors */
    unsigned char buf[8192], good[8192];
    size_t glen;
    const char *bad = P("fmbad");
    mkdirs(bad);
    snprintf(spec, sizeof spec, "fashion-mnist:%s", bad);
    int r = expect_open_error(spec, DS_TRAIN, NULL, "missing file");
    CHECK(make_idx(bad, "train", 9, 5, 4, 1) == 0, "write");
    r = r || expect_open_error(spec, DS_TEST, NULL, "t10k-images-idx3-ubyte");
    /* truncated gzip */
    {
        unsigned char *b;
        size_t n;
        CHECK(sslc_read_file(P("fmbad/train-images-idx3-ubyte.gz"), 1 << 20, &b, &n, err) == 0, "%s", err);
        memcpy(good, b, n);
        glen = n;
        free(b);
        write_file(P("fmbad/train-images-idx3-ubyte.gz"), good, glen - 12);
        r = r || expect_open_error(spec, DS_TRAIN, NULL, "truncated");
        memcpy(buf, good, glen); /* corrupt the deflate stream */
        for (size_t i = 12; i < glen - 8; i++) buf[i] ^= 0x5A;
        write_file(P("fmbad/train-images-idx3-ubyte.gz"), buf, glen);
        r = r || expect_open_error(spec, DS_TRAIN, NULL, "corrupt gzip");
        memcpy(buf, good, glen); /* only the CRC broken */
        buf[glen - 7] ^= 1;
        write_file(P("fmbad/train-images-idx3-ubyte.gz"), buf, glen);
        r = r || expect_open_error(spec, DS_TRAIN, NULL, "corrupt gzip");
        /* the whole deflate stream but no trailer (CRC, size): used to be accepted */
        write_file(P("fmbad/train-images-idx3-ubyte.gz"), good, glen - 8);
        r = r || expect_open_error(spec, DS_TRAIN, NULL, "truncated");
    }
    /* wrong magic, a payload shorter than announced, trailing data, count and label mismatches */
    uint32_t d3[3] = {9, 5, 4}, d1[1] = {9};
    unsigned char pay[4096] = {0};
    size_t n = idx_bytes(buf, 3, d3, pay, 180);
    buf[2] = 0x0D; /* float */
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "not an IDX file");
    n = idx_bytes(buf, 3, d3, pay, 170);
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "truncated");
    n = idx_bytes(buf, 3, d3, pay, 181);
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "data after");
    uint32_t d3b[3] = {8, 5, 4};
    n = idx_bytes(buf, 3, d3b, pay, 160);
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "8 images but 9 labels");
    uint32_t huge[3] = {100000000, 100000, 100000};
    n = idx_bytes(buf, 3, huge, pay, 16);
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "announces more than");
    /* a 1 GiB announcement in a file of a few dozen bytes: refused from the header and the file's
     * size, before 1 GiB is allocated and inflated (deflate inflates at most 1032-fold) */
    uint32_t gib[3] = {1024, 1024, 1024};
    n = idx_bytes(buf, 3, gib, pay, 16);
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "more than a gzip file of");
    /* the same as a plain file: its size is checked against the header */
    unlink(P("fmbad/train-images-idx3-ubyte.gz"));
    write_file(P("fmbad/train-images-idx3-ubyte"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "truncated (32 of 1073741840 bytes)");
    unlink(P("fmbad/train-images-idx3-ubyte"));
    n = idx_bytes(buf, 3, d3, pay, 180);
    write_gz(P("fmbad/train-images-idx3-ubyte.gz"), buf, n);
    unsigned char lab[9] = {0, 1, 2, 3, 4, 5, 6, 7, 12};
    n = idx_bytes(buf, 1, d1, lab, 9);
    write_gz(P("fmbad/train-labels-idx1-ubyte.gz"), buf, n);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "label 12 of sample 8 is not a class");
    snprintf(spec, sizeof spec, "fashion-mnist:%s", P("nowhere"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "No such file");
    return r;
}

static int test_fashion_mnist_installed(void) {
    if (access(DS_DEFAULT_FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("     (Fashion-MNIST not installed: real-data check skipped)\n");
        return 0;
    }
    char err[IR_ERRLEN];
    static const int64_t n[2] = {60000, 10000};
    static const int sum0[2] = {76247, 33456}, mid0[2] = {217, 110};
    for (int split = 0; split < 2; split++) {
        sslc_dataset *ds;
        CHECK(ds_open(&ds, "fashion-mnist", (ds_split)split, NULL, err) == 0, "%s", err);
        const ds_info *in = ds_get_info(ds);
        CHECK(in->n == n[split] && in->c == 1 && in->h == 28 && in->w == 28, "Fashion-MNIST shape");
        uint8_t x[784];
        int32_t lab;
        CHECK(ds_read(ds, 0, x, DS_CHW, &lab, err) == 0, "%s", err);
        int s = 0;
        for (int p = 0; p < 784; p++) s += x[p];
        CHECK(lab == 9 && s == sum0[split] && x[14 * 28 + 14] == mid0[split], "Fashion-MNIST first sample");
        ds_close(ds);
    }
    return 0;
}

static int test_cifar(void) {
    char err[IR_ERRLEN], spec[600];
    const char *dir = P("cifar/cifar-10-batches-bin");
    mkdirs(dir);
    unsigned char rec[3 * 3073];
    for (int b = 1; b <= 6; b++) {
        int nrec = b == 6 ? 2 : 3;
        for (int r = 0; r < nrec; r++) {
            rec[r * 3073] = (unsigned char)((b * 3 + r) % 10);
            for (int p = 0; p < 3072; p++) rec[r * 3073 + 1 + p] = (unsigned char)(b * 31 + r * 7 + p);
        }
        char name[64];
        snprintf(name, sizeof name, b == 6 ? "cifar/cifar-10-batches-bin/test_batch.bin" : "cifar/cifar-10-batches-bin/data_batch_%d.bin", b);
        CHECK(write_file(P("%s", name), rec, (size_t)nrec * 3073) == 0, "write");
    }
    snprintf(spec, sizeof spec, "cifar10:%s", P("cifar"));
    sslc_dataset *ds;
    CHECK(ds_open(&ds, spec, DS_TRAIN, NULL, err) == 0, "%s", err);
    const ds_info *in = ds_get_info(ds);
    CHECK(in->n == 15 && in->c == 3 && in->h == 32 && in->w == 32 && in->num_classes == 10, "CIFAR info");
    CHECK(!strcmp(ds_class_name(ds, 0), "airplane") && !strcmp(ds_class_name(ds, 9), "truck") && !ds_class_name(ds, 10),
          "CIFAR-10 class names");
    uint8_t x[3072], hwc[3072];
    int32_t lab;
    CHECK(ds_read(ds, 4, x, DS_CHW, &lab, err) == 0 && ds_read(ds, 4, hwc, DS_HWC, NULL, err) == 0, "%s", err);
    CHECK(lab == (2 * 3 + 1) % 10 && x[0] == (uint8_t)(2 * 31 + 7) && x[1024] == (uint8_t)(2 * 31 + 7 + 1024) &&
              hwc[1] == x[1024],
          "CIFAR sample 4");
    ds_close(ds);
    CHECK(ds_open(&ds, spec, DS_TEST, NULL, err) == 0 && ds_get_info(ds)->n == 2, "CIFAR test split: %s", err);
    ds_close(ds);
    int r = 0;
    write_file(P("cifar/cifar-10-batches-bin/data_batch_3.bin"), rec, 3073 * 2 - 5);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "not a whole number");
    rec[3073] = 42;
    write_file(P("cifar/cifar-10-batches-bin/data_batch_3.bin"), rec, 3073 * 2);
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "label 42");
    unlink(P("cifar/cifar-10-batches-bin/data_batch_3.bin"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "data_batch_3.bin");
    snprintf(spec, sizeof spec, "cifar10:%s", P("nocifar"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "No such file");
    return r;
}

static int put_image(const char *path, int w, int h, int c, int jpeg, uint8_t seed) {
    uint8_t px[3 * 64 * 64];
    for (int i = 0; i < c * w * h; i++) px[i] = (uint8_t)(seed + i * 5);
    unsigned char *buf;
    size_t len;
    char err[IR_ERRLEN];
    int rc = jpeg ? img_encode_jpeg(px, w, h, c, 95, &buf, &len, err) : img_encode_png(px, w, h, c, &buf, &len, err);
    if (rc) {
        fprintf(stderr, "encode: %s\n", err);
        return -1;
    }
    rc = write_file(path, buf, len);
    free(buf);
    return rc;
}

/* the paths of a split, in order, as one string */
static void split_paths(sslc_dataset *ds, char *out, size_t n) {
    out[0] = 0;
    for (int64_t i = 0; i < ds_get_info(ds)->n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s|", ds_path(ds, i));
    }
}

/* ds_options.select: samples 0 and 2 of 3 */
static int64_t pick_0_2(int64_t n, int64_t *idx, void *ctx) {
    *(int64_t *)ctx = n;
    idx[0] = 0, idx[1] = 2;
    return 2;
}
static int64_t pick_backwards(int64_t n, int64_t *idx, void *ctx) {
    (void)ctx;
    idx[0] = n - 1, idx[1] = 0;
    return 2;
}

static int test_folder(void) {
    char err[IR_ERRLEN], spec[600];
    /* class folders with train/ and test/ splits: sorted, labelled, pixels as stored */
    mkdirs(P("imgs/train/cat/sub"));
    mkdirs(P("imgs/train/dog"));
    mkdirs(P("imgs/train/.hidden"));
    mkdirs(P("imgs/test/cat"));
    CHECK(put_image(P("imgs/train/cat/b.png"), 6, 5, 3, 0, 1) == 0 && put_image(P("imgs/train/cat/sub/a.jpg"), 6, 5, 3, 1, 2) == 0 &&
              put_image(P("imgs/train/dog/c.PNG"), 6, 5, 1, 0, 3) == 0 && write_file(P("imgs/train/dog/notes.txt"), "hi", 2) == 0 &&
              put_image(P("imgs/test/cat/t.png"), 6, 5, 3, 0, 4) == 0,
          "writing images");
    snprintf(spec, sizeof spec, "folder:%s", P("imgs"));
    sslc_dataset *ds;
    CHECK(ds_open(&ds, spec, DS_TRAIN, NULL, err) == 0, "%s", err);
    const ds_info *in = ds_get_info(ds);
    CHECK(in->n == 3 && in->c == 3 && in->h == 5 && in->w == 6 && in->num_classes == 2 && in->has_labels && !in->note[0],
          "folder info n=%lld c=%d", (long long)in->n, in->c);
    CHECK(!strcmp(ds_class_name(ds, 0), "cat") && !strcmp(ds_class_name(ds, 1), "dog") && !ds_class_name(ds, 2), "classes");
    CHECK(strstr(ds_path(ds, 1), "imgs/train/cat/sub/a.jpg") != NULL, "path of sample 1: %s", ds_path(ds, 1));
    uint8_t x[3 * 8 * 8]; /* the largest image read here: 8x8 RGB */
    int32_t lab;
    /* sorted: cat/b.png, cat/sub/a.jpg, dog/c.PNG */
    CHECK(ds_read(ds, 0, x, DS_CHW, &lab, err) == 0, "%s", err);
    for (int i = 0; i < 90; i++) CHECK(x[i] == (uint8_t)(1 + i * 5), "PNG pixel %d = %d", i, x[i]);
    CHECK(lab == 0, "label of cat/b.png");
    CHECK(ds_read(ds, 1, x, DS_CHW, &lab, err) == 0 && lab == 0, "%s", err);
    int maxd = 0;
    for (int i = 0; i < 90; i++) {
        int d = abs((int)x[i] - (uint8_t)(2 + i * 5));
        if (d > maxd) maxd = d;
    }
    CHECK(maxd < 200, "JPEG decodes to garbage"); /* lossy; a sawtooth pattern is hard for JPEG */
    CHECK(ds_read(ds, 2, x, DS_CHW, &lab, err) == 0 && lab == 1, "%s", err);
    for (int i = 0; i < 30; i++) CHECK(x[i] == (uint8_t)(3 + i * 5) && x[30 + i] == x[i] && x[60 + i] == x[i], "gray -> RGB");
    ds_close(ds);
    /* a selection: only samples 0 and 2 are decoded, and the dataset holds them in order */
    int64_t seen = 0;
    ds_options pick = {.select = pick_0_2, .select_ctx = &seen};
    CHECK(ds_open(&ds, spec, DS_TRAIN, &pick, err) == 0, "%s", err);
    CHECK(seen == 3 && ds_get_info(ds)->n == 2 && ds_get_info(ds)->num_classes == 2, "selection: n %lld of %lld",
          (long long)ds_get_info(ds)->n, (long long)seen);
    CHECK(strstr(ds_path(ds, 1), "imgs/train/dog/c.PNG") != NULL, "selected path 1: %s", ds_path(ds, 1));
    CHECK(ds_read(ds, 1, x, DS_CHW, &lab, err) == 0 && lab == 1 && x[0] == 3 && x[30] == 3, "selected sample 1: %s", err);
    CHECK(ds_read(ds, 0, x, DS_CHW, &lab, err) == 0 && lab == 0 && x[0] == 1, "selected sample 0: %s", err);
    ds_close(ds);
    pick.select = pick_backwards;
    CHECK(expect_open_error(spec, DS_TRAIN, &pick, "not increasing") == 0, "a selection out of order is refused");
    ds_options g = {.channels = 1};
    CHECK(ds_open(&ds, spec, DS_TRAIN, &g, err) == 0 && ds_read(ds, 0, x, DS_CHW, &lab, err) == 0, "%s", err);
    CHECK(ds_get_info(ds)->c == 1 && x[0] == ds_luma(1, 1 + 30 * 5, (uint8_t)(1 + 60 * 5)), "RGB -> L");
    ds_close(ds);
    CHECK(ds_open(&ds, spec, DS_TEST, NULL, err) == 0 && ds_get_info(ds)->n == 1 && ds_get_info(ds)->num_classes == 1, "%s", err);
    ds_close(ds);
    /* resized to the size asked for: a constant image stays constant, the shape is the target */
    ds_options sz = {.height = 4, .width = 3};
    CHECK(ds_open(&ds, spec, DS_TRAIN, &sz, err) == 0, "%s", err);
    CHECK(ds_get_info(ds)->h == 4 && ds_get_info(ds)->w == 3 && ds_read(ds, 2, x, DS_CHW, &lab, err) == 0, "resized: %s", err);
    ds_close(ds);
    mkdirs(P("const/train/a"));
    mkdirs(P("const/val/a"));
    mkdirs(P("const/val/b"));
    {
        uint8_t px[3 * 40 * 30];
        memset(px, 77, sizeof px);
        unsigned char *buf;
        size_t len;
        CHECK(img_encode_png(px, 40, 30, 3, &buf, &len, err) == 0, "%s", err);
        write_file(P("const/train/a/x.png"), buf, len);
        write_file(P("const/val/a/y.png"), buf, len);
        write_file(P("const/val/b/z.png"), buf, len);
        free(buf);
    }
    snprintf(spec, sizeof spec, "folder:%s", P("const"));
    ds_options s7 = {.height = 7, .width = 7};
    CHECK(ds_open(&ds, spec, DS_TEST, &s7, err) == 0 && ds_get_info(ds)->num_classes == 2 && ds_get_info(ds)->n == 2,
          "val split: %s", err);
    uint8_t y7[3 * 49];
    CHECK(ds_read(ds, 1, y7, DS_CHW, &lab, err) == 0 && lab == 1, "%s", err);
    for (int i = 0; i < 3 * 49; i++) CHECK(y7[i] == 77, "a constant image resized is not constant: %d", y7[i]);
    ds_close(ds);
    int r = 0;
    /* flat (unlabelled), mixed sizes and modes, nested: a held-out split, the same for every seed */
    mkdirs(P("flat/deeper"));
    for (int i = 0; i < 20; i++) {
        char name[64];
        snprintf(name, sizeof name, "flat/%sim%02d.%s", i >= 15 ? "deeper/" : "", i, i % 3 == 2 ? "jpg" : "png");
        CHECK(put_image(P(name), 8 + i, 30 - i, i % 2 ? 1 : 3, i % 3 == 2, (uint8_t)i) == 0, "write %s", name);
    }
    snprintf(spec, sizeof spec, "folder:%s", P("flat"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "--image-size");
    static char tr_paths[8192], te_paths[4096], tr2[8192];
    ds_options f8 = {.height = 8, .width = 8, .seed = 1}, f8b = {.height = 8, .width = 8, .seed = 99, .channels = 3};
    CHECK(ds_open(&ds, spec, DS_TRAIN, &f8, err) == 0, "%s", err);
    in = ds_get_info(ds);
    CHECK(in->n == 18 && !in->has_labels && in->num_classes == 0 && in->c == 3 && strstr(in->note, "2 of the 20 images"),
          "flat train n=%lld labels=%d note '%s'", (long long)in->n, in->has_labels, in->note);
    CHECK(ds_read(ds, 17, x, DS_HWC, &lab, err) == 0 && lab == -1, "unlabelled read: %s", err);
    split_paths(ds, tr_paths, sizeof tr_paths);
    ds_close(ds);
    CHECK(ds_open(&ds, spec, DS_TRAIN, &f8b, err) == 0, "%s", err);
    split_paths(ds, tr2, sizeof tr2);
    ds_close(ds);
    CHECK(!strcmp(tr_paths, tr2), "the held-out split depends on the seed");
    CHECK(ds_open(&ds, spec, DS_TEST, &f8, err) == 0 && ds_get_info(ds)->n == 2, "flat test: %s", err);
    split_paths(ds, te_paths, sizeof te_paths);
    for (int64_t i = 0; i < 2; i++) CHECK(!strstr(tr_paths, ds_path(ds, i)), "held-out %s is in the train split", ds_path(ds, i));
    ds_close(ds);
    /* opened for the shape only: headers, no pixels */
    ds_options so = {.shape_only = 1, .height = 8, .width = 8};
    CHECK(ds_open(&ds, spec, DS_TRAIN, &so, err) == 0 && ds_get_info(ds)->n == 18 && ds_read(ds, 0, x, DS_CHW, &lab, err) != 0,
          "shape only: %s", err);
    ds_close(ds);
    /* train/ without test/: the test split is held out of train/ */
    mkdirs(P("trainonly/train/a"));
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "trainonly/train/a/%d.png", i);
        CHECK(put_image(P(name), 4, 4, 1, 0, (uint8_t)i) == 0, "write");
    }
    snprintf(spec, sizeof spec, "folder:%s", P("trainonly"));
    CHECK(ds_open(&ds, spec, DS_TEST, NULL, err) == 0 && ds_get_info(ds)->n == 1 && ds_get_info(ds)->has_labels &&
              strstr(ds_get_info(ds)->note, "test/ (or val/) beside train/") && strstr(ds_get_info(ds)->note, "of train/"),
          "train/ only: %s / note '%s'", err, ds ? ds_get_info(ds)->note : "");
    ds_close(ds);
    /* one image: nothing to hold out */
    mkdirs(P("one"));
    CHECK(put_image(P("one/x.png"), 4, 4, 1, 0, 0) == 0, "write");
    snprintf(spec, sizeof spec, "folder:%s", P("one"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "needs at least 2");
    /* errors at open */
    mkdirs(P("empty"));
    snprintf(spec, sizeof spec, "folder:%s", P("empty"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "has no PNG or JPEG images");
    mkdirs(P("noimg/a"));
    write_file(P("noimg/a/readme.txt"), "x", 1);
    snprintf(spec, sizeof spec, "folder:%s", P("noimg"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "has no PNG or JPEG");
    mkdirs(P("bmp/a"));
    write_file(P("bmp/a/x.bmp"), "BM", 2);
    snprintf(spec, sizeof spec, "folder:%s", P("bmp"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "only PNG and JPEG");
    mkdirs(P("junk/train/a"));
    mkdirs(P("junk/test/a"));
    write_file(P("junk/train/a/x.png"), "this is not an image at all, really not", 40);
    snprintf(spec, sizeof spec, "folder:%s", P("junk"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "not a PNG or JPEG");
    snprintf(spec, sizeof spec, "folder:%s", P("nothere"));
    r = r || expect_open_error(spec, DS_TRAIN, NULL, "No such file");
    r = r || expect_open_error("folder:", DS_TRAIN, NULL, "folder:DIR");
    /* a PNG and a JPEG whose headers are fine but whose data is cut or broken: the open fails,
     * naming the file */
    static const char *names[4] = {"1.png", "2.jpg", "3.png", "4.jpg"};
    for (int i = 0; i < 4; i++) {
        char d[64], t[64], path[96];
        snprintf(d, sizeof d, "broken%d/train/a", i);
        snprintf(t, sizeof t, "broken%d/test/a", i);
        mkdirs(P(d));
        mkdirs(P(t));
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        put_image(P(path), 16, 16, 3, i % 2, 0);
        unsigned char *b;
        size_t n;
        CHECK(sslc_read_file(P(path), 1 << 20, &b, &n, err) == 0, "%s", err);
        size_t sos = 0; /* JPEG: the start-of-scan header */
        for (size_t k = 0; k + 1 < n && !sos && i % 2; k++)
            if (b[k] == 0xFF && b[k + 1] == 0xDA) sos = k;
        CHECK(!(i % 2) || (sos > 0 && n - sos > 60), "no SOS marker");
        if (i == 0) write_file(P(path), b, n / 2);                             /* PNG cut */
        if (i == 1) write_file(P(path), b, sos + 20 + (n - sos - 20) / 2); /* JPEG cut in the entropy-coded data */
        if (i == 2) {                                                        /* PNG data damaged */
            for (size_t k = 40; k < n - 20; k++) b[k] ^= 0x33;
            write_file(P(path), b, n);
        }
        if (i == 3) { /* corrupt, not cut: a marker in the middle of the entropy-coded data (libjpeg
                       * warns, then decodes the rest as gray; it used to be accepted) */
            b[sos + 30] = 0xFF, b[sos + 31] = 0xD5;
            write_file(P(path), b, n);
        }
        free(b);
        snprintf(spec, sizeof spec, "folder:%s/broken%d", root, i);
        err[0] = 0;
        CHECK(ds_open(&ds, spec, DS_TRAIN, NULL, err) != 0 && strstr(err, names[i]) && strstr(err, "cannot decode"),
              "corrupt %s decoded (err '%s')", names[i], err);
        printf("     expected error: %s\n", err);
    }
    (void)te_paths;
    return r;
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/sslc_test_dataset_XXXXXX");
    if (!mkdtemp(root)) return 1;
    int failed = 0;
    struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {{"fake", test_fake},
                 {"fashion-mnist (IDX files)", test_idx},
                 {"fashion-mnist (installed)", test_fashion_mnist_installed},
                 {"cifar10", test_cifar},
                 {"folder", test_folder}};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int r = tests[i].fn();
        printf("%s %s\n", r ? "FAIL" : "ok  ", tests[i].name);
        failed += r != 0;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", root);
    return failed ? 1 : 0;
}
