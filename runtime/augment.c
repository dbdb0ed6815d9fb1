/* Augmentation recipes (PySSL's builders as tables), the augmentation subgraph and host-side
 * parameter sampling following torchvision's get_params. See augment.h. */
#include "augment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/builder.h"
#include "ir/compose.h"

/* ---- recipes: PySSL builders/<method>.py, transform by transform ---- */

#define RATIO 3.0 / 4.0, 4.0 / 3.0
#define CROP(lo, hi, cubic) {AUG_CROP, 1, {lo, hi, RATIO}, cubic}
#define FLIP(p) {AUG_FLIP, p, {0}, 0}
#define JITTER(p, b, c, s, h) {AUG_JITTER, p, {b, c, s, h}, 0}
#define GRAY(p) {AUG_GRAY, p, {0}, 0}
#define BLUR(p) {AUG_BLUR, p, {0.1, 2.0}, 0}
#define SOLARIZE(p) {AUG_SOLARIZE, p, {0}, 0}
#define PIPE(...) {.nsteps = (int)(sizeof((aug_step[]){__VA_ARGS__}) / sizeof(aug_step)), .steps = {__VA_ARGS__}}
#define LOCAL_PIPE(...)                                                                                            \
    {.nsteps = (int)(sizeof((aug_step[]){__VA_ARGS__}) / sizeof(aug_step)), .steps = {__VA_ARGS__}, .local = 1}

/* SimCLR, SimCLRv2: both views */
static const aug_pipeline simclr_view =
    PIPE(CROP(0.2, 1.0, 0), FLIP(0.5), JITTER(0.8, 0.8, 0.8, 0.8, 0.2), GRAY(0.2), BLUR(0.5));
/* BYOL, MoCo v3: augment1 / augment2 (solarize only in the second) */
static const aug_pipeline byol_view0 =
    PIPE(CROP(0.08, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5));
static const aug_pipeline byol_view1 =
    PIPE(CROP(0.08, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5), SOLARIZE(0.2));
/* Barlow Twins: augment / augment_prime; RandomResizedCrop's default scale (0.08, 1); the first
 * view's RandomSolarize(p=0.0) never fires and is left out */
static const aug_pipeline barlow_view0 = PIPE(CROP(0.08, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5));
static const aug_pipeline barlow_view1 =
    PIPE(CROP(0.08, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5), SOLARIZE(0.2));
/* DINO: augment_global1, augment_global2, augment_local (crop at 3/7 of the image size) */
static const aug_pipeline dino_global1 =
    PIPE(CROP(0.04, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5));
static const aug_pipeline dino_global2 =
    PIPE(CROP(0.04, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5), SOLARIZE(0.2));
static const aug_pipeline dino_local =
    LOCAL_PIPE(CROP(0.05, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.5));
/* MoCo: crop, grayscale, ColorJitter always applied, flip */
static const aug_pipeline moco_view = PIPE(CROP(0.2, 1.0, 0), GRAY(0.2), JITTER(1.0, 0.4, 0.4, 0.4, 0.4), FLIP(0.5));
/* MoCo v2, SimSiam: flip last */
static const aug_pipeline mocov2_view =
    PIPE(CROP(0.2, 1.0, 0), JITTER(0.8, 0.4, 0.4, 0.4, 0.1), GRAY(0.2), BLUR(0.5), FLIP(0.5));
/* SupCon: no blur */
static const aug_pipeline supcon_view = PIPE(CROP(0.2, 1.0, 0), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.4, 0.1), GRAY(0.2));
/* SwAV: augment_global (flip after grayscale), augment_local (scale 0.05-0.14) */
static const aug_pipeline swav_global =
    PIPE(CROP(0.14, 1.0, 0), JITTER(0.8, 0.8, 0.8, 0.8, 0.2), GRAY(0.2), FLIP(0.5), BLUR(0.5));
static const aug_pipeline swav_local =
    LOCAL_PIPE(CROP(0.05, 0.14, 0), FLIP(0.5), JITTER(0.8, 0.8, 0.8, 0.8, 0.2), GRAY(0.2), BLUR(0.5));

