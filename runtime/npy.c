#include "npy.h"

#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "ir/ir.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NPY_ORDER ">"
#else
#define NPY_ORDER "<"
#endif

int64_t npy_header(npy_dtype dt, int ndim, const int64_t *shape, char *buf, size_t n) {
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s%s', 'fortran_order': False, 'shape': (", NPY_ORDER,
                     dt == NPY_F32 ? "f4" : "i8");
    if (ndim < 0 || ndim > NPY_MAX_DIMS) return -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        /* a 1-tuple needs its comma: (N,) */
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld%s", (long long)shape[i],
                      ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
    }
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    /* magic (6) + version (2) + header length (2) + dict + padding + '\n', a multiple of 64 so
     * that the data is aligned as numpy writes it */
    size_t total = (10 + (size_t)k + 1 + 63) / 64 * 64;
    if (total > n || total - 10 > 65535) return -1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hlen = total - 10;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)k);
    memset(buf + 10 + k, ' ', total - 11 - (size_t)k);
    buf[total - 1] = '\n';
    return (int64_t)total;
}

int npy_write(const char *path, npy_dtype dt, int ndim, const int64_t *shape, const void *data, char *err) {
    char head[1024];
    int64_t hl = npy_header(dt, ndim, shape, head, sizeof head);
    if (hl < 0) {
        snprintf(err, IR_ERRLEN, "%s: cannot describe a %d-dimensional array in an .npy header", path, ndim);
        return -1;
    }
    size_t bytes = dt == NPY_F32 ? 4 : 8;
    for (int i = 0; i < ndim; i++) bytes *= (size_t)shape[i];
    const void *parts[2] = {head, data};
    size_t lens[2] = {(size_t)hl, bytes};
    return sslc_write_atomic(path, parts, lens, bytes ? 2 : 1, err);
}
