/* folder:DIR: one sub-folder per class, PNG / JPEG images (see dataset.h). Image headers are
 * checked at open (sizes), pixels decoded on read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dataset_impl.h"
#include "fileio.h"
#include "image.h"

#define IMG_MAX_FILE ((size_t)256 << 20)

typedef struct {
    char **path;
    int32_t *label;
    int64_t n, cap;
    char root[4096];
} folder_impl;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted names of dir's entries, skipping "." ".." and hidden entries; NULL-free list */
static int list_dir(const char *dir, char ***names, int *n, const char *what, char *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ds_fail(err, "%s: %s: %s", what, dir, strerror(errno));
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = realloc(*names, (size_t)cap * sizeof *q);
            if (!q) break;
            *names = q;
        }
        if (!((*names)[*n] = strdup(e->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return 0;
}

static void free_list(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static const char *ext_of(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : "";
}

static int add_file(folder_impl *f, const char *path, int32_t label) {
    if (f->n == f->cap) {
        int64_t cap = f->cap ? 2 * f->cap : 1024;
        char **p = realloc(f->path, (size_t)cap * sizeof *p);
        if (!p) return -1;
        f->path = p;
        int32_t *l = realloc(f->label, (size_t)cap * sizeof *l);
        if (!l) return -1;
        f->label = l;
        f->cap = cap;
    }
    if (!(f->path[f->n] = strdup(path))) return -1;
    f->label[f->n++] = label;
    return 0;
}

/* images under dir (recursively, sorted), labelled `label` */
static int walk(folder_impl *f, const char *dir, int32_t label, int depth, const char *what, char *err) {
    if (depth > 32) return ds_fail(err, "%s: %s: folders nested too deeply", what, dir);
    char **names;
    int n;
    if (list_dir(dir, &names, &n, what, err)) return -1;
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) /* files first, then sub-folders */
        for (int i = 0; i < n && !rc; i++) {
            char path[4096];
            if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
                rc = ds_fail(err, "%s: path too long under %s", what, dir);
                break;
            }
            int isdir = ds_is_dir(path);
            if (pass == 1 && isdir)
                rc = walk(f, path, label, depth + 1, what, err);
            else if (pass == 0 && !isdir) {
                const char *x = ext_of(names[i]);
                if (!strcasecmp(x, "png") || !strcasecmp(x, "jpg") || !strcasecmp(x, "jpeg")) {
                    if (add_file(f, path, label)) rc = ds_fail(err, "%s: out of memory", what);
                } else if (!strcasecmp(x, "bmp") || !strcasecmp(x, "ppm") || !strcasecmp(x, "pgm") || !strcasecmp(x, "tif") ||
                           !strcasecmp(x, "tiff") || !strcasecmp(x, "webp") || !strcasecmp(x, "gif"))
                    rc = ds_fail(err, "%s: %s: only PNG and JPEG images are supported", what, path);
            }
        }
    free_list(names, n);
    return rc;
}

/* size and channels of an image file from its header */
static int probe_file(const char *path, int *w, int *h, int *c, const char *what, char *err) {
    char e2[IR_ERRLEN];
    const char *x = ext_of(path);
    unsigned char head[64];
    if (!strcasecmp(x, "png")) { /* the IHDR chunk is at the start */
        int fd = sslc_open_input(path, e2);
        if (fd < 0) return ds_fail(err, "%s: %s", what, e2);
        ssize_t got = read(fd, head, sizeof head);
        close(fd);
        if (got >= 8 && !memcmp(head, "\x89PNG", 4)) {
            if (img_probe(head, (size_t)got, w, h, c, path, e2)) return ds_fail(err, "%s: %s", what, e2);
            return 0;
        }
    }
    unsigned char *buf;
    size_t len;
    if (sslc_read_file(path, IMG_MAX_FILE, &buf, &len, e2)) return ds_fail(err, "%s: %s", what, e2);
    int rc = img_probe(buf, len, w, h, c, path, e2);
    free(buf);
    return rc ? ds_fail(err, "%s: %s", what, e2) : 0;
}

static int folder_read(const sslc_dataset *ds, int64_t i, uint8_t *chw, int32_t *label, char *err) {
    const folder_impl *f = ds->impl;
    char e2[IR_ERRLEN];
    unsigned char *buf;
    size_t len;
    if (sslc_read_file(f->path[i], IMG_MAX_FILE, &buf, &len, e2)) return ds_fail(err, "%s: %s", ds->info.what, e2);
    uint8_t *pix;
    int w, h, c;
    int rc = img_decode(buf, len, ds->native_c, &pix, &w, &h, &c, f->path[i], e2);
    free(buf);
    if (rc) return ds_fail(err, "%s: %s", ds->info.what, e2);
    if (w != ds->info.w || h != ds->info.h) {
        free(pix);
        return ds_fail(err, "%s: %s is %dx%d, the dataset's images are %dx%d", ds->info.what, f->path[i], w, h, ds->info.w,
                       ds->info.h);
    }
    memcpy(chw, pix, (size_t)c * (size_t)w * (size_t)h);
    free(pix);
    *label = f->label[i];
    return 0;
}

static void folder_close(sslc_dataset *ds) {
    folder_impl *f = ds->impl;
    if (!f) return;
    for (int64_t i = 0; i < f->n; i++) free(f->path[i]);
    free(f->path);
    free(f->label);
    free(f);
    ds->impl = NULL;
}

int ds_open_folder(sslc_dataset *ds, const char *dir, ds_split split, const ds_options *opt, char *err) {
    snprintf(ds->info.what, sizeof ds->info.what, "folder:%.60s %s", dir, ds_split_name(split));
    const char *what = ds->info.what;
    if (ds_check_dir(dir, what, err)) return -1;
    folder_impl *f = calloc(1, sizeof *f);
    if (!f) return ds_fail(err, "%s: out of memory", what);
    ds->impl = f;
    ds->close = folder_close;
    ds->read = folder_read;
    /* splits: DIR/train and DIR/test (or DIR/val) when both exist, else DIR for both */
    char tr[4096], te[4096];
    snprintf(tr, sizeof tr, "%s/train", dir);
    snprintf(te, sizeof te, "%s/test", dir);
    if (!ds_is_dir(te)) snprintf(te, sizeof te, "%s/val", dir);
    int has_tr = ds_is_dir(tr), has_te = ds_is_dir(te);
    if (has_tr && has_te)
        snprintf(f->root, sizeof f->root, "%s", split == DS_TEST ? te : tr);
    else if (has_tr && split == DS_TEST)
        return ds_fail(err, "%s: %s has train/ but no test/ or val/ sub-folder for the test split", what, dir);
    else
        snprintf(f->root, sizeof f->root, "%s", dir);
    char **classes;
    int nc;
    if (list_dir(f->root, &classes, &nc, what, err)) return -1;
    int ncls = 0, rc = 0;
    for (int k = 0; k < nc && !rc; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", f->root, classes[k]);
        if (!ds_is_dir(path)) continue;
        int64_t before = f->n;
        rc = walk(f, path, ncls, 0, what, err);
        if (!rc && f->n == before) rc = ds_fail(err, "%s: class folder %s has no PNG or JPEG images", what, path);
        ncls++;
    }
    free_list(classes, nc);
    if (rc) return -1;
    if (ncls == 0) return ds_fail(err, "%s: %s has no class sub-folders (expected DIR/<class>/<image>.png|jpg)", what, f->root);
    /* sizes from the headers: one size for all */
    int W = opt->width, H = opt->height, C = 0;
    if ((W > 0) != (H > 0)) return ds_fail(err, "%s: give both image height and width, or neither", what);
    for (int64_t i = 0; i < f->n; i++) {
        int w, h, c;
        if (probe_file(f->path[i], &w, &h, &c, what, err)) return -1;
        if (i == 0) {
            C = c;
            if (W == 0) W = w, H = h;
        }
        if (w != W || h != H)
            return ds_fail(err, "%s: %s is %dx%d but the dataset's images are %dx%d (%s); images are not resized, all "
                                "must have one size",
                           what, f->path[i], w, h, W, H, opt->width ? "as requested" : "the size of the first image");
    }
    ds->info.n = f->n;
    ds->info.c = opt->channels ? opt->channels : C;
    ds->info.h = H;
    ds->info.w = W;
    ds->info.num_classes = ncls;
    ds->info.has_labels = 1;
    return 0;
}