static const aug_recipe recipes[] = {
    {"barlow_twins", &barlow_view0, &barlow_view1, NULL},
    {"byol", &byol_view0, &byol_view1, NULL},
    {"dino", &dino_global1, &dino_global2, &dino_local},
    {"moco", &moco_view, &moco_view, NULL},
    {"mocov2", &mocov2_view, &mocov2_view, NULL},
    {"mocov3", &byol_view0, &byol_view1, NULL},
    {"simclr", &simclr_view, &simclr_view, NULL},
    {"simclrv2", &simclr_view, &simclr_view, NULL},
    {"simsiam", &mocov2_view, &mocov2_view, NULL},
    {"supcon", &supcon_view, &supcon_view, NULL},
    {"swav", &swav_global, &swav_global, &swav_local},
};
#define NRECIPES (int)(sizeof recipes / sizeof recipes[0])

int aug_recipe_count(void) { return NRECIPES; }
const aug_recipe *aug_recipe_at(int i) { return i >= 0 && i < NRECIPES ? &recipes[i] : NULL; }

const aug_recipe *aug_recipe_find(const char *name) {
    for (int i = 0; i < NRECIPES; i++)
        if (!strcmp(recipes[i].name, name)) return &recipes[i];
    return NULL;
}

const char *aug_recipe_choices(void) {
    static char buf[256];
    size_t k = 0;
    for (int i = 0; i < NRECIPES; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? ", " : "", recipes[i].name);
    return buf;
}

const aug_pipeline *aug_recipe_view(const aug_recipe *r, int v) {
    if (v <= 0) return r->view0;
    if (v == 1 || !r->local) return r->view1;
    return r->local;
}

int64_t aug_blur_kernel(int64_t image_size) { return image_size / 20 * 2 + 1; }

aug_norm aug_default_norm(int channels) {
    aug_norm n = {.nmean = 1, .nstd = 3, .mean = {0.5}, .std = {0.229, 0.224, 0.225}};
    if (channels == 1) n.nstd = 1, n.std[0] = 0.226;
    return n;
}

int aug_parse_floats(const char *s, double *v, int *n, const char *what, char *err) {
    *n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !isfinite(x)) {
            snprintf(err, IR_ERRLEN, "%s: expected 1 or 3 numbers separated by commas, got '%s'", what, s);
            return -1;
        }
        if (*n == 3) {
            snprintf(err, IR_ERRLEN, "%s: at most 3 values (one per channel), got '%s'", what, s);
            return -1;
        }
        v[(*n)++] = x;
        if (*end == 0) break;
        if (*end != ',') {
            snprintf(err, IR_ERRLEN, "%s: expected 1 or 3 numbers separated by commas, got '%s'", what, s);
            return -1;
        }
        p = end + 1;
    }
    if (*n == 2) {
        snprintf(err, IR_ERRLEN, "%s: give 1 value or 3 (one per channel), got 2", what);
        return -1;
    }
    return 0;
}

/* ---- text form ---- */

static const char *kind_names[AUG__KINDS] = {"crop", "flip", "jitter", "gray", "blur", "solarize"};

/* shortest %g that reads back exactly */
static void fmt_num(char *buf, size_t n, double x) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

int aug_pipeline_format(const aug_pipeline *p, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        char a[4][32], pp[32];
        for (int j = 0; j < 4; j++) fmt_num(a[j], sizeof a[j], s->a[j]);
        fmt_num(pp, sizeof pp, s->p);
        int w;
        const char *sep = i ? " " : "";
        switch (s->kind) {
        case AUG_CROP:
            w = snprintf(buf + k, n - k, "%scrop(scale=%s:%s,ratio=%s:%s,%s%s)", sep, a[0], a[1], a[2], a[3],
                         s->bicubic ? "bicubic" : "bilinear", p->local ? ",local" : "");
            break;
        case AUG_JITTER:
            w = snprintf(buf + k, n - k, "%sjitter(p=%s,b=%s,c=%s,s=%s,h=%s)", sep, pp, a[0], a[1], a[2], a[3]);
            break;
        case AUG_BLUR: w = snprintf(buf + k, n - k, "%sblur(p=%s,sigma=%s:%s)", sep, pp, a[0], a[1]); break;
        default: w = snprintf(buf + k, n - k, "%s%s(p=%s)", sep, kind_names[s->kind], pp); break;
        }
        if (w < 0 || (size_t)w >= n - k) return -1;
        k += (size_t)w;
    }
    return 0;
}

