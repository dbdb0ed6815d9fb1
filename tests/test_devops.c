/* Device library ops (runtime/devops.h): every op with a device kernel, on every case below,
 * gives through the kernels' C twins exactly the bytes of the op table's reference kernel (the
 * twins are what the driver stand-in runs, so the cuda backend's CI test can be bit-identical
 * to the cpu backend); every op that a compiled step leaves as a library call and no GPU
 * library runs has a device kernel; and the kernels' CUDA source compiles with NVRTC for sm_80
 * and sm_90 where NVRTC is installed. */
#include <stdlib.h>
#include <string.h>

#include "codegen/nvrtc.h"
#include "ir/builder.h"
#include "optest.h"
#include "runtime/devops.h"
#include "runtime/interp.h"

/* a case: builds a graph whose node `*node` is the op under test, on inputs the harness fills */
typedef struct {
    const char *label;
    int (*build)(ir_graph *g, int *node);
} devop_case;

/* ---- cases (one or more per op; each family adds its own) ---- */

static int cast_case(ir_graph *g, int *node, ir_dtype from, ir_dtype to) {
    int x = ir_input(g, "x", from, IR_SHAPE(3, 5, 7));
    int y = ir_cast(g, x, to);
    if (y < 0) return -1;
    ir_add_output(g, y);
    *node = g->nnodes - 1;
    return 0;
}
static int cast_f32_i64(ir_graph *g, int *node) { return cast_case(g, node, DT_F32, DT_I64); }
static int cast_f32_u8(ir_graph *g, int *node) { return cast_case(g, node, DT_F32, DT_U8); }
static int cast_i64_f32(ir_graph *g, int *node) { return cast_case(g, node, DT_I64, DT_F32); }
static int cast_bool_i32(ir_graph *g, int *node) { return cast_case(g, node, DT_BOOL, DT_I32); }
static int cast_u8_bool(ir_graph *g, int *node) { return cast_case(g, node, DT_U8, DT_BOOL); }

/* ---- augmentation ops (runtime/devops/augment.c): images in [0,1] with ties (gray pixels,
 * equal channels, 0, 1, the solarize threshold), from u8 through ToFloat, finite out of range
 * ([-2,3]: clamps, negative hues), or the harness's wild floats (NaN, infinities). Wild images
 * only go to ops that combine at most one NaN per operation: where two NaNs meet (a NaN input
 * and inf - inf, say) which one survives depends on how the compiler ordered the operands of a
 * commutative operation, so the NaN's sign bit is not the kernel's to reproduce. Per-sample
 * parameters are valid constants. ---- */

enum { AUG_UNIT, AUG_U8, AUG_RANGE, AUG_WILD };

static int aug_image(ir_graph *g, int kind, int64_t B, int64_t C, int64_t H, int64_t W) {
    ir_shape s = IR_SHAPE(B, C, H, W);
    if (kind == AUG_WILD) return ir_input(g, "x", DT_F32, s);
    if (kind == AUG_U8) return ir_to_float(g, ir_input(g, "x", DT_U8, s));
    int64_t n = B * C * H * W, HW = H * W;
    float *v = malloc((size_t)n * sizeof *v);
    uint64_t st = 0x2545F4914F6CDD1Dull ^ (uint64_t)n;
    for (int64_t i = 0; i < n; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        double u = (double)(st >> 40) / 16777216.0;
        v[i] = (float)(kind == AUG_RANGE ? -2 + 5 * u : u);
        if (i % 23 == 4) v[i] = 0;
        if (i % 29 == 5) v[i] = 1;
        if (i % 31 == 6) v[i] = (float)(128.0 / 255.0);
    }
    if (C == 3)
        for (int64_t b = 0; b < B; b++)
            for (int64_t px = 0; px < HW; px++) {
                float *p = v + b * 3 * HW + px;
                if (px % 5 == 0) p[HW] = p[2 * HW] = p[0]; /* gray */
                if (px % 5 == 1) p[HW] = p[0];             /* r == g */
                if (px % 7 == 2) p[2 * HW] = p[HW];        /* g == b */
            }
    int x = ir_const(g, DT_F32, s, v);
    free(v);
    return x;
}

