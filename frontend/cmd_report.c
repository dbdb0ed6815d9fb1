/* sslc report RUN: one self-contained HTML page about a run directory — the training curves of
 * metrics.jsonl (loss, learning rate, images/s, online kNN) as inline SVG, the final accuracies
 * of eval.json, a retrieval grid (test images with their nearest training images, one embedded
 * PNG) and a 2-D map of test embeddings coloured by class (PCA, inline SVG). The embeddings are
 * computed here from the run's checkpoint and data, so the page always shows the weights the
 * checkpoint holds. The page refers to nothing outside itself. */
#define _GNU_SOURCE /* open_memstream */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../runtime/dataset.h"
#include "../runtime/featnorm.h"
#include "../runtime/fileio.h"
#include "cli.h"
#include "encoder.h"
#include "eval.h"
#include "extract.h"
#include "report_draw.h"
#include "report_embed.h"
#include "train_loop.h"

#define REPORT_FILE "report.html"
#define REPORT_BANK 5000  /* training images the retrieval searches */
#define REPORT_MAP 1000   /* test images on the map */
#define REPORT_QUERIES 8
#define REPORT_NEIGHBOURS 8

static const char *help =
    "usage: sslc report RUN [-o FILE] [--data SPEC] [--device cpu|cuda|ref]\n"
    "  writes one self-contained HTML page about the run directory RUN (default RUN/" REPORT_FILE "):\n"
    "  loss, learning rate, images/s and online-kNN curves (metrics.jsonl), the final accuracies\n"
    "  (eval.json), a retrieval grid (8 test images, each with its 8 nearest of %d seeded training\n"
    "  images; green frame: same class, red: another) and a PCA map of %d seeded test embeddings\n"
    "  coloured by class. The embeddings come from RUN's checkpoint, on the data it trained on.\n"
    "  -o, --output FILE  where the page goes\n"
    "  --data SPEC        another labelled dataset with the plan's image size\n"
    "  --device D         the engine that computes the embeddings (default cpu)\n";

typedef struct {
    series loss, lr, ips, knn;
    int knn_k;
} curves;

/* the number after "key": in line, 0 if found */
static int json_num(const char *line, const char *key, double *v) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return -1;
    char *end;
    *v = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? -1 : 0;
}

static int read_curves(const char *dir, curves *c, char *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, RUN_METRICS);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, IR_ERRLEN, "%.300s: no %s (is this a run directory of sslc train, or sslc run --out?)", dir,
                 RUN_METRICS);
        return -1;
    }
    char line[1024];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        double step, v;
        if (json_num(line, "step", &step)) continue; /* a torn last line */
        if (!json_num(line, "loss", &v)) rc |= series_add(&c->loss, step, v);
        if (!json_num(line, "lr", &v)) rc |= series_add(&c->lr, step, v);
        if (!json_num(line, "img_per_s", &v)) rc |= series_add(&c->ips, step, v);
        if (!json_num(line, "online_knn_top1", &v)) rc |= series_add(&c->knn, step, v);
        if (!json_num(line, "online_knn_k", &v)) c->knn_k = (int)v;
    }
    fclose(f);
    if (rc) snprintf(err, IR_ERRLEN, "out of memory reading %.300s", path);
    return rc ? -1 : 0;
}

/* eval.json, when the run was evaluated: the whole object as text ("" : none) */
static void read_eval(const char *dir, char *buf, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, EVAL_JSON_FILE);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = 0;
    fclose(f);
}

/* The retrieval grid as one RGB image: a row per query — the query, a gap, its neighbours —
 * each image enlarged by an integer factor inside a frame (grey: query, green: same class as
 * the query, red: another). */
typedef struct {
    uint8_t *rgb; /* CHW, 3 channels */
    int w, h;
} canvas;