int aug_pipeline_check(const aug_pipeline *p, char *err) {
    unsigned seen = 0;
    if (p->nsteps < 0 || p->nsteps > AUG_MAX_STEPS) {
        snprintf(err, IR_ERRLEN, "augmentation pipeline with %d steps (at most %d)", p->nsteps, AUG_MAX_STEPS);
        return -1;
    }
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        if ((unsigned)s->kind >= AUG__KINDS) {
            snprintf(err, IR_ERRLEN, "augmentation step %d has an unknown kind", i);
            return -1;
        }
        const char *nm = kind_names[s->kind];
        if (seen & (1u << s->kind)) {
            snprintf(err, IR_ERRLEN, "augmentation: %s appears twice in one pipeline", nm);
            return -1;
        }
        seen |= 1u << s->kind;
        if (!(s->p >= 0 && s->p <= 1)) {
            snprintf(err, IR_ERRLEN, "augmentation %s: p must be in [0, 1], got %g", nm, s->p);
            return -1;
        }
        if (s->kind == AUG_CROP && !(s->a[0] > 0 && s->a[0] <= s->a[1] && s->a[1] <= 1 && s->a[2] > 0 && s->a[2] <= s->a[3] &&
                                     isfinite(s->a[3]))) {
            snprintf(err, IR_ERRLEN, "augmentation crop: need 0 < scale min <= max <= 1 and 0 < ratio min <= max, got "
                                     "scale %g:%g ratio %g:%g", s->a[0], s->a[1], s->a[2], s->a[3]);
            return -1;
        }
        if (s->kind == AUG_JITTER &&
            !(s->a[0] >= 0 && s->a[1] >= 0 && s->a[2] >= 0 && isfinite(s->a[0] + s->a[1] + s->a[2]) && s->a[3] >= 0 && s->a[3] <= 0.5)) {
            snprintf(err, IR_ERRLEN, "augmentation jitter: brightness, contrast, saturation must be >= 0 and hue in "
                                     "[0, 0.5], got %g, %g, %g, %g", s->a[0], s->a[1], s->a[2], s->a[3]);
            return -1;
        }
        if (s->kind == AUG_BLUR && !(s->a[0] > 0 && s->a[0] <= s->a[1] && isfinite(s->a[1]))) {
            snprintf(err, IR_ERRLEN, "augmentation blur: need 0 < sigma min <= max, got %g:%g", s->a[0], s->a[1]);
            return -1;
        }
    }
    return 0;
}

static int parse_range(const char *v, double *lo, double *hi) {
    char *end;
    errno = 0;
    *lo = strtod(v, &end);
    if (end == v || errno || *end != ':') return -1;
    const char *w = end + 1;
    *hi = strtod(w, &end);
    return (end == w || errno || *end) ? -1 : 0;
}

static int parse_num(const char *v, double *x) {
    char *end;
    errno = 0;
    *x = strtod(v, &end);
    return (end == v || errno || *end || !isfinite(*x)) ? -1 : 0;
}

/* one argument "key=value" or "word" of step s */
static int parse_arg(aug_pipeline *p, aug_step *s, char *arg, char *err) {
    char *eq = strchr(arg, '=');
    const char *nm = kind_names[s->kind];
    int bad = 0;
    if (!eq) {
        if (s->kind == AUG_CROP && !strcmp(arg, "bilinear"))
            s->bicubic = 0;
        else if (s->kind == AUG_CROP && !strcmp(arg, "bicubic"))
            s->bicubic = 1;
        else if (s->kind == AUG_CROP && !strcmp(arg, "local"))
            p->local = 1;
        else
            bad = 1;
    } else {
        *eq = 0;
        const char *k = arg, *v = eq + 1;
        if (!strcmp(k, "p") && s->kind != AUG_CROP)
            bad = parse_num(v, &s->p);
        else if (s->kind == AUG_CROP && !strcmp(k, "scale"))
            bad = parse_range(v, &s->a[0], &s->a[1]);
        else if (s->kind == AUG_CROP && !strcmp(k, "ratio"))
            bad = parse_range(v, &s->a[2], &s->a[3]);
        else if (s->kind == AUG_BLUR && !strcmp(k, "sigma"))
            bad = parse_range(v, &s->a[0], &s->a[1]);
        else if (s->kind == AUG_JITTER && strlen(k) == 1 && strchr("bcsh", k[0]))
            bad = parse_num(v, &s->a[strchr("bcsh", k[0]) - "bcsh"]);
        else
            bad = 1;
        if (bad) *eq = '=';
    }
    if (bad) snprintf(err, IR_ERRLEN, "augmentation %s: cannot use '%s'", nm, arg);
    return bad ? -1 : 0;
}

