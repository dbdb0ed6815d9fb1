/* Fuzz entry point: the CIFAR-10 batch reader (runtime/ds_cifar.c through ds_open "cifar10:DIR").
 * It only reads files, so the input becomes DIR/test_batch.bin in the scratch directory (tmpfs).
 * An accepted batch must read back its first and last samples. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "ir/ir.h"
#include "runtime/dataset.h"

int FUZZ_ENTRY(cifar)(const uint8_t *data, size_t size) {
    char err[IR_ERRLEN] = "", spec[300];
    fuzz_write("test_batch.bin", data, size);
    snprintf(spec, sizeof spec, "cifar10:%s", fuzz_scratch());
    sslc_dataset *ds = NULL;
    if (ds_open(&ds, spec, DS_TEST, NULL, err)) {
        fuzz_check_err("cifar", err);
        return 0;
    }
    fuzz_accepted++;
    const ds_info *in = ds_get_info(ds);
    if (in->n != (int64_t)(size / 3073) || in->c != 3 || in->h != 32 || in->w != 32)
        fuzz_fail("cifar: %zu bytes accepted as %lld samples of %dx%dx%d", size, (long long)in->n, in->c, in->h, in->w);
    uint8_t img[3 * 32 * 32];
    int32_t label;
    for (int64_t i = 0; i < in->n; i += in->n - 1 > 0 ? in->n - 1 : 1)
        if (ds_read(ds, i, img, DS_HWC, &label, err) || label < 0 || label > 9)
            fuzz_fail("cifar: sample %lld of an accepted batch: %s (label %d)", (long long)i, err, label);
    ds_close(ds);
    return 0;
}