static void paint(canvas *cv, int x0, int y0, const uint8_t *chw, int c, int w, int h, int scale, const uint8_t frame[3]) {
    enum { B = 3 };
    int cw = w * scale + 2 * B, ch = h * scale + 2 * B;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            int ix = (x - B) / scale, iy = (y - B) / scale, in = x >= B && y >= B && ix < w && iy < h;
            for (int k = 0; k < 3; k++) {
                uint8_t v = in ? chw[(size_t)(c == 3 ? k : 0) * (size_t)(w * h) + (size_t)(iy * w + ix)] : frame[k];
                cv->rgb[(size_t)k * (size_t)(cv->w * cv->h) + (size_t)((y0 + y) * cv->w + x0 + x)] = v;
            }
        }
}

static int open_display(const encoder_source *s, const char *data, ds_split split, sslc_dataset **ds, char *err) {
    int64_t th, tw;
    encoder_source_size(s, &th, &tw);
    /* as the extractor opens it (frontend/extract.c): the plan's channels, fake: and folder: data
     * at the size the plan trained on */
    ds_options o = {.channels = s->backbone.channels, .height = (int)th, .width = (int)tw, .seed = s->weights.meta.seed,
                    .quiet = 1};
    return ds_open(ds, data, split, &o, err);
}

static int retrieval_grid(FILE *f, const encoder_source *s, const char *data, const feat_set *tr, const feat_set *te,
                          char *err) {
    sslc_dataset *dtr = NULL, *dte = NULL;
    uint8_t *img = NULL;
    canvas cv = {0};
    int rc = -1, nq = te->n < REPORT_QUERIES ? (int)te->n : REPORT_QUERIES;
    int nn = tr->n < REPORT_NEIGHBOURS ? (int)tr->n : REPORT_NEIGHBOURS;
    int64_t idx[REPORT_NEIGHBOURS];
    if (open_display(s, data, DS_TRAIN, &dtr, err) || open_display(s, data, DS_TEST, &dte, err)) goto out;
    const ds_info *in = ds_get_info(dte), *itr = ds_get_info(dtr);
    if (itr->c != in->c || itr->h != in->h || itr->w != in->w) {
        snprintf(err, IR_ERRLEN, "%s has %dx%dx%d images, %s %dx%dx%d: the retrieval grid needs one size", itr->what,
                 itr->c, itr->h, itr->w, in->what, in->c, in->h, in->w);
        goto out;
    }
    /* at least 64 pixels a side on the page */
    int scale = (64 + in->h - 1) / in->h, cell = in->h * scale + 6, cellw = in->w * scale + 6, gap = 4;
    cv.w = (nn + 1) * (cellw + gap) + 2 * gap, cv.h = nq * (cell + gap) + gap;
    cv.rgb = malloc((size_t)3 * (size_t)cv.w * (size_t)cv.h);
    img = malloc((size_t)in->c * (size_t)in->h * (size_t)in->w);
    if (!cv.rgb || !img) {
        snprintf(err, IR_ERRLEN, "out of memory for the retrieval grid");
        goto out;
    }
    memset(cv.rgb, 255, (size_t)3 * (size_t)cv.w * (size_t)cv.h);
    static const uint8_t grey[3] = {120, 120, 120}, green[3] = {40, 170, 60}, red[3] = {220, 40, 40};
    for (int q = 0; q < nq; q++) {
        int32_t lab;
        int y = gap + q * (cell + gap);
        if (ds_read(dte, te->idx[q], img, DS_CHW, &lab, err)) goto out;
        paint(&cv, gap, y, img, in->c, in->w, in->h, scale, grey);
        if (nearest(tr->x, tr->n, tr->dim, te->x + (size_t)q * (size_t)te->dim, nn, idx, err)) goto out;
        for (int j = 0; j < nn; j++) {
            if (ds_read(dtr, tr->idx[idx[j]], img, DS_CHW, &lab, err)) goto out;
            int same = te->y[q] >= 0 && tr->y[idx[j]] == te->y[q];
            paint(&cv, 3 * gap + (j + 1) * (cellw + gap), y, img, in->c, in->w, in->h, scale, same ? green : red);
        }
    }
    rc = html_png(f, cv.rgb, cv.w, cv.h, 3, "test images (left) and their nearest training images", err);
out:
    free(cv.rgb);
    free(img);
    ds_close(dtr);
    ds_close(dte);
    return rc;
}

