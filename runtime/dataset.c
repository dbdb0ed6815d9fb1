/* Dataset specs, channel conversion and layouts (see dataset.h); formats live in ds_*.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_impl.h"

int ds_fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IR_ERRLEN, fmt, ap);
    va_end(ap);
    return -1;
}

int ds_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ds_check_dir(const char *dir, const char *what, char *err) {
    struct stat st;
    if (stat(dir, &st) != 0) return ds_fail(err, "%s: %s: %s", what, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return ds_fail(err, "%s: %s is not a directory", what, dir);
    return 0;
}

const char *ds_split_name(ds_split s) { return s == DS_TEST ? "test" : "train"; }

const ds_info *ds_get_info(const sslc_dataset *ds) { return &ds->info; }

const char *ds_path(const sslc_dataset *ds, int64_t i) {
    return ds->paths && i >= 0 && i < ds->info.n ? ds->paths[i] : NULL;
}

const char *ds_class_name(const sslc_dataset *ds, int k) {
    if (ds->fixed_class_names) return k >= 0 && k < ds->info.num_classes ? ds->fixed_class_names[k] : NULL;
    return ds->class_names && k >= 0 && k < ds->nclass_names ? ds->class_names[k] : NULL;
}

void ds_close(sslc_dataset *ds) {
    if (!ds) return;
    if (ds->close) ds->close(ds);
    if (ds->paths)
        for (int64_t i = 0; i < ds->info.n; i++) free(ds->paths[i]);
    free(ds->paths);
    for (int k = 0; k < ds->nclass_names; k++) free(ds->class_names[k]);
    free(ds->class_names);
    free(ds->mem);
    free(ds->labels);
    free(ds);
}

int ds_open(sslc_dataset **out, const char *spec, ds_split split, const ds_options *opt, char *err) {
    static const ds_options none = {0};
    *out = NULL;
    if (!opt) opt = &none;
    if (opt->channels != 0 && opt->channels != 1 && opt->channels != 3)
        return ds_fail(err, "dataset channels must be 1 or 3, got %d", opt->channels);
    sslc_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return ds_fail(err, "out of memory");
    const char *colon = strchr(spec, ':');
    size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
    int rc;
#define IS(k) (kl == strlen(k) && !strncmp(spec, k, kl))
    if (IS("fashion-mnist"))
        rc = ds_open_idx(ds, arg && *arg ? arg : DS_DEFAULT_FMNIST_DIR, split, err);
    else if (IS("cifar10")) {
        rc = (!arg || !*arg) ? ds_fail(err, "cifar10 needs a directory: cifar10:DIR (the binary version's batches)")
                             : ds_open_cifar10(ds, arg, split, err);
    } else if (IS("folder")) {
        rc = (!arg || !*arg) ? ds_fail(err, "folder needs a directory: folder:DIR (images, or one sub-folder of images per class)")
                             : ds_open_folder(ds, arg, split, opt, err);
    } else if (IS("fake")) {
        rc = (!arg || !*arg) ? ds_fail(err, "fake needs a sample count: fake:N[:CxHxW]") : ds_open_fake(ds, arg, split, opt, err);
    } else
        rc = ds_fail(err, "unknown dataset '%.*s' (choose one of: fashion-mnist[:DIR], cifar10:DIR, folder:DIR, fake:N)",
                     (int)(kl > 64 ? 64 : kl), spec);
#undef IS
    if (rc) {
        ds_close(ds);
        return -1;
    }
    ds->native_c = ds->info.c;
    if (opt->channels) ds->info.c = opt->channels;
    *out = ds;
    return 0;
}

/* native CHW (nc channels) -> out (oc channels) in layout */
static void convert(const uint8_t *src, int nc, uint8_t *dst, int oc, int64_t hw, ds_layout layout) {
    for (int64_t p = 0; p < hw; p++) {
        uint8_t v[3];
        if (nc == oc)
            for (int k = 0; k < oc; k++) v[k] = src[k * hw + p];
        else if (oc == 3) /* gray -> RGB */
            v[0] = v[1] = v[2] = src[p];
        else /* RGB -> L */
            v[0] = ds_luma(src[p], src[hw + p], src[2 * hw + p]);
        for (int k = 0; k < oc; k++) {
            if (layout == DS_HWC)
                dst[p * oc + k] = v[k];
            else
                dst[k * hw + p] = v[k];
        }
    }
}

int ds_read(const sslc_dataset *ds, int64_t i, uint8_t *img, ds_layout layout, int32_t *label, char *err) {
    const ds_info *in = &ds->info;
    if (i < 0 || i >= in->n)
        return ds_fail(err, "%s: sample %lld out of range (%lld samples)", in->what, (long long)i, (long long)in->n);
    int64_t hw = (int64_t)in->h * in->w;
    int32_t lab = -1;
    if (ds->mem) {
        const uint8_t *src = ds->mem + i * ds->native_c * hw;
        if (ds->native_c == in->c && (layout == DS_CHW || in->c == 1))
            memcpy(img, src, (size_t)(in->c * hw));
        else
            convert(src, ds->native_c, img, in->c, hw, layout);
        if (ds->labels) lab = ds->labels[i];
    } else if (!ds->read) {
        return ds_fail(err, "%s: internal: opened for its shape only, no pixels to read", in->what);
    } else {
        int same = ds->native_c == in->c && (layout == DS_CHW || in->c == 1);
        uint8_t *tmp = same ? img : malloc((size_t)(ds->native_c * hw));
        if (!tmp) return ds_fail(err, "%s: out of memory", in->what);
        int rc = ds->read(ds, i, tmp, &lab, err);
        if (!rc && !same) convert(tmp, ds->native_c, img, in->c, hw, layout);
        if (!same) free(tmp);
        if (rc) return -1;
    }
    if (label) *label = in->has_labels ? lab : -1;
    return 0;
}