static int aug_done(ir_graph *g, int *node, int y) {
    if (y < 0) return -1;
    ir_add_output(g, y);
    *node = g->nnodes - 1;
    return 0;
}

/* per-sample values, sample b taking vals[b % nvals] */
static int aug_per_sample_f32(ir_graph *g, int64_t B, int64_t cols, const float *vals, int64_t nvals) {
    int64_t n = B * (cols ? cols : 1);
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = vals[i % nvals];
    int id = ir_const(g, DT_F32, cols ? IR_SHAPE(B, cols) : IR_SHAPE(B), v);
    free(v);
    return id;
}

static int to_float_4d(ir_graph *g, int *node) {
    return aug_done(g, node, ir_to_float(g, ir_input(g, "x", DT_U8, IR_SHAPE(2, 3, 5, 7))));
}
static int to_float_1d(ir_graph *g, int *node) {
    return aug_done(g, node, ir_to_float(g, ir_input(g, "x", DT_U8, IR_SHAPE(1000))));
}

/* boxes (top, left, height, width) inside 9x11: the whole image, inside, one pixel, full width */
static const int32_t crop_boxes[] = {0, 0, 9, 11, 2, 3, 4, 5, 8, 10, 1, 1, 1, 0, 7, 11, 0, 4, 9, 2};
static int crop_case(ir_graph *g, int *node, int kind, int64_t C, int64_t OH, int64_t OW, int cubic) {
    int x = aug_image(g, kind, 5, C, 9, 11);
    int box = ir_const(g, DT_I32, IR_SHAPE(5, 4), crop_boxes);
    return aug_done(g, node, ir_resized_crop(g, x, box, OH, OW, cubic));
}
static int crop_bilinear_c3(ir_graph *g, int *node) { return crop_case(g, node, AUG_UNIT, 3, 5, 7, 0); }
static int crop_bilinear_same(ir_graph *g, int *node) { return crop_case(g, node, AUG_U8, 1, 9, 11, 0); }
static int crop_bilinear_range(ir_graph *g, int *node) { return crop_case(g, node, AUG_RANGE, 3, 13, 16, 0); }
static int crop_bicubic_c3(ir_graph *g, int *node) { return crop_case(g, node, AUG_UNIT, 3, 13, 16, 1); }
static int crop_bicubic_c1(ir_graph *g, int *node) { return crop_case(g, node, AUG_UNIT, 1, 6, 4, 1); }
static int crop_bicubic_c2_range(ir_graph *g, int *node) { return crop_case(g, node, AUG_RANGE, 2, 9, 11, 1); }

/* flags: on, off, any non-zero is on, -0 is off, NaN is on */
static const float aug_flags[] = {1, 0, 0.5f, -0.0f, NAN, 0};
static int flag_case(ir_graph *g, int *node, int op, int kind, int64_t C, double thr) {
    int x = aug_image(g, kind, 6, C, 5, 7);
    int flag = aug_per_sample_f32(g, 6, 0, aug_flags, 6);
    int y = op == OP_HorizontalFlip ? ir_hflip(g, x, flag)
            : op == OP_Grayscale    ? ir_grayscale(g, x, flag)
                                    : ir_solarize(g, x, flag, thr);
    return aug_done(g, node, y);
}
static const double solarize_def = 128.0 / 255.0; /* the attribute's default */
static int hflip_c3(ir_graph *g, int *node) { return flag_case(g, node, OP_HorizontalFlip, AUG_UNIT, 3, 0); }
static int hflip_c1_wild(ir_graph *g, int *node) { return flag_case(g, node, OP_HorizontalFlip, AUG_WILD, 1, 0); }
static int hflip_c3_u8(ir_graph *g, int *node) { return flag_case(g, node, OP_HorizontalFlip, AUG_U8, 3, 0); }
static int gray_c3(ir_graph *g, int *node) { return flag_case(g, node, OP_Grayscale, AUG_UNIT, 3, 0); }
static int gray_c1(ir_graph *g, int *node) { return flag_case(g, node, OP_Grayscale, AUG_UNIT, 1, 0); }
static int gray_c3_u8(ir_graph *g, int *node) { return flag_case(g, node, OP_Grayscale, AUG_U8, 3, 0); }
static int gray_c3_wild(ir_graph *g, int *node) { return flag_case(g, node, OP_Grayscale, AUG_WILD, 3, 0); }
static int solarize_c3(ir_graph *g, int *node) { return flag_case(g, node, OP_Solarize, AUG_UNIT, 3, solarize_def); }
static int solarize_c3_u8(ir_graph *g, int *node) { return flag_case(g, node, OP_Solarize, AUG_U8, 3, solarize_def); }
static int solarize_c1_thr(ir_graph *g, int *node) { return flag_case(g, node, OP_Solarize, AUG_UNIT, 1, 0.3); }
static int solarize_c3_wild(ir_graph *g, int *node) { return flag_case(g, node, OP_Solarize, AUG_WILD, 3, 0.1); }