static const char *css =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}"
    "section{margin:0 0 28px}h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.frame{fill:none;stroke:#bbb}"
    ".line{fill:none;stroke:#1f77b4;stroke-width:2}.dot{fill:#1f77b4}.title{font-weight:600;font-size:13px}"
    ".tick{font-size:11px;fill:#555}.note{font-size:13px;fill:#888}"
    "table{border-collapse:collapse}td,th{padding:4px 12px;border:1px solid #ddd;text-align:left}"
    "img{image-rendering:pixelated}";

static void page_head(FILE *f, const char *dir, const encoder_source *s, const char *data) {
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sslc report: ");
    html_text(f, dir);
    fprintf(f, "</title><style>%s</style></head><body>\n<section id=\"summary\"><h1>sslc run ", css);
    html_text(f, dir);
    fprintf(f, "</h1><p>");
    html_text(f, s->method->name);
    fprintf(f, ", ");
    html_text(f, s->backbone.name);
    fprintf(f, " width %g, %dx%d, data ", s->backbone.width, s->backbone.image_size, s->backbone.image_size);
    html_text(f, data);
    fprintf(f, "; step %lld of %lld, seed %llu</p></section>\n", (long long)s->weights.meta.step,
            (long long)s->weights.meta.total, (unsigned long long)s->weights.meta.seed);
}

static void page_curves(FILE *f, const curves *c) {
    char t[64];
    snprintf(t, sizeof t, "online kNN-%d top-1 (%%)", c->knn_k ? c->knn_k : 20);
    fprintf(f, "<section id=\"curves\"><h2>Training</h2><div class=\"charts\">\n");
    svg_line_chart(f, "loss", &c->loss);
    svg_line_chart(f, "learning rate", &c->lr);
    svg_line_chart(f, "images / s", &c->ips);
    svg_line_chart(f, t, &c->knn);
    fprintf(f, "</div></section>\n");
}

static void page_accuracy(FILE *f, const curves *c, const char *eval) {
    fprintf(f, "<section id=\"accuracy\"><h2>Accuracy</h2><table>\n");
    double v, k;
    if (eval[0] && !json_num(eval, "linear_top1", &v))
        fprintf(f, "<tr><th>linear probe top-1 (test)</th><td>%.2f %%</td></tr>\n", v);
    if (eval[0] && !json_num(eval, "knn_top1", &v) && !json_num(eval, "knn_k", &k))
        fprintf(f, "<tr><th>kNN-%d top-1 (test)</th><td>%.2f %%</td></tr>\n", (int)k, v);
    if (eval[0] && !json_num(eval, "n_test", &v))
        fprintf(f, "<tr><th>evaluated on</th><td>%.0f test images (%s)</td></tr>\n", v, EVAL_JSON_FILE);
    if (!eval[0])
        fprintf(f, "<tr><th>final evaluation</th><td>none (no %s: sslc train --no-eval, or sslc eval RUN)</td></tr>\n",
                EVAL_JSON_FILE);
    if (c->knn.n)
        fprintf(f, "<tr><th>last online kNN-%d top-1 (step %.0f)</th><td>%.2f %%</td></tr>\n", c->knn_k,
                c->knn.x[c->knn.n - 1], c->knn.y[c->knn.n - 1]);
    fprintf(f, "</table></section>\n");
}

