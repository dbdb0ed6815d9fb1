/* The C API end to end: compile, open on both devices, feed views, step, read the loss and a
 * parameter; errors come back as one line. */
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "sslc.h"
#include <unistd.h>

int main(void) {
    char err[256], path[] = "/tmp/sslc_capi_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    const char *argv[] = {"simclr", "--backbone", "convnet", "--width", "0.25", "--image-size", "16", "--batch", "4",
                          "--augment", "none"};
    CHECK(sslc_compile(11, argv, path, err, sizeof err) == 0, "%s", err);
    const char *bad[] = {"simclr", "--set", "tau=1"};
    CHECK(sslc_compile(3, bad, path, err, sizeof err) != 0 && strstr(err, "no option 'tau'"), "bad option: %s", err);
    float losses[2][3];
    for (int d = 0; d < 2; d++) {
        sslc_session *s = sslc_open(path, d ? "ref" : "cpu", err, sizeof err);
        CHECK(s, "%s", err);
        int64_t n = sslc_numel(s, "views.0");
        CHECK(n == 4 * 3 * 16 * 16, "views.0 has %lld elements", (long long)n);
        float *x = malloc((size_t)n * sizeof(float));
        for (int step = 1; step <= 3; step++) {
            test_fill_uniform(x, n, -1, 1, (uint64_t)step);
            CHECK(sslc_set(s, "views.0", x, n, err, sizeof err) == 0, "%s", err);
            test_fill_uniform(x, n, -1, 1, 100 + (uint64_t)step);
            CHECK(sslc_set(s, "views.1", x, n, err, sizeof err) == 0, "%s", err);
            CHECK(sslc_step(s, step, &losses[d][step - 1], err, sizeof err) == 0, "%s", err);
        }
        CHECK(sslc_set(s, "views.0", x, 3, err, sizeof err) != 0 && strstr(err, "not 3"), "size check: %s", err);
        CHECK(sslc_get(s, "nope", x, 1, err, sizeof err) != 0 && strstr(err, "no value 'nope'"), "lookup: %s", err);
        free(x);
        sslc_close(s);
    }
    for (int i = 0; i < 3; i++)
        CHECK(fabs(losses[0][i] - losses[1][i]) <= 1e-5 * fabs(losses[1][i]), "step %d: cpu %g ref %g", i + 1,
              losses[0][i], losses[1][i]);
    /* with augmentation (the default): u8 images in, aug.* drawn per step; both devices agree */
    CHECK(sslc_compile(9, argv, path, err, sizeof err) == 0, "%s", err);
    float al[2][2];
    for (int d = 0; d < 2; d++) {
        sslc_session *s = sslc_open(path, d ? "ref" : "cpu", err, sizeof err);
        CHECK(s, "%s", err);
        int64_t n = sslc_numel(s, "images");
        CHECK(n == 4 * 3 * 16 * 16, "images has %lld elements", (long long)n);
        uint8_t *im = malloc((size_t)n);
        for (int64_t i = 0; i < n; i++) im[i] = (uint8_t)(i * 29 + i / 7);
        CHECK(sslc_set_u8(s, "images", im, n, err, sizeof err) == 0, "%s", err);
        CHECK(sslc_set_u8(s, "images", im, 5, err, sizeof err) != 0 && strstr(err, "uint8"), "u8 size check: %s", err);
        free(im);
        for (int step = 1; step <= 2; step++) CHECK(sslc_step(s, step, &al[d][step - 1], err, sizeof err) == 0, "%s", err);
        sslc_close(s);
    }
    for (int i = 0; i < 2; i++)
        CHECK(isfinite(al[0][i]) && fabs(al[0][i] - al[1][i]) <= 1e-5 * fabs(al[1][i]), "augmented step %d: cpu %g ref %g",
              i + 1, al[0][i], al[1][i]);
    CHECK(sslc_open("/nonexistent.plan", "cpu", err, sizeof err) == NULL && err[0], "missing plan accepted");
    unlink(path);
    printf("ok   C API: compile, open (cpu, ref), step x3, losses agree (%.5f %.5f %.5f)\n1 passed, 0 failed\n",
           losses[0][0], losses[0][1], losses[0][2]);
    return 0;
}
