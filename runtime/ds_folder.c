/* folder:DIR: PNG / JPEG images of any sizes, flat, nested or in class sub-folders (see
 * dataset.h). Everything is decoded, resized and center-cropped once at open into the dataset's
 * u8 store, by a few threads; reads are then copies. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dataset_impl.h"
#include "fileio.h"
#include "image.h"
#include "image_resize.h"
#include "memlimit.h"

#define IMG_MAX_FILE ((size_t)256 << 20)
#define DECODE_MAX_THREADS 8

typedef struct {
    char **path;
    int32_t *label;
    int64_t n, cap;
} file_list;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted names of dir's entries, skipping "." ".." and hidden entries */
static int list_dir(const char *dir, char ***names, int *n, const char *what, char *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ds_fail(err, "%s: %s: %s", what, dir, strerror(errno));
    int cap = 0, oom = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = realloc(*names, (size_t)cap * sizeof *q);
            if (!q) {
                oom = 1;
                break;
            }
            *names = q;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            oom = 1;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (oom) return ds_fail(err, "%s: out of memory listing %s", what, dir);
    if (*n) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return 0;
}

static void free_names(char **names, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static const char *ext_of(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : "";
}

static int is_image_name(const char *name) {
    const char *x = ext_of(name);
    return !strcasecmp(x, "png") || !strcasecmp(x, "jpg") || !strcasecmp(x, "jpeg");
}

static int is_other_image_name(const char *name) {
    static const char *other[] = {"bmp", "ppm", "pgm", "tif", "tiff", "webp", "gif", "heic", "avif", NULL};
    const char *x = ext_of(name);
    for (int i = 0; other[i]; i++)
        if (!strcasecmp(x, other[i])) return 1;
    return 0;
}

static int add_file(file_list *f, const char *path, int32_t label) {
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

/* images under dir (recursively; files first, then sub-folders, each sorted), labelled `label` */
static int walk(file_list *f, const char *dir, int32_t label, int depth, const char *what, char *err) {
    if (depth > 32) return ds_fail(err, "%s: %s: folders nested too deeply", what, dir);
    char **names;
    int n;
    if (list_dir(dir, &names, &n, what, err)) return -1;
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++)
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
                if (is_image_name(names[i])) {
                    if (add_file(f, path, label)) rc = ds_fail(err, "%s: out of memory", what);
                } else if (is_other_image_name(names[i]))
                    rc = ds_fail(err, "%s: %s: only PNG and JPEG images are supported", what, path);
            }
        }
    free_names(names, n);
    return rc;
}

/* The images under root: labelled by class sub-folder when root holds only folders, else
 * unlabelled (every image found, at any depth). */
static int discover(file_list *f, const char *root, char ***classes, int *nclasses, const char *what, char *err) {
    *classes = NULL;
    *nclasses = 0;
    char **names;
    int n;
    if (list_dir(root, &names, &n, what, err)) return -1;
    int top_images = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        if (!ds_is_dir(path) && is_image_name(names[i])) top_images++;
    }
    if (top_images) { /* flat (or flat and nested): no labels */
        free_names(names, n);
        return walk(f, root, -1, 0, what, err);
    }
    char **cls = calloc((size_t)n + 1, sizeof *cls);
    if (!cls) rc = ds_fail(err, "%s: out of memory", what);
    int nc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        if (!ds_is_dir(path)) {
            if (is_other_image_name(names[i])) rc = ds_fail(err, "%s: %s: only PNG and JPEG images are supported", what, path);
            continue;
        }
        int64_t before = f->n;
        rc = walk(f, path, nc, 0, what, err);
        if (!rc && f->n == before)
            rc = ds_fail(err, "%s: class folder %s has no PNG or JPEG images (remove it, or put the images in it)", what,
                         path);
        if (!rc && !(cls[nc++] = strdup(names[i]))) rc = ds_fail(err, "%s: out of memory", what);
    }
    free_names(names, n);
    if (rc) {
        free_names(cls, nc);
        return -1;
    }
    *classes = cls;
    *nclasses = nc;
    return 0;
}

/* FNV-1a: the fixed hash that picks the held-out images */
static uint64_t path_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

typedef struct {
    uint64_t h;
    int64_t i;
} hashed;