static int normalize_case(ir_graph *g, int *node, int kind, int64_t C, int64_t nm, int64_t ns) {
    static const float mean[] = {0.485f, 0.456f, 0.406f}, std[] = {0.229f, 0.224f, 0.225f};
    int x = aug_image(g, kind, 2, C, 6, 5);
    int m = ir_const(g, DT_F32, IR_SHAPE(nm), mean), s = ir_const(g, DT_F32, IR_SHAPE(ns), std);
    return aug_done(g, node, ir_normalize(g, x, m, s));
}
static int normalize_c3(ir_graph *g, int *node) { return normalize_case(g, node, AUG_UNIT, 3, 3, 3); }
static int normalize_c3_scalar(ir_graph *g, int *node) { return normalize_case(g, node, AUG_U8, 3, 1, 1); }
static int normalize_c3_mixed(ir_graph *g, int *node) { return normalize_case(g, node, AUG_UNIT, 3, 3, 1); }
static int normalize_c1(ir_graph *g, int *node) { return normalize_case(g, node, AUG_UNIT, 1, 1, 1); }
static int normalize_c3_wild(ir_graph *g, int *node) { return normalize_case(g, node, AUG_WILD, 3, 1, 3); }

/* (brightness, contrast, saturation, hue) and orders as runtime/augment.c draws them (a
 * permutation, -1 for an absent factor or RandomApply's off), plus a repeated contrast */
static const float jitter_factors[] = {
    1.3f, 0.6f, 1.5f, 0.1f,  0.7f, 1.4f, 0.2f, -0.3f, 1, 1,    1,    0,    1.8f, 0, 0,    0.5f,
    0.2f, 1.9f, 1.1f, -0.5f, 2,    1,    1,   0.25f,  0, 0.8f, 1.2f, 0.05f, 1.1f, 0.9f, 1.3f, -0.12f,
};
static const int32_t jitter_order[] = {
    0, 1, 2, 3, 3, 2, 1, 0, -1, -1, -1, -1, 2, -1, 1, 3, 1, 0, 1, -1, -1, 3, -1, 0, 0, 1, 2, -1, 2, 3, 0, 1,
};
static int jitter_case(ir_graph *g, int *node, int kind, int64_t C, int64_t H, int64_t W) {
    int x = aug_image(g, kind, 8, C, H, W);
    int fac = ir_const(g, DT_F32, IR_SHAPE(8, 4), jitter_factors);
    int ord = ir_const(g, DT_I32, IR_SHAPE(8, 4), jitter_order);
    return aug_done(g, node, ir_color_jitter(g, x, fac, ord));
}
static int jitter_c3(ir_graph *g, int *node) { return jitter_case(g, node, AUG_UNIT, 3, 7, 9); }
static int jitter_c3_large(ir_graph *g, int *node) { return jitter_case(g, node, AUG_UNIT, 3, 32, 40); }
static int jitter_c1(ir_graph *g, int *node) { return jitter_case(g, node, AUG_UNIT, 1, 7, 9); }
static int jitter_c3_u8(ir_graph *g, int *node) { return jitter_case(g, node, AUG_U8, 3, 7, 9); }
static int jitter_c3_range(ir_graph *g, int *node) { return jitter_case(g, node, AUG_RANGE, 3, 7, 9); }

