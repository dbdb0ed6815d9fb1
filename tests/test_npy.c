/* The .npy writer (runtime/npy.h): header layout byte by byte, and, where /usr/bin/python3 has
 * numpy, numpy.load of what it wrote (shape, dtype, values). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optest.h"
#include "runtime/npy.h"

static int header_is(npy_dtype dt, int ndim, const int64_t *shape, const char *dict) {
    char buf[256];
    int64_t n = npy_header(dt, ndim, shape, buf, sizeof buf);
    CHECK(n > 0 && n % 64 == 0, "header length %lld", (long long)n);
    CHECK(!memcmp(buf, "\x93NUMPY\x01\x00", 8), "magic and version 1.0");
    CHECK((unsigned char)buf[8] + 256 * (unsigned char)buf[9] == n - 10, "header length field");
    CHECK(!strncmp(buf + 10, dict, strlen(dict)), "dict: %.*s", (int)(n - 10), buf + 10);
    for (int64_t i = 10 + (int64_t)strlen(dict); i < n - 1; i++) CHECK(buf[i] == ' ', "padding");
    CHECK(buf[n - 1] == '\n', "header ends with a newline");
    return 0;
}

int main(void) {
    int64_t s2[2] = {3, 5}, s1[1] = {4}, s0[2] = {0, 7};
    if (header_is(NPY_F32, 2, s2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }") ||
        header_is(NPY_I64, 1, s1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }") ||
        header_is(NPY_F32, 2, s0, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 7), }") ||
        header_is(NPY_F32, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"))
        return 1;
    char small[32];
    CHECK(npy_header(NPY_F32, 2, s2, small, sizeof small) < 0, "a header that does not fit is refused");
    int64_t neg[1] = {-1};
    CHECK(npy_header(NPY_F32, 1, neg, small, sizeof small) < 0, "negative dims refused");

    char dir[] = "/tmp/sslc_npy_XXXXXX", f[64], l[64], e[64], err[IR_ERRLEN];
    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(f, sizeof f, "%s/f.npy", dir);
    snprintf(l, sizeof l, "%s/l.npy", dir);
    snprintf(e, sizeof e, "%s/e.npy", dir);
    float x[15];
    for (int i = 0; i < 15; i++) x[i] = (float)i * 0.25f - 1.0f;
    int64_t y[4] = {-1, 0, 9, 1LL << 40};
    CHECK(npy_write(f, NPY_F32, 2, s2, x, err) == 0, "%s", err);
    CHECK(npy_write(l, NPY_I64, 1, s1, y, err) == 0, "%s", err);
    CHECK(npy_write(e, NPY_F32, 2, s0, NULL, err) == 0, "%s", err);
    FILE *fp = fopen(f, "rb");
    CHECK(fp && !fseek(fp, 0, SEEK_END) && ftell(fp) == 128 + 60, "file size");
    fclose(fp);
    CHECK(npy_write("/nonexistent-dir/x.npy", NPY_F32, 2, s2, x, err) && strstr(err, "/nonexistent-dir/x.npy"),
          "unwritable path: one line naming it");
    int checked = 0;
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import numpy as np; f=np.load('%s'); l=np.load('%s'); e=np.load('%s');"
                 "assert f.dtype==np.float32 and f.shape==(3,5) and f.flags.c_contiguous and "
                 "(f.ravel()==np.arange(15,dtype=np.float32)*0.25-1).all();"
                 "assert l.dtype==np.int64 and l.shape==(4,) and l.tolist()==[-1,0,9,1<<40];"
                 "assert e.dtype==np.float32 and e.shape==(0,7)\"",
                 f, l, e);
        CHECK(system(cmd) == 0, "numpy.load of the written files");
        checked = 1;
    }
    unlink(f), unlink(l), unlink(e), rmdir(dir);
    printf("ok   npy headers (2-D, 1-D, empty, scalar) and files%s\n1 passed, 0 failed\n",
           checked ? ", read back by numpy" : " (numpy not found: not read back)");
    return 0;
}