static int cmp_hashed(const void *a, const void *b) {
    const hashed *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Keeps the images of one side of the held-out split (FOLDER_HELD_OUT_PERCENT of them, at least
 * one, those whose path relative to root hashes lowest), in their sorted order. */
static int carve(file_list *f, const char *root, ds_split split, int64_t *held, const char *what, char *err) {
    if (f->n < 2)
        return ds_fail(err, "%s: %lld image%s: evaluation needs at least 2 (one is held out for the test split; or give "
                            "DIR/train and DIR/test)",
                       what, (long long)f->n, f->n == 1 ? "" : "s");
    int64_t k = (f->n * FOLDER_HELD_OUT_PERCENT + 50) / 100;
    if (k < 1) k = 1;
    hashed *hs = malloc((size_t)f->n * sizeof *hs);
    char *test = calloc((size_t)f->n, 1);
    if (!hs || !test) {
        free(hs), free(test);
        return ds_fail(err, "%s: out of memory", what);
    }
    size_t rl = strlen(root);
    for (int64_t i = 0; i < f->n; i++) hs[i] = (hashed){path_hash(f->path[i] + rl), i};
    qsort(hs, (size_t)f->n, sizeof *hs, cmp_hashed);
    for (int64_t j = 0; j < k; j++) test[hs[j].i] = 1;
    int64_t m = 0;
    for (int64_t i = 0; i < f->n; i++) {
        if (test[i] == (split == DS_TEST)) {
            f->path[m] = f->path[i];
            f->label[m++] = f->label[i];
        } else
            free(f->path[i]);
    }
    *held = k;
    f->n = m;
    free(hs), free(test);
    return 0;
}

/* size and channels of an image file from its header: the first 64 KiB hold it unless a large
 * metadata block (an EXIF thumbnail) comes first; then the whole file is read */
static int probe_file(const char *path, int *w, int *h, int *c, const char *what, char *err) {
    char e2[IR_ERRLEN];
    enum { HEAD = 64 << 10 };
    unsigned char *head = malloc(HEAD);
    if (!head) return ds_fail(err, "%s: out of memory", what);
    int fd = sslc_open_input(path, e2);
    if (fd < 0) {
        free(head);
        return ds_fail(err, "%s: %s", what, e2);
    }
    ssize_t got = 0, r;
    while (got < HEAD && (r = read(fd, head + got, (size_t)(HEAD - got))) > 0) got += r;
    close(fd);
    if (got <= 0) {
        free(head);
        return ds_fail(err, "%s: %s: empty or unreadable file", what, path);
    }
    int rc = img_probe(head, (size_t)got, w, h, c, path, e2);
    free(head);
    if (!rc) return 0;
    if (got < HEAD) return ds_fail(err, "%s: %s", what, e2); /* that was the whole file */
    unsigned char *buf;
    size_t len;
    if (sslc_read_file(path, IMG_MAX_FILE, &buf, &len, e2)) return ds_fail(err, "%s: %s", what, e2);
    rc = img_probe(buf, len, w, h, c, path, e2);
    free(buf);
    return rc ? ds_fail(err, "%s: %s", what, e2) : 0;
}

/* ---- decoding into the store, by a few threads ---- */

typedef struct {
    const file_list *f;
    const char *what;
    uint8_t *store;
    int want_c;     /* 1: decode to gray (PIL's L); 0: the image's own, gray replicated to 3 */
    int sc, H, W;   /* store channels and size */
    int quiet;
    pthread_mutex_t mu;
    int64_t next, done;
    int any_color;
    int64_t fail_at; /* the lowest failing index (n: none) */
    char err[IR_ERRLEN];
    double t0, last;
    int printed;
} decode_job;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int decode_one(decode_job *j, int64_t i, int *color, char *err) {
    const char *path = j->f->path[i];
    char e2[IR_ERRLEN];
    unsigned char *buf;
    size_t len;
    if (sslc_read_file(path, IMG_MAX_FILE, &buf, &len, e2)) return ds_fail(err, "%s: %s", j->what, e2);
    uint8_t *pix;
    int w, h, fw, fh, c;
    int rc = img_decode_reduced(buf, len, j->want_c, j->H, j->W, &pix, &w, &h, &fw, &fh, &c, path, e2);
    free(buf);
    if (rc) return ds_fail(err, "%s: %s", j->what, e2);
    uint8_t *dst = j->store + (size_t)i * j->sc * j->H * j->W;
    if (img_resize_crop(pix, c, h, w, fh, fw, dst, j->H, j->W)) {
        free(pix);
        return ds_fail(err, "%s: out of memory resizing %s", j->what, path);
    }
    free(pix);
    size_t hw = (size_t)j->H * j->W;
    for (int k = c; k < j->sc; k++) memcpy(dst + k * hw, dst, hw); /* gray -> RGB */
    *color = c == 3;
    return 0;
}

static void decode_progress(decode_job *j, int final) {
    if (j->quiet) return;
    double t = now();
    int tty = isatty(2);
    /* a line only for a folder that takes more than 2 s */
    if (!final && (t - j->t0 < 2.0 || t - j->last < (tty ? 0.5 : 10.0))) return;
    if (final && t - j->t0 < 2.0 && !j->printed) return;
    j->last = t;
    j->printed = 1;
    double mib = (double)j->f->n * j->sc * j->H * j->W / (1024.0 * 1024.0);
    fprintf(stderr, "%s%s: decoded %lld/%lld images to %dx%dx%d (%.1f MiB in memory), %.0f img/s%s", tty ? "\r" : "",
            j->what, (long long)j->done, (long long)j->f->n, j->sc, j->H, j->W, mib, (double)j->done / (t - j->t0 + 1e-9),
            tty && !final ? "" : "\n");
    fflush(stderr);
}

static void *decode_worker(void *arg) {
    decode_job *j = arg;
    char err[IR_ERRLEN];
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int64_t i = j->fail_at < j->f->n ? j->f->n : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->f->n) break;
        int color = 0;
        int rc = decode_one(j, i, &color, err);
        pthread_mutex_lock(&j->mu);
        if (rc && i < j->fail_at) {
            j->fail_at = i;
            memcpy(j->err, err, sizeof err);
        }
        j->any_color |= color;
        j->done++;
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

static int decode_all(decode_job *j, char *err) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = cpus < 1 ? 1 : cpus > DECODE_MAX_THREADS ? DECODE_MAX_THREADS : (int)cpus;
    if (j->f->n < 64) nt = 1;
    pthread_t th[DECODE_MAX_THREADS];
    int started = 0;
    j->t0 = j->last = now();
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[t], NULL, decode_worker, j)) break;
        started++;
    }
    /* this thread decodes too, and reports the progress */
    char e[IR_ERRLEN];
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int64_t i = j->fail_at < j->f->n ? j->f->n : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->f->n) break;
        int color = 0, rc = decode_one(j, i, &color, e);
        pthread_mutex_lock(&j->mu);
        if (rc && i < j->fail_at) {
            j->fail_at = i;
            memcpy(j->err, e, sizeof e);
        }
        j->any_color |= color;
        j->done++;
        decode_progress(j, 0); /* under the lock: it reads done */
        pthread_mutex_unlock(&j->mu);
    }
    for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    if (j->fail_at < j->f->n) {
        memcpy(err, j->err, IR_ERRLEN);
        return -1;
    }
    decode_progress(j, 1);
    return 0;
}