/* sigmas: 0 and negative and NaN (no blur), small, large, tiny */
static const float blur_sigmas[] = {0, 0.7f, 1.5f, -1, 3.0f, 1e-3f, NAN, 0.1f};
static int blur_case(ir_graph *g, int *node, int kind, int64_t C, int64_t H, int64_t W, int K) {
    int x = aug_image(g, kind, 8, C, H, W);
    int sigma = aug_per_sample_f32(g, 8, 0, blur_sigmas, 8);
    return aug_done(g, node, ir_gaussian_blur(g, x, sigma, K));
}
static int blur_k3_c3(ir_graph *g, int *node) { return blur_case(g, node, AUG_UNIT, 3, 8, 10, 3); }
static int blur_k5_c1_u8(ir_graph *g, int *node) { return blur_case(g, node, AUG_U8, 1, 6, 9, 5); }
static int blur_k9_c3(ir_graph *g, int *node) { return blur_case(g, node, AUG_UNIT, 3, 12, 5, 9); }
static int blur_k1_c1(ir_graph *g, int *node) { return blur_case(g, node, AUG_UNIT, 1, 4, 4, 1); }
static int blur_k23_c1(ir_graph *g, int *node) { return blur_case(g, node, AUG_UNIT, 1, 24, 26, 23); }
static int blur_k5_c3_range(ir_graph *g, int *node) { return blur_case(g, node, AUG_RANGE, 3, 7, 6, 5); }

/* f64 images (a float64 plan) are refused by prepare, with the op's name */
static int aug_refusals(void) {
    static int (*const build[])(ir_graph *, int *) = {to_float_4d, crop_bicubic_c1, hflip_c3, jitter_c3,
                                                      gray_c3,     blur_k3_c3,      solarize_c3, normalize_c3};
    int fails = 0;
    for (size_t k = 0; k < sizeof build / sizeof build[0]; k++) {
        ir_graph g;
        ir_graph_init(&g);
        int node = -1;
        char err[IR_ERRLEN] = "";
        if (build[k](&g, &node) == 0 && node >= 0) {
            const ir_node *n = &g.nodes[node];
            ref_call c;
            memset(&c, 0, sizeof c);
            c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
            for (int j = 0; j < n->nin; j++) {
                c.in[j].dtype = g.vals[n->in[j]].dtype, c.in[j].shape = g.vals[n->in[j]].shape;
                c.in[j].numel = ir_numel(&c.in[j].shape);
                if (c.in[j].dtype == DT_F32) c.in[j].dtype = DT_F64;
            }
            c.out[0].dtype = DT_F64, c.out[0].shape = g.vals[n->out[0]].shape;
            c.out[0].numel = ir_numel(&c.out[0].shape);
            devop_launch l[DEVOP_MAX_LAUNCHES];
            const char *name = ir_optable[n->op]->name;
            const devop_def *d = devop_find(n->op);
            if (d && d->prepare(&c, NULL, l, err) < 0 && strstr(err, name) && !strchr(err, '\n'))
                printf("ok   %-40s refused: %s\n", "f64 images", err);
            else {
                fprintf(stderr, "FAIL %s on f64 is not refused with its name (%s)\n", name, err);
                fails++;
            }
        } else {
            fprintf(stderr, "FAIL refusal case %zu: building: %s\n", k, g.err);
            fails++;
        }
        ir_graph_free(&g);
    }
    return fails;
}

