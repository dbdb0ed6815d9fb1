#include "extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/loader.h"
#include "../runtime/rng.h"

/* a split's selected samples, read once (extract_opts.keep_pixels) */
typedef struct {
    uint8_t *pixels;   /* [n, c, h, w] */
    int64_t *y, *idx;  /* [n] labels (-1: none) and sample indices */
    int64_t n;
    ds_info info;      /* the split's, as opened */
} kept_split;

struct extractor {
    kept_split kept[2]; /* by ds_split */
    const encoder_source *s;
    extract_opts o;
    int64_t batch;
    ir_graph g;    /* the eval graph the engine was built from */
    engine *e;
    int64_t src_h, src_w; /* image size g takes (0: no graph yet) */
    int images, out;      /* engine value ids */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void feat_set_free(feat_set *f) {
    free(f->x);
    free(f->y);
    free(f->idx);
    if (f->paths)
        for (int64_t i = 0; i < f->n; i++) free(f->paths[i]);
    free(f->paths);
    if (f->class_names)
        for (int k = 0; k < f->classes; k++) free(f->class_names[k]);
    free(f->class_names);
    memset(f, 0, sizeof *f);
}

int extractor_open(extractor **out, const encoder_source *s, const extract_opts *o, char *err) {
    *out = NULL;
    if (o->batch < 0 || o->batch > 65536) {
        snprintf(err, IR_ERRLEN, "batch %d out of range (1..65536)", o->batch);
        return -1;
    }
    extractor *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    x->s = s;
    x->o = *o;
    x->batch = o->batch ? o->batch : EXTRACT_DEFAULT_BATCH;
    ir_graph_init(&x->g);
    *out = x;
    return 0;
}

void extractor_close(extractor *x) {
    if (!x) return;
    for (int s = 0; s < 2; s++) free(x->kept[s].pixels), free(x->kept[s].y), free(x->kept[s].idx);
    engine_free(x->e);
    ir_graph_free(&x->g);
    free(x);
}

/* (Re)builds the graph and engine for images of h x w. */
static int compile_for(extractor *x, int64_t h, int64_t w, char *err) {
    if (x->e && x->src_h == h && x->src_w == w) return 0;
    engine_free(x->e);
    x->e = NULL;
    ir_graph_free(&x->g);
    ir_graph_init(&x->g);
    x->src_h = x->src_w = 0;
    if (encoder_build_images(x->s, x->batch, h, w, x->o.what, x->o.with_projector, &x->g, err)) return -1;
    char info[256] = "";
    x->e = engine_new(x->o.device, 0, &x->g, info, sizeof info, err);
    if (!x->e) return -1;
    if (x->o.verbose) fprintf(stderr, "%s\n", info);
    /* the weights; the pixels graph has none (random init of nothing) */
    if (x->o.what == ENCODER_FEATURES && encoder_load_engine(x->s, &x->g, x->e, err)) return -1;
    const ir_graph *eg = engine_graph(x->e);
    x->images = engine_find(x->e, "images");
    x->out = eg->noutputs ? eg->outputs[eg->noutputs - 1] : -1;
    if (x->images < 0 || x->out < 0) {
        snprintf(err, IR_ERRLEN, "the compiled eval graph lost its input or output");
        return -1;
    }
    x->src_h = h, x->src_w = w;
    return 0;
}

/* The encoder's parameters and state from x->o.weights_from, by name: the values the eval graph
 * reads, as encoder_load_engine would take them from a checkpoint. */
static int copy_weights(extractor *x, char *err) {
    const engine *from = x->o.weights_from;
    float *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int v = 0; v < x->g.nvals && !rc; v++) {
        const ir_value *val = &x->g.vals[v];
        if ((val->kind != VK_PARAM && val->kind != VK_STATE) || !val->name) continue;
        int dv = engine_find(x->e, val->name), sv = engine_find(from, val->name);
        if (dv < 0 || !engine_has_value(x->e, dv)) continue; /* folded away by the compiler */
        if (sv < 0 || !engine_has_value(from, sv)) {
            snprintf(err, IR_ERRLEN, "online evaluation: the training engine has no '%s'", val->name);
            rc = -1;
            break;
        }
        size_t bytes = val->dtype == DT_F32 ? (size_t)ir_numel(&val->shape) * sizeof(float) : engine_value_bytes(x->e, dv);
        if (val->dtype != DT_F32 && bytes != engine_value_bytes(from, sv)) {
            snprintf(err, IR_ERRLEN, "online evaluation: '%s' differs in size between training and evaluation", val->name);
            rc = -1;
            break;
        }
        if (bytes > cap) {
            float *nb = realloc(buf, bytes);
            if (!nb) {
                snprintf(err, IR_ERRLEN, "out of memory");
                rc = -1;
                break;
            }
            buf = nb, cap = bytes;
        }
        if (val->dtype == DT_F32)
            rc = engine_get_f32(from, sv, buf, err) || engine_set_f32(x->e, dv, buf, err);
        else
            rc = engine_download(from, sv, buf, bytes, err) || engine_upload(x->e, dv, buf, bytes, err);
    }
    free(buf);
    return rc ? -1 : 0;
}