int aug_pipeline_parse(const char *text, aug_pipeline *p, char *err) {
    memset(p, 0, sizeof *p);
    char buf[1024];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, IR_ERRLEN, "augmentation pipeline text too long (%zu characters)", strlen(text));
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", text);
    char *s = buf;
    for (;;) {
        while (*s == ' ') s++;
        if (!*s) break;
        char *open = strchr(s, '('), *close = open ? strchr(open, ')') : NULL;
        if (!open || !close) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline: expected name(...) at '%.60s'", s);
            return -1;
        }
        *open = 0;
        int kind = -1;
        for (int k = 0; k < AUG__KINDS; k++)
            if (!strcmp(s, kind_names[k])) kind = k;
        if (kind < 0) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline: unknown transform '%.40s' (known: crop, flip, jitter, gray, "
                                     "blur, solarize)", s);
            return -1;
        }
        if (p->nsteps == AUG_MAX_STEPS) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline: more than %d transforms", AUG_MAX_STEPS);
            return -1;
        }
        aug_step *st = &p->steps[p->nsteps++];
        memset(st, 0, sizeof *st);
        st->kind = (aug_kind)kind;
        st->p = kind == AUG_CROP ? 1 : 0.5;
        if (kind == AUG_CROP) st->a[0] = 0.08, st->a[1] = 1, st->a[2] = 3.0 / 4.0, st->a[3] = 4.0 / 3.0;
        if (kind == AUG_BLUR) st->a[0] = 0.1, st->a[1] = 2.0;
        *close = 0;
        for (char *a = open + 1; *a;) {
            char *comma = strchr(a, ',');
            if (comma) *comma = 0;
            if (parse_arg(p, st, a, err)) return -1;
            if (!comma) break;
            a = comma + 1;
        }
        s = close + 1;
    }
    return aug_pipeline_check(p, err);
}

/* ---- the augmentation subgraph ---- */

static const char *param_names[AP__COUNT] = {"box", "flip", "jitter", "order", "gray", "sigma", "solarize"};

static int param_input(ir_graph *g, int view, aug_param k, int64_t B) {
    char name[40];
    snprintf(name, sizeof name, "aug.%d.%s", view, param_names[k]);
    int cols = (k == AP_BOX || k == AP_JITTER || k == AP_ORDER) ? 4 : 0;
    ir_dtype dt = (k == AP_BOX || k == AP_ORDER) ? DT_I32 : DT_F32;
    return ir_input(g, name, dt, cols ? IR_SHAPE(B, cols) : IR_SHAPE(B));
}

