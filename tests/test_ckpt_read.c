/* The one reader of weights files (runtime/ckpt_read.c): the NaN / Inf scan of every float dtype
 * a safetensors file can hold, version 2's checksum covering shapes and metadata (version 1's
 * does not, and is still read), and plain weights files accepted only without sslc's keys. The
 * CLI side (flipped bits in real checkpoints, every command) is tests/cli/test_ckpt_cli.sh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "runtime/checkpoint.h"
#include "runtime/ckpt_impl.h"

static char tmpdir[256];

static int scan(void) {
    float f[4] = {1.0f, 3.4e38f, -0.0f, 0};
    CHECK(ckpt_first_nonfinite(ST_F32, f, sizeof f) == -1, "finite f32");
    f[2] = INFINITY;
    CHECK(ckpt_first_nonfinite(ST_F32, f, sizeof f) == 2, "f32 inf");
    f[1] = NAN;
    CHECK(ckpt_first_nonfinite(ST_F32, f, sizeof f) == 1, "f32 nan");
    double d[2] = {1e308, -INFINITY};
    CHECK(ckpt_first_nonfinite(ST_F64, d, sizeof d) == 1, "f64 -inf");
    uint16_t h[3] = {0x7bff, 0xfbff, 0xfc00}; /* f16: max, -max, -inf */
    CHECK(ckpt_first_nonfinite(ST_F16, h, sizeof h) == 2, "f16 -inf");
    uint16_t b[3] = {0x7f7f, 0x3f80, 0x7fc0}; /* bf16: max, 1, nan */
    CHECK(ckpt_first_nonfinite(ST_BF16, b, sizeof b) == 2, "bf16 nan");
    int64_t i[2] = {-1, INT64_MAX};
    CHECK(ckpt_first_nonfinite(ST_I64, i, sizeof i) == -1, "ints have no NaN");
    printf("ok   NaN / Inf scan of F32, F64, F16, BF16\n");
    return 0;
}

/* a version 1 or 2 checkpoint of two tensors, w of shape wshape, written to name */
static int write_ckpt(const char *name, int version, const int64_t *wshape, const char *step, char *path) {
    char err[IR_ERRLEN];
    float w[6] = {1, 2, 3, 4, 5, 6};
    int64_t n = 7;
    st_table t;
    st_init(&t);
    int r = st_add(&t, "w", ST_F32, 2, wshape, w, err) || st_add(&t, "n", ST_I64, 0, NULL, &n, err) ||
            st_set_meta(&t, "format", CKPT_FORMAT, err) || st_set_meta(&t, "version", version == 1 ? "1" : "2", err) ||
            st_set_meta(&t, "step", "2", err) || st_set_meta(&t, "total", "8", err) || st_set_meta(&t, "seed", "3", err) ||
            st_set_meta(&t, "data", "fake:64", err) || st_set_meta(&t, "plan_crc32", "0123abcd", err);
    uint32_t c = 0;
    char hex[16];
    r = r || ckpt_checksum(&t, version, &c, err);
    snprintf(hex, sizeof hex, "%08x", c);
    r = r || st_set_meta(&t, version == 1 ? "crc32" : CKPT_CHECKSUM_KEY, hex, err);
    /* what a flipped bit after the write would do: the shape or the step changes, the CRC stays */
    if (step) r = r || st_set_meta(&t, "step", step, err);
    snprintf(path, 512, "%s/%s", tmpdir, name);
    r = r || st_write(&t, path, err);
    st_free(&t);
    CHECK(!r, "%s: %s", name, err);
    return 0;
}