void extract_subset(int64_t n, int64_t k, uint64_t seed, ds_split split, int64_t *idx) {
    /* selection sampling (Knuth's Algorithm S): each index is taken with probability
     * (still needed) / (still left), which yields k indices in increasing order */
    /* the seed through splitmix64's finalizer: PCG streams of nearby seeds (0, 1, 2, ...) are
     * correlated enough to bias the selection when compared across seeds */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    sslc_rng r;
    rng_seed(&r, z ^ (z >> 31), 0x737562u + (uint64_t)split); /* "sub" */
    int64_t m = 0;
    for (int64_t i = 0; i < n && m < k; i++)
        if (k >= n || rng_uniform(&r) * (double)(n - i) < (double)(k - m)) idx[m++] = i;
}

/* opens the split with the plan's channels; fake data at the training images' size; sel: a
 * folder: dataset decodes only the samples it selects (NULL: all) */
static int open_split(extractor *x, ds_split split, sslc_dataset **ds, ds_options *sel, char *err) {
    const backbone_cfg *bb = &x->s->backbone;
    int64_t th, tw;
    encoder_source_size(x->s, &th, &tw);
    /* fake: and folder: data come at the size the plan trained on (folder: resized) */
    ds_options o = {.channels = bb->channels, .seed = x->o.seed, .height = (int)th, .width = (int)tw,
                    .quiet = !x->o.verbose, .select = sel ? sel->select : NULL, .select_ctx = sel ? sel->select_ctx : NULL};
    if (ds_open(ds, x->o.data, split, &o, err)) return -1;
    const ds_info *in = ds_get_info(*ds);
    if (x->o.verbose && in->note[0] && split == DS_TEST) fprintf(stderr, "note: %s\n", in->note);
    int S = bb->image_size;
    if ((in->h != S || in->w != S) && (in->h != th || in->w != tw)) {
        if (th == S && tw == S)
            snprintf(err, IR_ERRLEN, "%s has %dx%d images, the plan takes %dx%d", in->what, in->h, in->w, S, S);
        else
            snprintf(err, IR_ERRLEN, "%s has %dx%d images, the plan takes %dx%d (or %lldx%lld, the size it trained on)",
                     in->what, in->h, in->w, S, S, (long long)th, (long long)tw);
        return -1;
    }
    if (in->n < 1) {
        snprintf(err, IR_ERRLEN, "%s has no images", in->what);
        return -1;
    }
    return 0;
}