int aug_build_view(ir_graph *g, const aug_pipeline *p, int view, int images, int64_t out_h, int64_t out_w,
                   int64_t image_size, const aug_norm *norm) {
    if (g->failed) return -1;
    char err[IR_ERRLEN];
    if (aug_pipeline_check(p, err)) return ir_fail(g, "%s", err);
    const ir_value *im = &g->vals[images];
    if (im->dtype != DT_U8 || im->shape.ndim != 4)
        return ir_fail(g, "augmentation: images must be u8 [B,C,H,W], got %s of rank %d", ir_dtype_name(im->dtype),
                       im->shape.ndim);
    int64_t B = im->shape.d[0], C = im->shape.d[1], H = im->shape.d[2], W = im->shape.d[3];
    int x = -1;
    for (int i = 0; i < g->nnodes && x < 0; i++) /* one ToFloat shared by all views */
        if (g->nodes[i].op == OP_ToFloat && g->nodes[i].in[0] == images) x = g->nodes[i].out[0];
    if (x < 0) x = ir_to_float(g, images);
    int cropped = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        switch (s->kind) {
        case AUG_CROP:
            x = ir_resized_crop(g, x, param_input(g, view, AP_BOX, B), out_h, out_w, s->bicubic);
            cropped = 1;
            break;
        case AUG_FLIP: x = ir_hflip(g, x, param_input(g, view, AP_FLIP, B)); break;
        case AUG_JITTER: {
            int f = param_input(g, view, AP_JITTER, B);
            x = ir_color_jitter(g, x, f, param_input(g, view, AP_ORDER, B));
            break;
        }
        case AUG_GRAY: x = ir_grayscale(g, x, param_input(g, view, AP_GRAY, B)); break;
        case AUG_BLUR:
            x = ir_gaussian_blur(g, x, param_input(g, view, AP_SIGMA, B), (int)aug_blur_kernel(image_size));
            break;
        case AUG_SOLARIZE: x = ir_solarize(g, x, param_input(g, view, AP_SOLARIZE, B), 128.0 / 255.0); break;
        default: return ir_fail(g, "augmentation: unknown step kind %d", (int)s->kind);
        }
        if (x < 0) return -1;
    }
    if (!cropped && (H != out_h || W != out_w))
        return ir_fail(g, "augmentation of view %d: no crop, so the %lldx%lld images cannot become %lldx%lld views", view,
                       (long long)H, (long long)W, (long long)out_h, (long long)out_w);
    if (norm->nmean < 1 || norm->nmean > 3 || norm->nstd < 1 || norm->nstd > 3)
        return ir_fail(g, "augmentation: normalization needs 1..3 means and stds");
    for (int k = 0; k < norm->nstd; k++)
        if (!(norm->std[k] != 0 && isfinite(norm->std[k])))
            return ir_fail(g, "augmentation: normalization std must be finite and nonzero, got %g", norm->std[k]);
    if ((norm->nmean != 1 && norm->nmean != C) || (norm->nstd != 1 && norm->nstd != C))
        return ir_fail(g, "augmentation: %lld-channel images need 1 or %lld normalization means and stds, got %d and %d",
                       (long long)C, (long long)C, norm->nmean, norm->nstd);
    float m[3], sd[3];
    for (int k = 0; k < 3; k++) m[k] = (float)norm->mean[k], sd[k] = (float)norm->std[k];
    int mean = ir_const(g, DT_F32, IR_SHAPE(norm->nmean), m), std = ir_const(g, DT_F32, IR_SHAPE(norm->nstd), sd);
    return ir_normalize(g, x, mean, std);
}

int aug_attach(ir_graph *g, const ir_graph *method, const aug_recipe *r, int64_t src_h, int64_t src_w,
               int64_t image_size, const aug_norm *norm, int *map, char *err) {
    for (int v = 0; v < method->nvals; v++) map[v] = -1;
    int images = -1, nviews = 0;
    for (int k = 0; k < AUG_MAX_VIEWS; k++) {
        char name[32];
        snprintf(name, sizeof name, "views.%d", k);
        int v = ir_find_value(method, name);
        if (v < 0) break;
        const ir_value *val = &method->vals[v];
        if (val->kind != VK_INPUT || val->dtype != DT_F32 || val->shape.ndim != 4) {
            snprintf(err, IR_ERRLEN, "augmentation: %s of the method graph is not a float32 [B,C,H,W] input", name);
            return -1;
        }
        if (images < 0) {
            if (src_h < 1 || src_w < 1 || src_h > 65536 || src_w > 65536) {
                snprintf(err, IR_ERRLEN, "augmentation: source image size %lldx%lld is out of range", (long long)src_h,
                         (long long)src_w);
                return -1;
            }
            images = ir_input(g, "images", DT_U8, IR_SHAPE(val->shape.d[0], val->shape.d[1], src_h, src_w));
        }
        const ir_shape *is = &g->vals[images].shape;
        if (val->shape.d[0] != is->d[0] || val->shape.d[1] != is->d[1]) {
            snprintf(err, IR_ERRLEN, "augmentation: %s has batch %lld and %lld channels, views.0 %lld and %lld", name,
                     (long long)val->shape.d[0], (long long)val->shape.d[1], (long long)is->d[0], (long long)is->d[1]);
            return -1;
        }
        int y = aug_build_view(g, aug_recipe_view(r, k), k, images, val->shape.d[2], val->shape.d[3], image_size, norm);
        if (y < 0) {
            snprintf(err, IR_ERRLEN, "augmentation (%s recipe) of %s: %.400s", r->name, name, g->err);
            return -1;
        }
        ir_set_name(g, y, name);
        map[v] = y;
        nviews++;
    }
    if (nviews == 0) {
        snprintf(err, IR_ERRLEN, "augmentation: the method graph has no views.0 input");
        return -1;
    }
    if (ir_graph_append(g, method, map)) {
        snprintf(err, IR_ERRLEN, "augmentation: %.400s", g->err);
        return -1;
    }
    return 0;
}

