/* NumPy .npy files (format version 1.0), as numpy.load reads them: the magic, a header dict
 * {'descr': '<f4', 'fortran_order': False, 'shape': (N, F), } padded with spaces to a multiple
 * of 64 bytes and ended by '\n', then the C-order data. The byte-order mark is the host's
 * ('<' on x86 and ARM), so the data is written as it lies in memory. */
#ifndef SSLC_NPY_H
#define SSLC_NPY_H
#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

typedef enum { NPY_F32, NPY_I64 } npy_dtype;

/* The header of an array of `ndim` dims (0: a scalar) into buf (at most n bytes); returns its
 * length (a multiple of 64), or -1 when it does not fit or a dimension is negative. */
int64_t npy_header(npy_dtype dt, int ndim, const int64_t *shape, char *buf, size_t n);

/* Writes the array atomically (runtime/fileio.h): readers see the old file or the whole new
 * one. Returns 0, or -1 with one line in err (IR_ERRLEN bytes). */
int npy_write(const char *path, npy_dtype dt, int ndim, const int64_t *shape, const void *data, char *err);

#endif