/* A terminal gets one line updated in place (every 0.5 s); a log gets a line every 10 s. */
static void progress(const extractor *x, const char *what, int64_t done, int64_t n, double t0, double *last, int final) {
    if (!x->o.verbose) return;
    double t = now();
    int tty = isatty(2);
    if (!final && t - *last < (tty ? 0.5 : 10.0)) return;
    *last = t;
    fprintf(stderr, "%s%s: %lld/%lld images, %.0f img/s%s", tty ? "\r" : "", what, (long long)done, (long long)n,
            (double)done / (t - t0 + 1e-9), tty && !final ? "" : "\n");
    fflush(stderr);
}

/* one batch of features: rows b.n of the engine's output after uploading img */
static int forward(extractor *x, const uint8_t *img, size_t img_bytes, float *buf, char *err) {
    return engine_upload(x->e, x->images, img, img_bytes, err) || engine_run(x->e, err) ||
                   engine_get_f32(x->e, x->out, buf, err)
               ? -1
               : 0;
}

/* the samples out->idx[0..n) read one by one (a subset: no loader threads needed), from the
 * dataset or, when ds is NULL, from the kept split k (its rows 0..n) */
static int run_subset(extractor *x, const sslc_dataset *ds, const kept_split *k, feat_set *out, float *buf, char *err) {
    const ds_info *in = ds ? ds_get_info(ds) : &k->info;
    size_t one = (size_t)in->c * (size_t)in->h * (size_t)in->w, img_bytes = (size_t)x->batch * one;
    uint8_t *img = calloc(img_bytes, 1);
    if (!img) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    double t0 = now(), last = t0;
    int rc = 0;
    for (int64_t done = 0; done < out->n && !rc;) {
        if (x->o.cancel && *x->o.cancel) {
            rc = 1;
            break;
        }
        int64_t nb = out->n - done < x->batch ? out->n - done : x->batch;
        for (int64_t i = 0; i < nb && !rc; i++) {
            int32_t lab;
            if (ds)
                rc = ds_read(ds, out->idx[done + i], img + (size_t)i * one, DS_CHW, &lab, err);
            else
                memcpy(img + (size_t)i * one, k->pixels + (size_t)(done + i) * one, one), lab = (int32_t)k->y[done + i];
            out->y[done + i] = in->has_labels ? lab : -1;
        }
        if (rc || forward(x, img, img_bytes, buf, err)) {
            rc = -1;
            break;
        }
        memcpy(out->x + done * out->dim, buf, (size_t)nb * (size_t)out->dim * sizeof *buf);
        done += nb;
        progress(x, in->what, done, out->n, t0, &last, done == out->n);
    }
    free(img);
    return rc;
}

/* reads rows[0..n) of ds (NULL: its rows 0..n), the split's samples idx[0..n), into k */
static int keep_split(const sslc_dataset *ds, const int64_t *rows, const int64_t *idx, int64_t n, kept_split *k,
                      char *err) {
    const ds_info *in = ds_get_info(ds);
    size_t one = (size_t)in->c * (size_t)in->h * (size_t)in->w;
    k->pixels = malloc((size_t)n * one);
    k->y = malloc((size_t)n * sizeof *k->y);
    k->idx = malloc((size_t)n * sizeof *k->idx);
    if (!k->pixels || !k->y || !k->idx) {
        snprintf(err, IR_ERRLEN, "out of memory keeping %lld images of %s", (long long)n, in->what);
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t lab;
        if (ds_read(ds, rows ? rows[i] : i, k->pixels + (size_t)i * one, DS_CHW, &lab, err)) goto fail;
        k->y[i] = in->has_labels ? lab : -1;
    }
    memcpy(k->idx, idx, (size_t)n * sizeof *idx);
    k->n = n;
    k->info = *in;
    return 0;
fail:
    free(k->pixels), free(k->y), free(k->idx);
    memset(k, 0, sizeof *k);
    return -1;
}