int aug_plan_options(sslc_plan *p, const ir_graph *g, const aug_recipe *r, char *err) {
    for (int k = 0; k < AUG_MAX_VIEWS; k++) {
        char name[32], key[32], text[AUG_TEXTLEN];
        snprintf(name, sizeof name, "views.%d", k);
        if (ir_find_value(g, name) < 0) break;
        snprintf(key, sizeof key, "aug.view.%d", k);
        if (aug_pipeline_format(aug_recipe_view(r, k), text, sizeof text)) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline of view %d does not fit in a plan option", k);
            return -1;
        }
        if (plan_set_option(p, key, text, err)) return -1;
    }
    return 0;
}

/* ---- binding and drawing ---- */

static int kind_params(aug_kind k, aug_param *out) {
    switch (k) {
    case AUG_CROP: out[0] = AP_BOX; return 1;
    case AUG_FLIP: out[0] = AP_FLIP; return 1;
    case AUG_JITTER: out[0] = AP_JITTER, out[1] = AP_ORDER; return 2;
    case AUG_GRAY: out[0] = AP_GRAY; return 1;
    case AUG_BLUR: out[0] = AP_SIGMA; return 1;
    case AUG_SOLARIZE: out[0] = AP_SOLARIZE; return 1;
    default: return 0;
    }
}

void aug_unbind(aug_binding *b) {
    for (int i = 0; i < b->ninputs; i++) free(b->in[i].data);
    memset(b, 0, sizeof *b);
}

int aug_bind(aug_binding *b, const ir_graph *g, const aug_pipeline *const *pipes, const int *view_ids, int n, char *err) {
    memset(b, 0, sizeof *b);
    b->images = -1;
    if (n < 0 || n > AUG_MAX_VIEWS) {
        snprintf(err, IR_ERRLEN, "augmentation: %d views (at most %d)", n, AUG_MAX_VIEWS);
        return -1;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < AP__COUNT; k++) b->slot[i][k] = -1;
    int images = ir_find_value(g, "images");
    if (n > 0) {
        const ir_value *im = images >= 0 ? &g->vals[images] : NULL;
        if (!im || im->kind != VK_INPUT || im->dtype != DT_U8 || im->shape.ndim != 4) {
            snprintf(err, IR_ERRLEN, "augmentation: the graph has no input 'images' (u8 [B,C,H,W])");
            return -1;
        }
        b->images = images;
        b->batch = im->shape.d[0], b->src_c = im->shape.d[1], b->src_h = im->shape.d[2], b->src_w = im->shape.d[3];
    }
    b->nviews = n;
    for (int i = 0; i < n; i++) {
        if (aug_pipeline_check(pipes[i], err)) return -1;
        b->pipe[i] = *pipes[i];
        b->view_id[i] = view_ids[i];
        for (int j = 0; j < i; j++)
            if (view_ids[j] == view_ids[i]) {
                snprintf(err, IR_ERRLEN, "augmentation: view %d bound twice", view_ids[i]);
                aug_unbind(b);
                return -1;
            }
        for (int s = 0; s < b->pipe[i].nsteps; s++) {
            aug_param ps[2];
            int np = kind_params(b->pipe[i].steps[s].kind, ps);
            for (int q = 0; q < np; q++) {
                aug_input *in = &b->in[b->ninputs];
                snprintf(in->name, sizeof in->name, "aug.%d.%s", view_ids[i], param_names[ps[q]]);
                int cols = (ps[q] == AP_BOX || ps[q] == AP_JITTER || ps[q] == AP_ORDER) ? 4 : 0;
                in->dtype = (ps[q] == AP_BOX || ps[q] == AP_ORDER) ? DT_I32 : DT_F32;
                in->numel = b->batch * (cols ? cols : 1);
                in->view = i;
                in->param = ps[q];
                in->value = ir_find_value(g, in->name);
                ir_shape want = cols ? IR_SHAPE(b->batch, cols) : IR_SHAPE(b->batch);
                const ir_value *v = in->value >= 0 ? &g->vals[in->value] : NULL;
                if (!v || v->kind != VK_INPUT || v->dtype != in->dtype || !ir_shape_eq(&v->shape, &want)) {
                    char sb[64];
                    ir_shape_str(&want, sb, sizeof sb);
                    snprintf(err, IR_ERRLEN, "augmentation: the graph has no input %s (%s %s) for the %s step of view %d",
                             in->name, ir_dtype_name(in->dtype), sb, kind_names[b->pipe[i].steps[s].kind], view_ids[i]);
                    aug_unbind(b);
                    return -1;
                }
                in->data = calloc((size_t)in->numel, 4);
                if (!in->data) {
                    snprintf(err, IR_ERRLEN, "augmentation: out of memory");
                    aug_unbind(b);
                    return -1;
                }
                b->slot[i][ps[q]] = b->ninputs++;
            }
        }
    }
    /* every aug.* input of the graph must be fed */
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || !val->name || strncmp(val->name, "aug.", 4)) continue;
        int found = 0;
        for (int i = 0; i < b->ninputs && !found; i++) found = b->in[i].value == v;
        if (!found) {
            snprintf(err, IR_ERRLEN, "augmentation: graph input %s belongs to no bound pipeline step", val->name);
            aug_unbind(b);
            return -1;
        }
    }
    return 0;
}