static const devop_case cases[] = {
    {"Cast f32->i64", cast_f32_i64}, {"Cast f32->u8", cast_f32_u8},   {"Cast i64->f32", cast_i64_f32},
    {"Cast bool->i32", cast_bool_i32}, {"Cast u8->bool", cast_u8_bool},
    /* augmentation ops (runtime/devops/augment.c) */
    {"ToFloat u8 [2,3,5,7]", to_float_4d},
    {"ToFloat u8 [1000]", to_float_1d},
    {"ResizedCrop bilinear C=3", crop_bilinear_c3},
    {"ResizedCrop bilinear C=1 u8 same size", crop_bilinear_same},
    {"ResizedCrop bilinear C=3 [-2,3] up", crop_bilinear_range},
    {"ResizedCrop bicubic C=3 up", crop_bicubic_c3},
    {"ResizedCrop bicubic C=1 down", crop_bicubic_c1},
    {"ResizedCrop bicubic C=2 [-2,3]", crop_bicubic_c2_range},
    {"HorizontalFlip C=3", hflip_c3},
    {"HorizontalFlip C=1 wild", hflip_c1_wild},
    {"HorizontalFlip C=3 u8", hflip_c3_u8},
    {"Grayscale C=3", gray_c3},
    {"Grayscale C=1", gray_c1},
    {"Grayscale C=3 u8", gray_c3_u8},
    {"Grayscale C=3 wild", gray_c3_wild},
    {"Solarize C=3 default threshold", solarize_c3},
    {"Solarize C=3 u8 default threshold", solarize_c3_u8},
    {"Solarize C=1 threshold 0.3", solarize_c1_thr},
    {"Solarize C=3 wild threshold 0.1", solarize_c3_wild},
    {"Normalize C=3 mean[3] std[3]", normalize_c3},
    {"Normalize C=3 u8 mean[1] std[1]", normalize_c3_scalar},
    {"Normalize C=3 mean[3] std[1]", normalize_c3_mixed},
    {"Normalize C=1 mean[1] std[1]", normalize_c1},
    {"Normalize C=3 wild mean[1] std[3]", normalize_c3_wild},
    {"ColorJitter C=3", jitter_c3},
    {"ColorJitter C=3 32x40", jitter_c3_large},
    {"ColorJitter C=1", jitter_c1},
    {"ColorJitter C=3 u8", jitter_c3_u8},
    {"ColorJitter C=3 [-2,3]", jitter_c3_range},
    {"GaussianBlur k=3 C=3", blur_k3_c3},
    {"GaussianBlur k=5 C=1 u8", blur_k5_c1_u8},
    {"GaussianBlur k=9 C=3", blur_k9_c3},
    {"GaussianBlur k=1 C=1", blur_k1_c1},
    {"GaussianBlur k=23 C=1 24x26", blur_k23_c1},
    {"GaussianBlur k=5 C=3 [-2,3]", blur_k5_c3_range},
    /* end of augmentation ops */
};

/* ---- harness ---- */

/* inputs: floats in [-300, 300] with a few exact integers, NaN and infinities (casts, clamps),
 * integers in [-5, 300], booleans 0/1 */
static void fill(ref_tensor *t, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < t->numel; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        double f = -300 + 600 * u;
        if (i % 17 == 3) f = (double)(int64_t)f;
        if (i == 5) f = NAN;
        if (i == 6) f = INFINITY;
        if (i == 7) f = -INFINITY;
        int64_t k = (int64_t)(u * 306) - 5;
        switch (t->dtype) {
        case DT_F32: ((float *)t->data)[i] = (float)f; break;
        case DT_F64: ((double *)t->data)[i] = f; break;
        case DT_I32: ((int32_t *)t->data)[i] = (int32_t)k; break;
        case DT_I64: ((int64_t *)t->data)[i] = k; break;
        case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)(k & 255); break;
        default: ((uint8_t *)t->data)[i] = (uint8_t)(k & 1); break;
        }
    }
}

static size_t bytes_of(const ref_tensor *t) { return (size_t)t->numel * ir_dtype_size(t->dtype); }