/* the subset extract_opts.limit selects, for ds_options.select */
typedef struct {
    int64_t limit;
    uint64_t seed;
    ds_split split;
    int64_t *idx, n; /* what was selected (NULL: select was not called) */
} subset_sel;
static int64_t select_subset(int64_t n, int64_t *idx, void *ctx) {
    subset_sel *s = ctx;
    int64_t k = s->limit > 0 && s->limit < n ? s->limit : n;
    extract_subset(n, k, s->seed, s->split, idx);
    free(s->idx);
    if ((s->idx = malloc((size_t)k * sizeof *s->idx))) memcpy(s->idx, idx, (size_t)k * sizeof *idx);
    s->n = k;
    return s->idx ? k : 0; /* 0: refused (out of memory) */
}

/* The split's selected samples read once into k: a folder: dataset decodes only those (the
 * selection), the other formats load at open and are read at the selected rows. */
static int read_kept(extractor *x, ds_split split, kept_split *k, char *err) {
    subset_sel s = {.limit = split == DS_TRAIN ? x->o.limit_train : x->o.limit_test, .seed = x->o.subset_seed,
                    .split = split};
    ds_options sel = {.select = select_subset, .select_ctx = &s};
    sslc_dataset *ds = NULL;
    int64_t *rows = NULL;
    int rc = -1;
    if (open_split(x, split, &ds, &sel, err)) goto done;
    const ds_info *in = ds_get_info(ds);
    if (s.idx) { /* the dataset holds the selected samples only, in order */
        if (s.n != in->n) {
            snprintf(err, IR_ERRLEN, "%s: holds %lld images, %lld selected", in->what, (long long)in->n, (long long)s.n);
            goto done;
        }
        rc = keep_split(ds, NULL, s.idx, s.n, k, err);
    } else {
        int64_t n = s.limit > 0 && s.limit < in->n ? s.limit : in->n;
        if (!(rows = malloc((size_t)n * sizeof *rows))) {
            snprintf(err, IR_ERRLEN, "out of memory");
            goto done;
        }
        extract_subset(in->n, n, s.seed, split, rows);
        rc = keep_split(ds, rows, rows, n, k, err);
    }
done:
    free(rows);
    free(s.idx);
    ds_close(ds);
    return rc;
}

/* the features of a kept split */
static int run_kept(extractor *x, const kept_split *k, feat_set *out, char *err) {
    float *buf = NULL;
    int rc = -1;
    if (compile_for(x, k->info.h, k->info.w, err)) goto done;
    if (x->o.weights_from && copy_weights(x, err)) goto done;
    const ir_value *ov = &engine_graph(x->e)->vals[x->out];
    out->n = k->n;
    out->dim = ir_numel(&ov->shape) / x->batch;
    out->classes = k->info.has_labels ? k->info.num_classes : 0;
    snprintf(out->what, sizeof out->what, "%s", k->info.what);
    out->x = malloc((size_t)out->n * (size_t)out->dim * sizeof *out->x);
    out->y = malloc((size_t)out->n * sizeof *out->y);
    out->idx = malloc((size_t)out->n * sizeof *out->idx);
    buf = malloc((size_t)x->batch * (size_t)out->dim * sizeof *buf);
    if (!out->x || !out->y || !out->idx || !buf) {
        snprintf(err, IR_ERRLEN, "out of memory for %lld x %lld features", (long long)out->n, (long long)out->dim);
        goto done;
    }
    memcpy(out->idx, k->idx, (size_t)k->n * sizeof *k->idx);
    rc = run_subset(x, NULL, k, out, buf, err);
done:
    if (rc) feat_set_free(out);
    free(buf);
    return rc;
}