int cmd_report(int argc, char **argv) {
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'}, {"data", required_argument, 0, 'D'},
                                             {"device", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *out = NULL, *data = NULL, *device = "cpu";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) switch (c) {
        case 'o': out = optarg; break;
        case 'D': data = optarg; break;
        case 'd': device = optarg; break;
        case 'h': printf(help, REPORT_BANK, REPORT_MAP); return 0;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_error("report: unknown option '%s' (see sslc report --help)", argv[optind - 1]);
        }
    if (optind != argc - 1) return cli_error("report: give one run directory (sslc report RUN; see --help)");
    const char *dir = argv[optind];
    char err[IR_ERRLEN], outbuf[4200], eval[8192];
    engine_kind dev;
    if (engine_kind_parse(device, &dev, err)) return cli_error("%s", err);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return cli_error("report: %s is not a run directory", dir);
    if (!out) snprintf(outbuf, sizeof outbuf, "%s/%s", dir, REPORT_FILE), out = outbuf;

    curves cu;
    memset(&cu, 0, sizeof cu);
    encoder_source s;
    int opened = 0, rc = CLI_RUN_ERROR;
    extractor *x = NULL;
    feat_set tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    float *xy = NULL;
    char *html = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (read_curves(dir, &cu, err)) goto fail;
    read_eval(dir, eval, sizeof eval);
    if (encoder_open(&s, dir, NULL, err)) goto fail;
    opened = 1;
    if (!data) data = s.weights.meta.data;
    printf("embedding up to %d training and %d test images (seeded) of %s with the checkpoint of step %lld\n",
           REPORT_BANK, REPORT_MAP, data, (long long)s.weights.meta.step);
    fflush(stdout);
    extract_opts xo = {.data = data, .what = ENCODER_FEATURES, .device = dev, .seed = s.weights.meta.seed,
                       .limit_train = REPORT_BANK, .limit_test = REPORT_MAP, .subset_seed = s.weights.meta.seed};
    if (extractor_open(&x, &s, &xo, err) || extractor_run(x, DS_TRAIN, &tr, err) || extractor_run(x, DS_TEST, &te, err))
        goto fail;
    feat_l2_normalize(tr.x, tr.n, tr.dim);
    feat_l2_normalize(te.x, te.n, te.dim);
    if (!(xy = malloc((size_t)te.n * 2 * sizeof *xy))) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto fail;
    }
    if (pca2(te.x, te.n, te.dim, xy, err)) goto fail;
    if (!(f = open_memstream(&html, &len))) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto fail;
    }
    page_head(f, dir, &s, data);
    page_curves(f, &cu);
    page_accuracy(f, &cu, eval);
    fprintf(f, "<section id=\"retrieval\"><h2>Retrieval</h2><p>Each row: a test image (grey frame), then its %d "
               "nearest of %lld training images by cosine similarity of the encoder's features, nearest first "
               "(green frame: same class as the test image, red: another class).</p>\n",
            REPORT_NEIGHBOURS, (long long)tr.n);
    if (retrieval_grid(f, &s, data, &tr, &te, err)) goto fail;
    fprintf(f, "</section>\n<section id=\"map\"><h2>Map of the test embeddings</h2><p>%lld test images: the "
               "L2-normalized encoder features projected on their first two principal components (PCA); "
               "colour: the image's class.</p>\n",
            (long long)te.n);
    svg_scatter(f, xy, te.y, te.n, te.classes, te.class_names);
    fprintf(f, "</section>\n<p class=\"tick\">written by sslc report</p>\n</body></html>\n");
    if (fclose(f)) {
        f = NULL;
        snprintf(err, IR_ERRLEN, "out of memory writing the page");
        goto fail;
    }
    f = NULL;
    const void *parts[1] = {html};
    if (sslc_write_atomic(out, parts, &len, 1, err)) goto fail;
    printf("report: %s (%.0f KiB)\n", out, (double)len / 1024);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "sslc: %s\n", err);
    if (f) fclose(f);
    free(html);
    free(xy);
    feat_set_free(&tr);
    feat_set_free(&te);
    extractor_close(x);
    if (opened) encoder_close(&s);
    series_free(&cu.loss), series_free(&cu.lr), series_free(&cu.ips), series_free(&cu.knn);
    return rc;
}