int aug_bind_plan(aug_binding *b, const sslc_plan *p, char *err) {
    aug_pipeline pipes[AUG_MAX_VIEWS];
    const aug_pipeline *pp[AUG_MAX_VIEWS];
    int ids[AUG_MAX_VIEWS], n = 0;
    for (int k = 0; k < AUG_MAX_VIEWS; k++) {
        char key[32];
        snprintf(key, sizeof key, "aug.view.%d", k);
        const char *text = plan_get_option(p, key);
        if (!text) continue;
        char e2[IR_ERRLEN];
        if (aug_pipeline_parse(text, &pipes[n], e2)) {
            snprintf(err, IR_ERRLEN, "plan option %s: %.400s", key, e2);
            return -1;
        }
        pp[n] = &pipes[n];
        ids[n++] = k;
    }
    return aug_bind(b, &p->train, pp, ids, n, err);
}

/* splitmix64 finalizer */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void aug_rng(sslc_rng *r, uint64_t seed, int64_t step, int view, int64_t b) {
    uint64_t s = mix64(seed ^ mix64((uint64_t)step ^ 0x6175676D656E7400ULL)); /* "augment" */
    rng_seed(r, s, ((uint64_t)(unsigned)view << 40) ^ (uint64_t)b);
}

/* torch.empty(1).uniform_(lo, hi).item(): a float32 draw */
static double uniform_f(sslc_rng *r, double lo, double hi) { return (float)(lo + (hi - lo) * rng_uniform(r)); }

/* torch.randint(0, n): uniform integer in [0, n) without modulo bias */
static int64_t randint(sslc_rng *r, int64_t n) {
    if (n <= 1) return 0;
    uint32_t un = (uint32_t)n, lim = (uint32_t)(-un) % un, x;
    do x = rng_u32(r);
    while (x < lim);
    return (int64_t)(x % un);
}

void aug_sample_crop(sslc_rng *r, int64_t H, int64_t W, const double scale[2], const double ratio[2], int32_t box[4]) {
    double area = (double)H * (double)W;
    double lr0 = (float)log((float)ratio[0]), lr1 = (float)log((float)ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform_f(r, scale[0], scale[1]);
        double aspect = (float)exp(uniform_f(r, lr0, lr1));
        int64_t w = (int64_t)rint(sqrt(target * aspect)), h = (int64_t)rint(sqrt(target / aspect));
        if (0 < w && w <= W && 0 < h && h <= H) {
            box[0] = (int32_t)randint(r, H - h + 1);
            box[1] = (int32_t)randint(r, W - w + 1);
            box[2] = (int32_t)h, box[3] = (int32_t)w;
            return;
        }
    }
    /* fallback: central crop */
    double in_ratio = (double)W / (double)H, rmin = fmin(ratio[0], ratio[1]), rmax = fmax(ratio[0], ratio[1]);
    int64_t w, h;
    if (in_ratio < rmin) {
        w = W;
        h = (int64_t)rint((double)w / rmin);
    } else if (in_ratio > rmax) {
        h = H;
        w = (int64_t)rint((double)h * rmax);
    } else {
        w = W;
        h = H;
    }
    box[0] = (int32_t)((H - h) / 2), box[1] = (int32_t)((W - w) / 2), box[2] = (int32_t)h, box[3] = (int32_t)w;
}