/* ---- open ---- */

static void list_free(file_list *f) {
    free_names(f->path, f->n);
    free(f->label);
    memset(f, 0, sizeof *f);
}

/* keeps the samples opt->select picks, in order, and frees the other paths */
static int select_files(file_list *f, const ds_options *opt, const char *what, char *err) {
    int64_t *idx = malloc((size_t)f->n * sizeof *idx);
    if (!idx) return ds_fail(err, "%s: out of memory", what);
    int64_t k = opt->select(f->n, idx, opt->select_ctx), j = 0;
    for (int64_t i = 0; i < f->n; i++)
        if (j < k && idx[j] == i) {
            f->path[j] = f->path[i];
            if (f->label) f->label[j] = f->label[i];
            j++;
        } else
            free(f->path[i]);
    int64_t n = f->n;
    f->n = j;
    free(idx);
    if (k < 1 || j != k) return ds_fail(err, "%s: the selection of %lld of %lld images is not increasing indices", what,
                                        (long long)k, (long long)n);
    return 0;
}

int ds_open_folder(sslc_dataset *ds, const char *dir, ds_split split, const ds_options *opt, char *err) {
    snprintf(ds->info.what, sizeof ds->info.what, "folder:%.60s %s", dir, ds_split_name(split));
    const char *what = ds->info.what;
    if (ds_check_dir(dir, what, err)) return -1;
    /* splits: DIR/train and DIR/test (or DIR/val) when both exist; otherwise a held-out part of
     * DIR/train, or of DIR */
    char tr[4096], te[4096], root[4096];
    snprintf(tr, sizeof tr, "%s/train", dir);
    snprintf(te, sizeof te, "%s/test", dir);
    if (!ds_is_dir(te)) snprintf(te, sizeof te, "%s/val", dir);
    int has_tr = ds_is_dir(tr), has_te = ds_is_dir(te), held_out = !(has_tr && has_te);
    snprintf(root, sizeof root, "%s", has_tr && has_te ? (split == DS_TEST ? te : tr) : has_tr ? tr : dir);
    file_list f = {0};
    char **classes = NULL;
    int nclasses = 0;
    int64_t total = 0, held = 0;
    if (discover(&f, root, &classes, &nclasses, what, err)) goto fail;
    if (f.n == 0) {
        ds_fail(err, "%s: %s has no PNG or JPEG images (expected DIR/<image>, or DIR/<class>/<image> for labels)", what,
                root);
        goto fail;
    }
    total = f.n;
    if (held_out && carve(&f, root, split, &held, what, err)) goto fail;
    if (opt->select && select_files(&f, opt, what, err)) goto fail;
    /* the size: the one asked for, else the images' own when they all have one */
    int H = opt->height, W = opt->width, C = 0;
    if ((W > 0) != (H > 0)) {
        ds_fail(err, "%s: give both image height and width, or neither", what);
        goto fail;
    }
    if (!H || opt->shape_only) {
        int ih = 0, iw = 0;
        for (int64_t i = 0; i < f.n; i++) {
            int w, h, c;
            if (probe_file(f.path[i], &w, &h, &c, what, err)) goto fail;
            if (c == 3) C = 3;
            if (i == 0) ih = h, iw = w;
            if (!H && (w != iw || h != ih)) {
                ds_fail(err, "%s: images differ in size (%s is %dx%d, %s is %dx%d, as HxW): choose the size they are "
                             "resized to with --image-size N (shorter side to N, then a center crop)",
                        what, f.path[0], ih, iw, f.path[i], h, w);
                goto fail;
            }
        }
        if (!H) H = ih, W = iw;
        if (!C) C = 1;
    }
    ds->info.n = f.n;
    ds->info.h = H;
    ds->info.w = W;
    ds->info.num_classes = nclasses;
    ds->info.has_labels = nclasses > 0;
    if (held_out)
        snprintf(ds->info.note, sizeof ds->info.note,
                 "%.60s has no %s: the test split is %lld of the %lld images%s (%d %%, picked by a fixed hash of their "
                 "paths), held out and never trained on",
                 dir, has_tr ? "test/ (or val/) beside train/" : "train/ and test/ sub-folders", (long long)held,
                 (long long)total, has_tr ? " of train/" : "", FOLDER_HELD_OUT_PERCENT);
    if (opt->shape_only) {
        ds->info.c = opt->channels ? opt->channels : C;
        ds->read = NULL;
    } else {
        decode_job j = {.f = &f, .what = what, .want_c = opt->channels == 1 ? 1 : 0, .H = H, .W = W,
                        .quiet = opt->quiet, .fail_at = f.n};
        j.sc = opt->channels ? opt->channels : 3;
        size_t bytes = (size_t)f.n * j.sc * (size_t)H * W;
        /* checked against what the process may use: Linux would hand out the memory and kill
         * the process later, while it trains */
        memlimits ml;
        memlimit_read(&ml);
        const char *lim_name;
        int64_t lim = memlimit_smallest(&ml, &lim_name);
        if ((lim >= 0 && (int64_t)bytes > lim) || !(j.store = malloc(bytes ? bytes : 1))) {
            ds_fail(err, "%s: %lld images of %dx%dx%d need %.1f MiB in memory, more than there is (%s: %.1f MiB); a "
                         "smaller --image-size or --source-size needs less",
                    what, (long long)f.n, j.sc, H, W, (double)bytes / (1024.0 * 1024.0), lim >= 0 ? lim_name : "malloc",
                    lim >= 0 ? (double)lim / (1024.0 * 1024.0) : 0.0);
            goto fail;
        }
        pthread_mutex_init(&j.mu, NULL);
        int rc = decode_all(&j, err);
        pthread_mutex_destroy(&j.mu);
        if (rc) {
            free(j.store);
            goto fail;
        }
        if (!opt->channels && !j.any_color) { /* all gray: keep one channel */
            size_t hw = (size_t)H * W;
            for (int64_t i = 0; i < f.n; i++) memmove(j.store + i * hw, j.store + i * 3 * hw, hw);
            j.sc = 1;
        }
        ds->mem = j.store;
        ds->info.c = j.sc;
    }
    if (ds->info.has_labels) {
        ds->labels = f.label;
        f.label = NULL;
    }
    ds->paths = f.path;
    ds->class_names = classes;
    ds->nclass_names = nclasses;
    free(f.label);
    return 0;
fail:
    list_free(&f);
    free_names(classes, nclasses);
    return -1;
}