int extractor_run(extractor *x, ds_split split, feat_set *out, char *err) {
    memset(out, 0, sizeof *out);
    if (x->o.keep_pixels) {
        kept_split *kept = &x->kept[split == DS_TEST];
        if (!kept->pixels && read_kept(x, split, kept, err)) return -1;
        return run_kept(x, kept, out, err);
    }
    sslc_dataset *ds = NULL;
    sslc_loader *l = NULL;
    float *buf = NULL;
    int rc = -1;
    if (open_split(x, split, &ds, NULL, err)) goto done;
    const ds_info *in = ds_get_info(ds);
    if (compile_for(x, in->h, in->w, err)) goto done;
    if (x->o.weights_from && copy_weights(x, err)) goto done;
    const ir_value *ov = &engine_graph(x->e)->vals[x->out];
    int64_t dim = ir_numel(&ov->shape) / x->batch;
    int64_t lim = split == DS_TRAIN ? x->o.limit_train : x->o.limit_test;
    int64_t n = lim > 0 && lim < in->n ? lim : in->n;
    out->n = n;
    out->dim = dim;
    out->classes = in->has_labels ? in->num_classes : 0;
    snprintf(out->what, sizeof out->what, "%s", in->what);
    out->x = malloc((size_t)n * (size_t)dim * sizeof *out->x);
    out->y = malloc((size_t)n * sizeof *out->y);
    out->idx = malloc((size_t)n * sizeof *out->idx);
    buf = malloc((size_t)x->batch * (size_t)dim * sizeof *buf);
    if (!out->x || !out->y || !out->idx || !buf) {
        snprintf(err, IR_ERRLEN, "out of memory for %lld x %lld features", (long long)n, (long long)dim);
        goto done;
    }
    extract_subset(in->n, n, x->o.subset_seed, split, out->idx);
    if (ds_path(ds, 0)) { /* which file each row is, and the class names */
        if (!(out->paths = calloc((size_t)n, sizeof *out->paths))) goto oom;
        for (int64_t i = 0; i < n; i++)
            if (!(out->paths[i] = strdup(ds_path(ds, out->idx[i])))) goto oom;
    }
    if (out->classes && ds_class_name(ds, 0)) {
        if (!(out->class_names = calloc((size_t)out->classes, sizeof *out->class_names))) goto oom;
        for (int k = 0; k < out->classes; k++)
            if (!(out->class_names[k] = strdup(ds_class_name(ds, k)))) goto oom;
    }
    if (n < in->n) {
        rc = run_subset(x, ds, NULL, out, buf, err);
        goto done;
    }
    loader_cfg c = loader_defaults((int)x->batch);
    c.shuffle = 0;   /* dataset order */
    c.drop_last = 0; /* every image: the last batch is padded */
    if (loader_open(&l, ds, &c, err)) goto done;
    int64_t nb = loader_batches_per_epoch(l), done = 0;
    size_t img_bytes = (size_t)x->batch * (size_t)in->c * (size_t)in->h * (size_t)in->w;
    double t0 = now(), last = t0;
    for (int64_t k = 0; k < nb; k++) {
        if (x->o.cancel && *x->o.cancel) {
            rc = 1;
            goto done;
        }
        loader_batch b;
        if (loader_next(l, &b, err)) goto done;
        if (forward(x, b.images, img_bytes, buf, err)) goto done;
        /* no shuffling: batch k holds samples k*B .. k*B+n-1 */
        memcpy(out->x + done * dim, buf, (size_t)b.n * (size_t)dim * sizeof *buf);
        for (int i = 0; i < b.n; i++) out->y[done + i] = b.labels[i];
        done += b.n;
        progress(x, in->what, done, in->n, t0, &last, 0);
    }
    if (done != in->n) {
        snprintf(err, IR_ERRLEN, "%s: the loader gave %lld of %lld images", in->what, (long long)done, (long long)in->n);
        goto done;
    }
    progress(x, in->what, done, in->n, t0, &last, 1);
    rc = 0;
    goto done;
oom:
    snprintf(err, IR_ERRLEN, "out of memory for the image paths of %s", in->what);
done:
    if (rc) feat_set_free(out);
    free(buf);
    loader_close(l);
    ds_close(ds);
    return rc;
}