/* RandomApply: applied unless p < rand (no draw when p >= 1) */
static int random_apply(sslc_rng *r, double p) { return p >= 1 || !(p < rng_uniform(r)); }

void aug_sample(sslc_rng *r, const aug_pipeline *p, int64_t H, int64_t W, int32_t box[4], float *flip,
                float jitter[4], int32_t order[4], float *gray, float *sigma, float *solarize) {
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        switch (s->kind) {
        case AUG_CROP: {
            int32_t bx[4];
            aug_sample_crop(r, H, W, s->a, s->a + 2, bx);
            if (box) memcpy(box, bx, sizeof bx);
            break;
        }
        case AUG_FLIP: {
            float f = rng_uniform(r) < s->p ? 1.0f : 0.0f;
            if (flip) *flip = f;
            break;
        }
        case AUG_JITTER: {
            float fac[4] = {1, 1, 1, 0};
            int32_t ord[4] = {-1, -1, -1, -1};
            if (random_apply(r, s->p)) {
                int perm[4] = {0, 1, 2, 3};
                for (int k = 3; k > 0; k--) { /* randperm(4) */
                    int j = (int)randint(r, k + 1), t = perm[k];
                    perm[k] = perm[j], perm[j] = t;
                }
                int present[4];
                for (int k = 0; k < 4; k++) { /* ColorJitter._check_input: [max(0, 1-x), 1+x], hue [-h, h] */
                    double x = s->a[k], lo = k < 3 ? fmax(0.0, 1 - x) : -x, hi = k < 3 ? 1 + x : x;
                    present[k] = x != 0;
                    if (present[k]) fac[k] = (float)uniform_f(r, lo, hi);
                }
                for (int k = 0; k < 4; k++) ord[k] = present[perm[k]] ? perm[k] : -1;
            }
            if (jitter) memcpy(jitter, fac, sizeof fac);
            if (order) memcpy(order, ord, sizeof ord);
            break;
        }
        case AUG_GRAY: {
            float f = rng_uniform(r) < s->p ? 1.0f : 0.0f;
            if (gray) *gray = f;
            break;
        }
        case AUG_BLUR: {
            float sg = random_apply(r, s->p) ? (float)uniform_f(r, s->a[0], s->a[1]) : 0.0f;
            if (sigma) *sigma = sg;
            break;
        }
        case AUG_SOLARIZE: {
            float f = rng_uniform(r) < s->p ? 1.0f : 0.0f;
            if (solarize) *solarize = f;
            break;
        }
        default: break;
        }
    }
}

int aug_draw(aug_binding *b, uint64_t seed, int64_t step, char *err) {
    (void)err;
    for (int i = 0; i < b->nviews; i++) {
        const int *sl = b->slot[i];
#define PTR(k, T, cols) (sl[k] >= 0 ? (T *)b->in[sl[k]].data + (cols) * s : NULL)
        for (int64_t s = 0; s < b->batch; s++) {
            sslc_rng r;
            aug_rng(&r, seed, step, b->view_id[i], s);
            aug_sample(&r, &b->pipe[i], b->src_h, b->src_w, PTR(AP_BOX, int32_t, 4), PTR(AP_FLIP, float, 1),
                       PTR(AP_JITTER, float, 4), PTR(AP_ORDER, int32_t, 4), PTR(AP_GRAY, float, 1),
                       PTR(AP_SIGMA, float, 1), PTR(AP_SOLARIZE, float, 1));
        }
#undef PTR
    }
    return 0;
}

int aug_feed_interp(const aug_binding *b, interp *it, char *err) {
    for (int i = 0; i < b->ninputs; i++) {
        const aug_input *in = &b->in[i];
        if (in->dtype == DT_F32) {
            if (interp_set_f32(it, in->value, in->data, err)) return -1;
        } else {
            void *d = interp_data(it, in->value);
            if (!d) {
                snprintf(err, IR_ERRLEN, "augmentation: input %s is not materialized", in->name);
                return -1;
            }
            memcpy(d, in->data, (size_t)in->numel * 4);
        }
    }
    return 0;
}