static int versions(void) {
    char err[IR_ERRLEN], path[512];
    ckpt_file f;
    const int64_t s23[2] = {2, 3};
    if (write_ckpt("v2.safetensors", 2, s23, NULL, path)) return 1;
    CHECK(ckpt_read(&f, path, err) == 0, "v2: %s", err);
    CHECK(f.is_ckpt && f.version == 2 && f.meta.step == 2 && f.meta.total == 8 && f.meta.seed == 3 &&
              f.meta.plan_crc32 == 0x0123abcd && !strcmp(f.meta.data, "fake:64"),
          "v2 metadata");
    ckpt_file_free(&f);
    /* the step changed after the checksum was taken: caught by version 2 only */
    if (write_ckpt("v2_step.safetensors", 2, s23, "6", path)) return 1;
    CHECK(ckpt_read(&f, path, err) != 0 && strstr(err, "checkpoint is corrupted"), "v2 step flip: %s", err);
    if (write_ckpt("v1.safetensors", 1, s23, NULL, path)) return 1;
    CHECK(ckpt_read(&f, path, err) == 0 && f.is_ckpt && f.version == 1, "v1: %s", err);
    ckpt_file_free(&f);
    if (write_ckpt("v1_step.safetensors", 1, s23, "6", path)) return 1;
    CHECK(ckpt_read(&f, path, err) == 0 && f.meta.step == 6, "v1 metadata is not covered: %s", err);
    ckpt_file_free(&f);
    printf("ok   version 2 covers the metadata; version 1 still read\n");
    return 0;
}

/* a version 2 checksum computed over one shape, the file holding another of the same size */
static int shape_flip(void) {
    char err[IR_ERRLEN], path[512];
    float w[6] = {0};
    int64_t a[2] = {2, 3}, b[2] = {3, 2};
    st_table t;
    st_init(&t);
    uint32_t c = 0;
    char hex[16];
    CHECK(!st_add(&t, "w", ST_F32, 2, a, w, err) && !st_set_meta(&t, "format", CKPT_FORMAT, err) &&
              !st_set_meta(&t, "version", "2", err) && !ckpt_checksum(&t, 2, &c, err),
          "%s", err);
    snprintf(hex, sizeof hex, "%08x", c);
    st_free(&t);
    st_init(&t);
    snprintf(path, sizeof path, "%s/shape.safetensors", tmpdir);
    CHECK(!st_add(&t, "w", ST_F32, 2, b, w, err) && !st_set_meta(&t, "format", CKPT_FORMAT, err) &&
              !st_set_meta(&t, "version", "2", err) && !st_set_meta(&t, CKPT_CHECKSUM_KEY, hex, err) &&
              !st_write(&t, path, err),
          "%s", err);
    st_free(&t);
    ckpt_file f;
    CHECK(ckpt_read(&f, path, err) != 0 && strstr(err, "checkpoint is corrupted"), "shape flip: %s", err);
    printf("ok   version 2 covers the shapes\n");
    return 0;
}

static int plain(void) {
    char err[IR_ERRLEN], path[512];
    uint16_t h[2] = {0x3c00, 0x7e00}; /* f16 1, nan */
    st_table t;
    st_init(&t);
    snprintf(path, sizeof path, "%s/plain.safetensors", tmpdir);
    CHECK(!st_add(&t, "x", ST_F16, 1, (int64_t[]){2}, h, err) && !st_set_meta(&t, "format", "pt", err) &&
              !st_write(&t, path, err),
          "%s", err);
    ckpt_file f;
    CHECK(ckpt_read(&f, path, err) != 0 && strstr(err, "'x' holds NaN (element 1 of 2)"), "f16 nan: %s", err);
    h[1] = 0x3c00;
    st_free(&t);
    st_init(&t);
    CHECK(!st_add(&t, "x", ST_F16, 1, (int64_t[]){2}, h, err) && !st_set_meta(&t, "format", "pt", err) &&
              !st_write(&t, path, err),
          "%s", err);
    CHECK(ckpt_read(&f, path, err) == 0 && !f.is_ckpt, "plain: %s", err);
    ckpt_file_free(&f);
    /* a key of sslc's makes it a checkpoint, which this one fails to be */
    CHECK(!st_set_meta(&t, "plan_crc32", "00000000", err) && !st_write(&t, path, err), "%s", err);
    CHECK(ckpt_read(&f, path, err) != 0 && strstr(err, "checkpoint format version (none)"), "claims: %s", err);
    st_free(&t);
    printf("ok   plain weights files: scanned, accepted without sslc's keys\n");
    return 0;
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_ckpt_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    int fails = scan() + versions() + shape_flip() + plain();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf(fails ? "FAILED\n" : "all checkpoint reader tests passed\n");
    return fails ? 1 : 0;
}
