/* safetensors files (the format of Hugging Face's `safetensors` library): checkpoints, parameter
 * and input dumps. Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value", ...}} padded with spaces to a multiple of 8, then the data
 * (offsets relative to its start, row-major, little-endian).
 *
 * Writes are atomic and lay tensors out as the Python library does (larger dtypes first, then
 * by name, so every tensor is aligned to its element size). Reads validate strictly and refuse
 * anything malformed with one line in err (IR_ERRLEN bytes), never a crash. */
#ifndef SSLC_SAFETENSORS_H
#define SSLC_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER 100000000ull /* as the Python library */

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32, ST_F32, ST_I64, ST_U64, ST_F64,
    ST__COUNT
} st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    void *data;    /* nbytes bytes; owned unless borrowed */
    size_t nbytes; /* numel * element size */
    int borrowed;
} st_tensor;

typedef struct {
    st_tensor *t;
    int n, cap;
    char **meta_keys, **meta_vals; /* __metadata__ string pairs (owned) */
    int nmeta, cap_meta;
} st_table;

const char *st_dtype_name(st_dtype t); /* "F32", ...; "?" if invalid */
size_t st_dtype_size(st_dtype t);      /* 0 if invalid */
int st_dtype_parse(const char *s, st_dtype *out);  /* 0 or -1 */
int st_dtype_from_ir(ir_dtype t, st_dtype *out);   /* 0 or -1 */
int st_dtype_to_ir(st_dtype t, ir_dtype *out);     /* 0 or -1 (no IR dtype: I8, I16, U16, U32, U64) */

void st_init(st_table *t);
void st_free(st_table *t); /* frees owned data; t can be st_init'ed again */

/* Adds a tensor, copying `data` (numel * element size bytes). -1 with err on a duplicate or
 * invalid name (empty, "__metadata__", not UTF-8), a bad shape or out of memory. */
int st_add(st_table *t, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data, char *err);
/* Same, but references `data`, which must outlive every use of the table. */
int st_add_borrowed(st_table *t, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data,
                    char *err);
/* Adds or replaces a __metadata__ pair (strings must be UTF-8). */
int st_set_meta(st_table *t, const char *key, const char *val, char *err);

const st_tensor *st_find(const st_table *t, const char *name); /* NULL if absent */
const char *st_get_meta(const st_table *t, const char *key);   /* NULL if absent */
int64_t st_numel(const st_tensor *x);

/* Serializes into one malloc'd buffer (for tests and small files). */
int st_encode(const st_table *t, unsigned char **buf, size_t *len, char *err);
/* Parses a whole file image into t (initialized by the call; on failure left empty). `what`
 * names it in messages. */
int st_decode(st_table *t, const unsigned char *buf, size_t len, const char *what, char *err);

int st_write(const st_table *t, const char *path, char *err);
/* Reads the file into t (initialized by the call; on failure left empty). */
int st_read(st_table *t, const char *path, char *err);

#endif
