/* Augmentation recipes (PySSL's builders as tables), the augmentation subgraph and the plan
 * options recording each view's pipeline. See augment_build.h. */
#include "augment_build.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"
#include "../ir/compose.h"

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

/* VICReg (facebookresearch/vicreg augmentations.py, BYOL's) and NNCLR: TrainTransform / transform_prime,
 * blur always in the first view, rarely in the second; the first view's Solarization(p=0.0)
 * never fires and is left out */
static const aug_pipeline vicreg_view0 =
    PIPE(CROP(0.08, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(1.0));
static const aug_pipeline vicreg_view1 =
    PIPE(CROP(0.08, 1.0, 1), FLIP(0.5), JITTER(0.8, 0.4, 0.4, 0.2, 0.1), GRAY(0.2), BLUR(0.1), SOLARIZE(0.2));

/* MAE (facebookresearch/mae main_pretrain.py): RandomResizedCrop(scale=(0.2, 1.0), bicubic), flip;
 * one view */
static const aug_pipeline mae_view = PIPE(CROP(0.2, 1.0, 1), FLIP(0.5));

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
    {"vicreg", &vicreg_view0, &vicreg_view1, NULL},
    /* NNCLR: "the same augmentations as BYOL" (the paper), solo-learn's asymmetric ones */
    {"nnclr", &vicreg_view0, &vicreg_view1, NULL},
    {"mae", &mae_view, &mae_view, NULL},
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

/* ---- the augmentation subgraph ---- */

static int param_input(ir_graph *g, int view, aug_param k, int64_t B) {
    char name[40];
    ir_dtype dt;
    ir_shape s;
    if (aug_param_input(view, k, B, name, sizeof name, &dt, &s))
        return ir_fail(g, "augmentation: parameter %d out of range", (int)k);
    return ir_input(g, name, dt, s);
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
