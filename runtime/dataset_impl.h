/* What a dataset format (runtime/ds_*.c) implements: fill info (native channels in info.c),
 * and either load everything into mem/labels (CHW per sample) or provide a read function. */
#ifndef SSLC_DATASET_IMPL_H
#define SSLC_DATASET_IMPL_H
#include <stddef.h>

#include "dataset.h"
#include "ir/ir.h" /* IR_ERRLEN */

struct sslc_dataset {
    ds_info info;      /* c = native channels until ds_open applies the requested conversion */
    int native_c;
    uint8_t *mem;      /* in-memory images, n * native_c * h * w, CHW per sample (or NULL) */
    int32_t *labels;   /* n labels (or NULL) */
    /* on-demand formats: native-channel CHW image of sample i */
    int (*read)(const sslc_dataset *ds, int64_t i, uint8_t *chw, int32_t *label, char *err);
    void (*close)(sslc_dataset *ds);
    char **paths;       /* info.n image paths, in sample order (folder:; else NULL); freed by ds_close */
    char **class_names; /* nclass_names, in label order (or NULL); freed by ds_close */
    int nclass_names;
    const char *const *fixed_class_names; /* info.num_classes static names of a known dataset (or NULL) */
    void *impl;
};

/* formats: each fills *ds (zeroed by the caller) or returns -1 with err */
int ds_open_idx(sslc_dataset *ds, const char *dir, ds_split split, char *err);
int ds_open_cifar10(sslc_dataset *ds, const char *dir, ds_split split, char *err);
int ds_open_folder(sslc_dataset *ds, const char *dir, ds_split split, const ds_options *opt, char *err);
int ds_open_fake(sslc_dataset *ds, const char *arg, ds_split split, const ds_options *opt, char *err);

/* helpers */
int ds_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* returns -1 */
int ds_is_dir(const char *path);
/* 0 ok, -1 with err (what: the dataset spec for messages) */
int ds_check_dir(const char *dir, const char *what, char *err);

#endif