static int run_case(const devop_case *dc, unsigned char *covered) {
    ir_graph g;
    ir_graph_init(&g);
    int node = -1;
    char err[IR_ERRLEN];
    CHECK(dc->build(&g, &node) == 0 && !g.failed && node >= 0, "%s: building: %s", dc->label, g.err);
    const ir_node *n = &g.nodes[node];
    const devop_def *d = devop_find(n->op);
    CHECK(d, "%s: %s has no device kernel", dc->label, ir_optable[n->op]->name);
    covered[n->op] = 1;
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0, "%s: %s", dc->label, err);
    it.keep_all = 1;
    for (int v = 0; v < g.nvals; v++)
        if (g.vals[v].kind == VK_INPUT || g.vals[v].kind == VK_PARAM || g.vals[v].kind == VK_STATE)
            fill(&it.t[v], (uint64_t)v + 11);
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    /* the node's inputs as they are before it runs (state it updates in place included) */
    void *saved[IR_MAX_IN] = {0};
    for (int k = 0; k < n->nin; k++) {
        const ref_tensor *t = &it.t[n->in[k]];
        if (!t->data) continue; /* computed by an earlier node: copied after the run */
        saved[k] = malloc(bytes_of(t) + 1);
        memcpy(saved[k], t->data, bytes_of(t));
    }
    CHECK(interp_run(&it, err) == 0, "%s: reference: %s", dc->label, err);
    for (int k = 0; k < n->nin; k++) {
        c.in[k] = it.t[n->in[k]];
        c.in[k].data = malloc(bytes_of(&c.in[k]) + 1);
        memcpy(c.in[k].data, saved[k] ? saved[k] : it.t[n->in[k]].data, bytes_of(&c.in[k]));
    }
    for (int k = 0; k < n->nout; k++) {
        c.out[k] = it.t[n->out[k]];
        c.out[k].data = malloc(bytes_of(&c.out[k]) + 1);
        memset(c.out[k].data, 0xA5, bytes_of(&c.out[k])); /* unwritten bytes show */
    }
    int64_t ws_bytes = d->scratch ? d->scratch(&c) : 0;
    void *ws = ws_bytes ? aligned_alloc(64, (size_t)(ws_bytes + 63) / 64 * 64) : NULL;
    int rc = devop_run_twins(&c, ws, err);
    int bad = rc != 0;
    if (rc) fprintf(stderr, "FAIL %s: twins: %s\n", dc->label, err);
    for (int k = 0; k < n->nout && !rc; k++)
        if (memcmp(c.out[k].data, it.t[n->out[k]].data, bytes_of(&c.out[k]))) {
            fprintf(stderr, "FAIL %s: output %d differs from the reference kernel\n", dc->label, k);
            bad = 1;
        }
    /* ops that update an input in place (QueueWrite) compare that input too */
    for (int k = 0; k < n->nin && !rc; k++)
        if (saved[k] && memcmp(c.in[k].data, it.t[n->in[k]].data, bytes_of(&c.in[k])) &&
            memcmp(saved[k], it.t[n->in[k]].data, bytes_of(&c.in[k]))) {
            fprintf(stderr, "FAIL %s: input %d (updated in place) differs from the reference\n", dc->label, k);
            bad = 1;
        }
    if (!bad) printf("ok   %-40s %s, %d output(s) bit-identical\n", dc->label, ir_optable[n->op]->name, n->nout);
    for (int k = 0; k < n->nin; k++) free(c.in[k].data), free(saved[k]);
    for (int k = 0; k < n->nout; k++) free(c.out[k].data);
    free(ws);
    interp_free(&it);
    ir_graph_free(&g);
    return bad;
}

int main(void) {
    int fails = 0;
    unsigned char covered[OP__COUNT] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) fails += run_case(&cases[i], covered);
    fails += aug_refusals();
    for (int op = 0; op < OP__COUNT; op++)
        if (devop_find(op) && !covered[op]) {
            fprintf(stderr, "FAIL %s has a device kernel but no case here\n", ir_optable[op]->name);
            fails++;
        }
    int major, minor;
    char err[IR_ERRLEN];
    if (nvrtc_available(&major, &minor, err)) {
        printf("skip NVRTC compile of the device kernels: %s\n", err);
    } else {
        for (int arch = 80; arch <= 90; arch += 10) {
            void *cubin = NULL;
            size_t size = 0;
            if (nvrtc_compile(devop_cuda_source(), arch, &cubin, &size, err)) {
                fprintf(stderr, "FAIL the device kernels do not compile for sm_%d: %s\n", arch, err);
                fails++;
            } else
                printf("ok   device kernels compile for sm_%d (%zu bytes of CUBIN)\n", arch, size);
            free(cubin);
        }
    }
    printf(fails ? "test_devops: %d FAILED\n" : "test_devops: all passed\n", fails);
    return fails != 0;
}
