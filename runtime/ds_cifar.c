/* cifar10:DIR: the binary batches (records of 1 label byte + 3072 CHW pixel bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_impl.h"
#include "fileio.h"

#define CIFAR_REC 3073
#define CIFAR_MAX_FILE ((size_t)1 << 30)

int ds_open_cifar10(sslc_dataset *ds, const char *dir, ds_split split, char *err) {
    snprintf(ds->info.what, sizeof ds->info.what, "cifar10 %s", ds_split_name(split));
    const char *what = ds->info.what;
    if (ds_check_dir(dir, what, err)) return -1;
    char base[4096];
    snprintf(base, sizeof base, "%s/cifar-10-batches-bin", dir);
    if (!ds_is_dir(base)) snprintf(base, sizeof base, "%s", dir);
    static const char *train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                  "data_batch_5.bin"};
    static const char *test[] = {"test_batch.bin"};
    const char **files = split == DS_TEST ? test : train;
    int nf = split == DS_TEST ? 1 : 5;
    unsigned char *buf[5] = {0};
    size_t len[5] = {0}, total = 0;
    int rc = 0;
    for (int k = 0; k < nf && !rc; k++) {
        char path[4200], e2[IR_ERRLEN];
        snprintf(path, sizeof path, "%s/%s", base, files[k]);
        if (sslc_read_file(path, CIFAR_MAX_FILE, &buf[k], &len[k], e2)) {
            rc = ds_fail(err, "%s: %s", what, e2);
            break;
        }
        if (len[k] == 0 || len[k] % CIFAR_REC)
            rc = ds_fail(err, "%s: %s has %zu bytes, not a whole number of %d-byte records (truncated, or not "
                              "CIFAR-10's binary version)", what, path, len[k], CIFAR_REC);
        for (size_t r = 0; r < len[k] / CIFAR_REC && !rc; r++)
            if (buf[k][r * CIFAR_REC] > 9)
                rc = ds_fail(err, "%s: %s: record %zu has label %u, not a class 0..9 (is this CIFAR-100?)", what, path, r,
                             buf[k][r * CIFAR_REC]);
        total += len[k] / CIFAR_REC;
    }
    if (!rc) {
        ds->mem = malloc(total * 3072);
        ds->labels = malloc(total * sizeof *ds->labels);
        if (!ds->mem || !ds->labels) rc = ds_fail(err, "%s: out of memory", what);
    }
    size_t i = 0;
    for (int k = 0; k < nf && !rc; k++)
        for (size_t r = 0; r < len[k] / CIFAR_REC; r++, i++) {
            ds->labels[i] = buf[k][r * CIFAR_REC];
            memcpy(ds->mem + i * 3072, buf[k] + r * CIFAR_REC + 1, 3072);
        }
    for (int k = 0; k < nf; k++) free(buf[k]);
    if (rc) return -1;
    ds->info.n = (int64_t)total;
    ds->info.c = 3;
    ds->info.h = ds->info.w = 32;
    ds->info.num_classes = 10;
    ds->info.has_labels = 1;
    /* batches.meta.txt of the binary version, in label order */
    static const char *const names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
    ds->fixed_class_names = names;
    return 0;
}
