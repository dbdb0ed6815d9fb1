/* Fuzz entry point: the IDX reader (runtime/ds_idx.c through ds_open "fashion-mnist:DIR"), which
 * needs two files. Input layout: u32 little-endian length K, K bytes of
 * t10k-images-idx3-ubyte, the rest t10k-labels-idx1-ubyte (each plain or gzip, as the reader
 * detects it by content). Written to the scratch directory (tmpfs). An accepted pair must read
 * back its first and last samples with labels 0..9. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "ir/ir.h"
#include "runtime/dataset.h"

int FUZZ_ENTRY(idx)(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t k = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (k > size - 4) k = size - 4;
    fuzz_write("t10k-images-idx3-ubyte", data + 4, k);
    fuzz_write("t10k-labels-idx1-ubyte", data + 4 + k, size - 4 - k);
    char err[IR_ERRLEN] = "", spec[300];
    snprintf(spec, sizeof spec, "fashion-mnist:%s", fuzz_scratch());
    sslc_dataset *ds = NULL;
    if (ds_open(&ds, spec, DS_TEST, NULL, err)) {
        fuzz_check_err("idx", err);
        return 0;
    }
    fuzz_accepted++;
    const ds_info *in = ds_get_info(ds);
    if (in->n < 1 || in->c != 1 || in->h < 1 || in->w < 1 || (int64_t)in->h * in->w > 65536 * 65536LL)
        fuzz_fail("idx: accepted as %lld samples of %dx%dx%d", (long long)in->n, in->c, in->h, in->w);
    uint8_t *img = malloc((size_t)in->h * (size_t)in->w);
    if (!img) return 0;
    int32_t label;
    for (int64_t i = 0; i < in->n; i += in->n - 1 > 0 ? in->n - 1 : 1)
        if (ds_read(ds, i, img, DS_CHW, &label, err) || label < 0 || label > 9)
            fuzz_fail("idx: sample %lld of an accepted pair: %s (label %d)", (long long)i, err, label);
    free(img);
    ds_close(ds);
    return 0;
}
