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
#include "runtime/planfile.h"
#include "sslc.h"
#include <unistd.h>

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

/* -- shape, pool, softmax cross-entropy, Equal, QueueWrite (runtime/devops/{shape,pool,softmax,
 *    compare,queue}.c) -- */

/* the last node built is the op under test */
static int last_node(ir_graph *g, int *node, int y) {
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

static int concat_case(ir_graph *g, int *node, ir_dtype dt, int n, int axis) {
    int xs[IR_MAX_IN];
    for (int k = 0; k < n; k++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", k);
        /* the concatenated axis (1 in a [2, L, 3] stack) has lengths 1, 2, 3, 1, 2, 3, ... */
        xs[k] = ir_input(g, name, dt, axis == 1 || axis == -2 ? IR_SHAPE(2, 1 + k % 3, 3) : IR_SHAPE(1 + k % 3, 2, 3));
    }
    return last_node(g, node, ir_concat(g, xs, n, axis));
}
static int concat_f32_ax1(ir_graph *g, int *node) { return concat_case(g, node, DT_F32, 3, 1); }
static int concat_i64_neg(ir_graph *g, int *node) { return concat_case(g, node, DT_I64, 2, -2); }
static int concat_u8_9(ir_graph *g, int *node) { return concat_case(g, node, DT_U8, 9, 0); }
static int concat_f32_16(ir_graph *g, int *node) { return concat_case(g, node, DT_F32, 16, 1); }
static int concat_bool_ax0(ir_graph *g, int *node) { return concat_case(g, node, DT_BOOL, 4, 0); }

static int slice_node_case(ir_graph *g, int *node, ir_dtype dt, ir_shape s, int n, const int64_t *axes,
                           const int64_t *starts, const int64_t *ends, const int64_t *steps) {
    int x = ir_input(g, "x", dt, s);
    int m = ir_node_new(g, OP_Slice, &x, 1);
    if (m < 0) return -1;
    ir_set_ints(g, m, "axes", axes, axes ? n : 0);
    ir_set_ints(g, m, "starts", starts, n);
    ir_set_ints(g, m, "ends", ends, n);
    ir_set_ints(g, m, "steps", steps, steps ? n : 0);
    return last_node(g, node, ir_node_finish(g, m));
}
static int slice_f32_axis1(ir_graph *g, int *node) {
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(4, 6, 5));
    return last_node(g, node, ir_slice(g, x, 1, 1, 5));
}
static int slice_f32_neg_steps(ir_graph *g, int *node) { /* negative axes, starts, ends and steps */
    const int64_t axes[] = {-1, 0, -2}, starts[] = {-1, 1, 0}, ends[] = {INT64_MIN, 100, -1}, steps[] = {-2, 2, 3};
    return slice_node_case(g, node, DT_F32, IR_SHAPE(5, 7, 9), 3, axes, starts, ends, steps);
}
static int slice_i64_default_axes(ir_graph *g, int *node) { /* empty axes and steps: 0..n-1, step 1 */
    const int64_t starts[] = {1, -3}, ends[] = {3, 1000};
    return slice_node_case(g, node, DT_I64, IR_SHAPE(4, 6, 2), 2, NULL, starts, ends, NULL);
}
static int slice_u8_empty(ir_graph *g, int *node) {
    const int64_t axes[] = {1}, starts[] = {4}, ends[] = {2}, steps[] = {1};
    return slice_node_case(g, node, DT_U8, IR_SHAPE(3, 6), 1, axes, starts, ends, steps);
}
static int slice_bool_rev(ir_graph *g, int *node) {
    const int64_t axes[] = {0}, starts[] = {-1}, ends[] = {INT64_MIN}, steps[] = {-1};
    return slice_node_case(g, node, DT_BOOL, IR_SHAPE(7, 3), 1, axes, starts, ends, steps);
}

static int pad_case(ir_graph *g, int *node, ir_dtype dt, ir_shape s, const int64_t *b, const int64_t *e) {
    int x = ir_input(g, "x", dt, s);
    return last_node(g, node, ir_pad(g, x, b, e));
}
static int pad_f32_nchw(ir_graph *g, int *node) {
    const int64_t b[] = {0, 0, 1, 2}, e[] = {0, 0, 1, 0};
    return pad_case(g, node, DT_F32, IR_SHAPE(2, 3, 4, 5), b, e);
}
static int pad_i64_crop(ir_graph *g, int *node) { /* negative pads crop */
    const int64_t b[] = {0, -1, 2}, e[] = {1, 0, -2};
    return pad_case(g, node, DT_I64, IR_SHAPE(3, 4, 5), b, e);
}
static int pad_u8_zero(ir_graph *g, int *node) {
    const int64_t b[] = {0, 0}, e[] = {0, 0};
    return pad_case(g, node, DT_U8, IR_SHAPE(5, 6), b, e);
}
static int pad_bool_rank1(ir_graph *g, int *node) {
    const int64_t b[] = {3}, e[] = {2};
    return pad_case(g, node, DT_BOOL, IR_SHAPE(4), b, e);
}

static int transpose_case(ir_graph *g, int *node, ir_dtype dt, ir_shape s, const int64_t *perm, int n) {
    int x = ir_input(g, "x", dt, s);
    return last_node(g, node, ir_transpose(g, x, perm, n));
}
static int transpose_f32_nhwc(ir_graph *g, int *node) {
    const int64_t perm[] = {0, 2, 3, 1};
    return transpose_case(g, node, DT_F32, IR_SHAPE(2, 3, 4, 5), perm, 4);
}
static int transpose_i64_default(ir_graph *g, int *node) { /* empty perm reverses */
    return transpose_case(g, node, DT_I64, IR_SHAPE(3, 4, 5), NULL, 0);
}
static int transpose_bool_2d(ir_graph *g, int *node) {
    const int64_t perm[] = {1, 0};
    return transpose_case(g, node, DT_BOOL, IR_SHAPE(5, 7), perm, 2);
}
static int transpose_f32_heads(ir_graph *g, int *node) { /* ViT attention: [B, T, H, D] -> [B, H, T, D] */
    const int64_t perm[] = {0, 2, 1, 3};
    return transpose_case(g, node, DT_F32, IR_SHAPE(2, 5, 3, 4), perm, 4);
}

/* MaxPool / MaxPoolGrad with kernel, strides and pads (h_begin, w_begin, h_end, w_end) */
static int pool_node(ir_graph *g, int op, const int *in, int nin, const int64_t *k, const int64_t *s,
                     const int64_t *p) {
    int m = ir_node_new(g, op, in, nin);
    if (m < 0) return -1;
    ir_set_ints(g, m, "kernel_shape", k, 2);
    ir_set_ints(g, m, "strides", s, 2);
    ir_set_ints(g, m, "pads", p, 4);
    return ir_node_finish(g, m);
}
static int maxpool_stem(ir_graph *g, int *node) { /* ResNet stem: kernel 3, stride 2, pad 1 (NaN, inf in x) */
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(2, 3, 9, 10));
    return last_node(g, node, ir_maxpool(g, x, 3, 2, 1));
}
static int maxpool_2x2(ir_graph *g, int *node) {
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(2, 2, 8, 8));
    return last_node(g, node, ir_maxpool(g, x, 2, 2, 0));
}
static int maxpool_asym_ties(ir_graph *g, int *node) { /* uneven kernel, strides and pads; Relu's zeros tie */
    const int64_t k[] = {3, 2}, s[] = {1, 2}, p[] = {1, 0, 2, 1};
    int x = ir_relu(g, ir_input(g, "x", DT_F32, IR_SHAPE(1, 3, 7, 6)));
    return last_node(g, node, pool_node(g, OP_MaxPool, &x, 1, k, s, p));
}
static int maxpool_grad_case(ir_graph *g, int *node, ir_shape xs, const int64_t *k, const int64_t *s,
                             const int64_t *p) {
    /* x = Relu(input): zeros tie in many windows (the first one wins the gradient) */
    int x = ir_relu(g, ir_input(g, "x", DT_F32, xs));
    int y = pool_node(g, OP_MaxPool, &x, 1, k, s, p);
    if (y < 0) return -1;
    int in[2] = {ir_input(g, "gy", DT_F32, g->vals[y].shape), x};
    return last_node(g, node, pool_node(g, OP_MaxPoolGrad, in, 2, k, s, p));
}
static int maxpool_grad_stem(ir_graph *g, int *node) {
    const int64_t k[] = {3, 3}, s[] = {2, 2}, p[] = {1, 1, 1, 1};
    return maxpool_grad_case(g, node, IR_SHAPE(2, 3, 9, 10), k, s, p);
}
static int maxpool_grad_s1(ir_graph *g, int *node) { /* stride 1: every cell in up to 9 windows */
    const int64_t k[] = {3, 3}, s[] = {1, 1}, p[] = {1, 1, 1, 1};
    return maxpool_grad_case(g, node, IR_SHAPE(2, 2, 6, 7), k, s, p);
}
static int maxpool_grad_asym(ir_graph *g, int *node) {
    const int64_t k[] = {3, 2}, s[] = {2, 1}, p[] = {0, 1, 2, 0};
    return maxpool_grad_case(g, node, IR_SHAPE(1, 3, 8, 5), k, s, p);
}
static int maxpool_grad_2x2(ir_graph *g, int *node) {
    const int64_t k[] = {2, 2}, s[] = {2, 2}, p[] = {0, 0, 0, 0};
    return maxpool_grad_case(g, node, IR_SHAPE(2, 2, 8, 8), k, s, p);
}

/* logits [N, C]: rows 1.. of an input scaled by `scale` (finite: the fill's NaN and infinities
 * sit in row 0), or the input itself with them (nan_row) */
static int ce_logits(ir_graph *g, int64_t N, int64_t C, double scale, int nan_row) {
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(N + 1, C));
    return nan_row ? ir_slice(g, x, 0, 0, N) : ir_mul_scalar(g, ir_slice(g, x, 0, 1, N + 1), scale);
}
static int ce_labels(ir_graph *g, int64_t N, int64_t C) {
    int64_t lab[64];
    for (int64_t i = 0; i < N; i++) lab[i] = (i * 7 + 3) % C;
    lab[0] = 0, lab[N - 1] = C - 1;
    return ir_const(g, DT_I64, IR_SHAPE(N), lab);
}
static int ce_case(ir_graph *g, int *node, int64_t N, int64_t C, double scale, int nan_row) {
    int x = ce_logits(g, N, C, scale, nan_row);
    return last_node(g, node, ir_softmax_ce(g, x, ce_labels(g, N, C)));
}
static int ce_grad_case(ir_graph *g, int *node, int64_t N, int64_t C, double scale, int nan_row) {
    int x = ce_logits(g, N, C, scale, nan_row);
    int in[3] = {ir_input(g, "gy", DT_F32, ir_shape_make(0, NULL)), x, ce_labels(g, N, C)};
    return last_node(g, node, ir_simple(g, OP_SoftmaxCrossEntropyLossGrad, in, 3));
}
static int ce_mean(ir_graph *g, int *node) { return ce_case(g, node, 16, 10, 0.02, 0); }
static int ce_mean_peaked(ir_graph *g, int *node) { return ce_case(g, node, 8, 33, 1, 0); }
static int ce_nan_row(ir_graph *g, int *node) { return ce_case(g, node, 6, 9, 1, 1); }
static int ce_grad_mean(ir_graph *g, int *node) { return ce_grad_case(g, node, 16, 10, 0.02, 0); }
static int ce_grad_peaked(ir_graph *g, int *node) { return ce_grad_case(g, node, 8, 33, 1, 0); }
static int ce_grad_nan_row(ir_graph *g, int *node) { return ce_grad_case(g, node, 6, 9, 1, 1); }

static int equal_supcon(ir_graph *g, int *node) { /* SupCon's mask: y[:, None] == y[None, :] */
    int y = ir_input(g, "y", DT_I64, IR_SHAPE(12));
    return last_node(g, node, ir_equal(g, ir_reshape(g, y, IR_SHAPE(12, 1)), ir_reshape(g, y, IR_SHAPE(1, 12))));
}
static int equal_f32_relu(ir_graph *g, int *node) { /* x == Relu(x): NaN, infinities, zeros */
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(4, 5, 6));
    return last_node(g, node, ir_equal(g, x, ir_relu(g, x)));
}
static int equal_bool_rank(ir_graph *g, int *node) { /* ranks 3 and 1 */
    int a = ir_input(g, "a", DT_BOOL, IR_SHAPE(3, 4, 5)), b = ir_input(g, "b", DT_BOOL, IR_SHAPE(5));
    return last_node(g, node, ir_equal(g, a, b));
}
static int equal_i32_col(ir_graph *g, int *node) {
    int a = ir_input(g, "a", DT_I32, IR_SHAPE(6, 7)), b = ir_input(g, "b", DT_I32, IR_SHAPE(6, 1));
    return last_node(g, node, ir_equal(g, a, b));
}
static int equal_u8_same(ir_graph *g, int *node) {
    int a = ir_input(g, "a", DT_U8, IR_SHAPE(300)), b = ir_input(g, "b", DT_U8, IR_SHAPE(300));
    int halves[2] = {ir_slice(g, a, 0, 0, 150), ir_slice(g, b, 0, 150, 300)}; /* equal, then mostly not */
    return last_node(g, node, ir_equal(g, a, ir_concat(g, halves, 2, 0)));
}

/* queue [D, K] (axis 1) or [K, D] (axis 0) as state, N keys, pointer p (a constant: in range) */
static int queue_case(ir_graph *g, int *node, int axis, int64_t K, int64_t D, int64_t N, int64_t p) {
    int q = ir_state(g, "queue", DT_F32, axis ? IR_SHAPE(D, K) : IR_SHAPE(K, D), (ir_init){INIT_NONE, 0, 0, -1});
    int k = ir_input(g, "keys", DT_F32, IR_SHAPE(N, D));
    int ptr = ir_const(g, DT_I64, IR_SHAPE(1), &p);
    int np = -1, y = ir_queue_write(g, q, k, ptr, axis, &np);
    if (y < 0) return -1;
    ir_add_output(g, np);
    return last_node(g, node, y);
}
static int queue_cols(ir_graph *g, int *node) { return queue_case(g, node, 1, 16, 4, 4, 8); }
static int queue_cols_wrap(ir_graph *g, int *node) { return queue_case(g, node, 1, 16, 4, 4, 12); }
static int queue_rows(ir_graph *g, int *node) { return queue_case(g, node, 0, 12, 5, 3, 0); }
static int queue_rows_wrap(ir_graph *g, int *node) { return queue_case(g, node, 0, 12, 5, 3, 9); }

/* ArgMax over the inputs' NaN / inf / ties; Gather with constant (in-range) indices */
static int argmax_rows(ir_graph *g, int *node) {
    return last_node(g, node, ir_argmax(g, ir_input(g, "x", DT_F32, IR_SHAPE(6, 37)), 1, 0));
}
static int argmax_mid(ir_graph *g, int *node) {
    return last_node(g, node, ir_argmax(g, ir_input(g, "x", DT_F32, IR_SHAPE(5, 7, 3)), 1, 1));
}
static int gather_case(ir_graph *g, int *node, ir_dtype dt) {
    const int64_t idx[5] = {3, 0, -1, 3, 7};
    int x = ir_input(g, "x", dt, IR_SHAPE(8, 3, 2));
    return last_node(g, node, ir_gather(g, x, ir_const(g, DT_I64, IR_SHAPE(5), idx)));
}
static int gather_f32(ir_graph *g, int *node) { return gather_case(g, node, DT_F32); }
static int gather_i64(ir_graph *g, int *node) { return gather_case(g, node, DT_I64); }

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
    /* -- shape, pool, softmax cross-entropy, Equal, QueueWrite -- */
    {"Concat f32 axis 1, 3 inputs", concat_f32_ax1},
    {"Concat i64 axis -2", concat_i64_neg},
    {"Concat u8 axis 0, 9 inputs (2 launches)", concat_u8_9},
    {"Concat f32 16 inputs (3 launches)", concat_f32_16},
    {"Concat bool axis 0", concat_bool_ax0},
    {"Slice f32 axis 1", slice_f32_axis1},
    {"Slice f32 negative axes/starts/steps", slice_f32_neg_steps},
    {"Slice i64 default axes and steps", slice_i64_default_axes},
    {"Slice u8 empty", slice_u8_empty},
    {"Slice bool reversed", slice_bool_rev},
    {"Pad f32 NCHW", pad_f32_nchw},
    {"Pad i64 negative (crop)", pad_i64_crop},
    {"Pad u8 zero pads", pad_u8_zero},
    {"Pad bool rank 1", pad_bool_rank1},
    {"Transpose f32 NCHW->NHWC", transpose_f32_nhwc},
    {"Transpose i64 default perm", transpose_i64_default},
    {"Transpose bool 2-D", transpose_bool_2d},
    {"Transpose f32 attention heads", transpose_f32_heads},
    {"MaxPool k3 s2 p1 (stem, NaN/inf)", maxpool_stem},
    {"MaxPool k2 s2", maxpool_2x2},
    {"MaxPool k3x2 s1x2 uneven pads, ties", maxpool_asym_ties},
    {"MaxPoolGrad k3 s2 p1 ties", maxpool_grad_stem},
    {"MaxPoolGrad k3 s1 p1 ties", maxpool_grad_s1},
    {"MaxPoolGrad k3x2 s2x1 uneven pads", maxpool_grad_asym},
    {"MaxPoolGrad k2 s2", maxpool_grad_2x2},
    {"SoftmaxCELoss mean", ce_mean},
    {"SoftmaxCELoss mean, peaked", ce_mean_peaked},
    {"SoftmaxCELoss NaN/inf row", ce_nan_row},
    {"SoftmaxCELossGrad", ce_grad_mean},
    {"SoftmaxCELossGrad peaked", ce_grad_peaked},
    {"SoftmaxCELossGrad NaN/inf row", ce_grad_nan_row},
    {"Equal i64 SupCon mask", equal_supcon},
    {"Equal f32 NaN/inf/zeros", equal_f32_relu},
    {"Equal bool ranks 3 and 1", equal_bool_rank},
    {"Equal i32 column broadcast", equal_i32_col},
    {"Equal u8", equal_u8_same},
    {"QueueWrite axis 1", queue_cols},
    {"QueueWrite axis 1, wraps", queue_cols_wrap},
    {"QueueWrite axis 0, pointer 0", queue_rows},
    {"QueueWrite axis 0, wraps", queue_rows_wrap},
    /* -- end of shape, pool, softmax cross-entropy, Equal, QueueWrite -- */
    {"ArgMax f32 [6,37] axis 1", argmax_rows},
    {"ArgMax f32 [5,7,3] axis 1 keepdims", argmax_mid},
    {"Gather f32 rows (repeated, negative)", gather_f32},
    {"Gather i64 rows", gather_i64},
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

/* ---- what the kernels do where the reference kernel refuses ---- */

static ref_tensor tensor_of(const ir_graph *g, int v, void *data) {
    ref_tensor t = {data, g->vals[v].dtype, g->vals[v].shape, ir_numel(&g->vals[v].shape)};
    return t;
}

/* A label outside [0, C) or a queue pointer outside the queue: the reference kernel refuses the
 * step; the device kernels cannot refuse a value they read on the device, so the result is NaN
 * (never a plausible number). A storage dtype the kernels do not cover is refused by prepare. */
static int data_checks(void) {
    ir_graph g;
    ir_graph_init(&g);
    char err[IR_ERRLEN];
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3)), lab = ir_input(&g, "lab", DT_I64, IR_SHAPE(2));
    int loss = ir_softmax_ce(&g, x, lab);
    int gy = ir_input(&g, "gy", DT_F32, ir_shape_make(0, NULL));
    int dx = ir_simple(&g, OP_SoftmaxCrossEntropyLossGrad, (int[]){gy, x, lab}, 3);
    int q = ir_input(&g, "q", DT_F32, IR_SHAPE(4, 8)), keys = ir_input(&g, "k", DT_F32, IR_SHAPE(2, 4));
    int ptr = ir_input(&g, "ptr", DT_I64, IR_SHAPE(1)), nptr = -1;
    int nq = ir_queue_write(&g, q, keys, ptr, 1, &nptr);
    int img = ir_input(&g, "img", DT_F32, IR_SHAPE(1, 1, 4, 4));
    int pooled = ir_maxpool(&g, img, 3, 2, 1);
    CHECK(!g.failed && loss >= 0 && dx >= 0 && nq >= 0 && pooled >= 0, "building: %s", g.err);
    float xv[6] = {1, 2, 3, 4, 5, 6}, gyv = 1, lv, dxv[6], qv[32], kv[8] = {0}, nqv[32], imgv[16] = {0}, pv[4];
    int64_t labv[2] = {2, 3}, pv_in = 7, pv_out = -1;
    double ws[4];
    ref_call c;
    /* SoftmaxCrossEntropyLoss with label 3 of C = 3 */
    memset(&c, 0, sizeof c);
    c.node = &g.nodes[g.vals[loss].producer], c.nin = 2, c.nout = 1, c.err = err;
    c.in[0] = tensor_of(&g, x, xv), c.in[1] = tensor_of(&g, lab, labv), c.out[0] = tensor_of(&g, loss, &lv);
    CHECK(ir_optable[OP_SoftmaxCrossEntropyLoss]->ref_f32(&c) != 0, "the reference accepts label 3 of 3 classes");
    CHECK(devop_run_twins(&c, ws, err) == 0 && isnan(lv), "SoftmaxCrossEntropyLoss, label out of range: %g, not NaN",
          (double)lv);
    /* its gradient: NaN in the row of the bad label only */
    memset(&c, 0, sizeof c);
    c.node = &g.nodes[g.vals[dx].producer], c.nin = 3, c.nout = 1, c.err = err;
    c.in[0] = tensor_of(&g, gy, &gyv), c.in[1] = tensor_of(&g, x, xv), c.in[2] = tensor_of(&g, lab, labv);
    c.out[0] = tensor_of(&g, dx, dxv);
    CHECK(devop_run_twins(&c, ws, err) == 0, "%s", err);
    for (int k = 0; k < 6; k++)
        CHECK(k < 3 ? isfinite(dxv[k]) : isnan(dxv[k]), "SoftmaxCrossEntropyLossGrad, label out of range: dx[%d] = %g",
              k, (double)dxv[k]);
    /* QueueWrite with pointer 7 of a queue of 8 for 2 keys */
    for (int k = 0; k < 32; k++) qv[k] = (float)k;
    memset(&c, 0, sizeof c);
    c.node = &g.nodes[g.vals[nq].producer], c.nin = 3, c.nout = 2, c.err = err;
    c.in[0] = tensor_of(&g, q, qv), c.in[1] = tensor_of(&g, keys, kv), c.in[2] = tensor_of(&g, ptr, &pv_in);
    c.out[0] = tensor_of(&g, nq, nqv), c.out[1] = tensor_of(&g, nptr, &pv_out);
    CHECK(ir_optable[OP_QueueWrite]->ref_f32(&c) != 0, "the reference accepts pointer 7 for 2 keys in 8");
    CHECK(devop_run_twins(&c, NULL, err) == 0 && pv_out == 7, "QueueWrite, pointer out of range: ptr' %lld",
          (long long)pv_out);
    for (int k = 0; k < 32; k++)
        CHECK(isnan(nqv[k]), "QueueWrite, pointer out of range: queue'[%d] = %g", k, (double)nqv[k]);
    /* Gather with index 5 of 4 rows: NaN in that output row only */
    {
        ir_graph h;
        ir_graph_init(&h);
        int d = ir_input(&h, "d", DT_F32, IR_SHAPE(4, 2)), ix = ir_input(&h, "ix", DT_I64, IR_SHAPE(2));
        int y = ir_gather(&h, d, ix);
        CHECK(y >= 0, "%s", h.err);
        float dv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, yv[4];
        int64_t iv[2] = {5, -4};
        memset(&c, 0, sizeof c);
        c.node = &h.nodes[h.vals[y].producer], c.nin = 2, c.nout = 1, c.err = err;
        c.in[0] = tensor_of(&h, d, dv), c.in[1] = tensor_of(&h, ix, iv), c.out[0] = tensor_of(&h, y, yv);
        CHECK(ir_optable[OP_Gather]->ref_f32(&c) != 0, "the reference accepts index 5 of 4 rows");
        CHECK(devop_run_twins(&c, NULL, err) == 0 && isnan(yv[0]) && isnan(yv[1]) && yv[2] == 1 && yv[3] == 2,
              "Gather, index out of range: %g %g %g %g", (double)yv[0], (double)yv[1], (double)yv[2], (double)yv[3]);
        ir_graph_free(&h);
    }
    /* MaxPool on f64 storage (gradient checks' interpreter): refused by prepare, with the op's name */
    memset(&c, 0, sizeof c);
    c.node = &g.nodes[g.vals[pooled].producer], c.nin = 1, c.nout = 1, c.err = err;
    c.in[0] = tensor_of(&g, img, imgv), c.out[0] = tensor_of(&g, pooled, pv);
    c.in[0].dtype = c.out[0].dtype = DT_F64;
    err[0] = 0;
    CHECK(devop_run_twins(&c, NULL, err) != 0 && strstr(err, "MaxPool") && strstr(err, "f64"),
          "MaxPool on f64 storage: '%s'", err);
    printf("ok   out-of-range labels, queue pointers and Gather indices give NaN; f64 storage refused (%s)\n", err);
    ir_graph_free(&g);
    return 0;
}

/* ---- library steps ---- */

/* Compiles small plans of every method and backbone family and checks that each STEP_NODE op
 * (a library call) is run by a GPU library (cuBLAS, cuDNN) or has a device kernel. The
 * augmentation ops (ir/ops/augment.c) are reported while they have no device kernel yet. */
static int library_steps_covered(void) {
    static const char *const configs[][16] = {
        {"simclr", "--backbone", "resnet18", "--cifar-stem", "off", "--image-size", "32", "--width", "0.125"},
        {"moco", "--backbone", "convnet", "--set", "K=32", "--image-size", "16"},
        {"mocov2", "--backbone", "resnet18", "--set", "K=32", "--width", "0.125", "--image-size", "16"},
        {"supcon", "--backbone", "resnet18", "--width", "0.125", "--image-size", "16", "--optimizer", "lars"},
        {"mocov3", "--backbone", "vit-tiny", "--width", "0.125", "--depth", "1", "--image-size", "16"},
        {"dino", "--backbone", "vit-tiny", "--width", "0.125", "--depth", "1", "--image-size", "16", "--set",
         "num_crops=0"},
        {"swav", "--backbone", "convnet", "--image-size", "16", "--optimizer", "adamw"},
        {"barlow_twins", "--backbone", "convnet", "--image-size", "16", "--set", "projection_dim=32", "--set",
         "hidden_dim=32"},
        {"byol", "--backbone", "convnet", "--image-size", "16", "--set", "projection_dim=32", "--set", "hidden_dim=32"},
        {"simsiam", "--backbone", "convnet", "--image-size", "16"},
        {"vicreg", "--backbone", "convnet", "--image-size", "16", "--set", "projection_dim=32", "--set", "hidden_dim=32"},
        {"nnclr", "--backbone", "convnet", "--image-size", "16", "--set", "queue_size=32", "--set", "proj_hidden_dim=32"},
        {"mae", "--backbone", "vit-tiny", "--width", "0.125", "--depth", "1", "--image-size", "16", "--set",
         "decoder_embed_dim=16", "--set", "decoder_num_heads=2", "--set", "decoder_depth=1"},
        {"simclr", "--backbone", "convnet", "--image-size", "16", "--augment", "simclr"},
    };
    unsigned char gpu_library[OP__COUNT] = {0}, pending[OP__COUNT] = {0};
    gpu_library[OP_Gemm] = gpu_library[OP_MatMul] = gpu_library[OP_Conv] = gpu_library[OP_ConvGradInput] =
        gpu_library[OP_ConvGradWeight] = 1;
    const int augment_ops[] = {OP_ToFloat,   OP_ResizedCrop, OP_HorizontalFlip, OP_ColorJitter,
                               OP_Grayscale, OP_GaussianBlur, OP_Solarize,      OP_Normalize};
    int fails = 0;
    char err[IR_ERRLEN], path[] = "/tmp/sslc_devops_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        const char *argv[24];
        int argc = 0, augment = 0;
        for (int k = 0; configs[c][k]; k++) {
            augment |= !strcmp(configs[c][k], "--augment");
            argv[argc++] = configs[c][k];
        }
        const char *common[] = {"--batch", "4", "--augment", "none"};
        for (int k = 0; k < (augment ? 2 : 4); k++) argv[argc++] = common[k];
        sslc_plan p;
        plan_init(&p);
        CHECK(sslc_compile(argc, argv, path, err, sizeof err) == 0, "compiling %s: %s", argv[0], err);
        CHECK(plan_read(&p, path, err) == 0 && p.has_step, "reading the plan of %s: %s", argv[0], err);
        const ir_graph *g = &p.step.ep.lowered;
        int nlib = 0;
        for (int s = 0; s < p.step.ep.fp.nsteps; s++) {
            const exec_step *st = &p.step.ep.fp.steps[s];
            if (st->kind != STEP_NODE) continue;
            int op = g->nodes[st->node].op, aug = 0;
            nlib++;
            for (size_t k = 0; k < sizeof augment_ops / sizeof augment_ops[0]; k++) aug |= op == augment_ops[k];
            if (gpu_library[op] || devop_find(op)) continue;
            if (aug) {
                pending[op] = 1;
                continue;
            }
            fprintf(stderr, "FAIL %s %s: library step %s has neither a GPU library nor a device kernel\n", argv[0],
                    argv[2], ir_optable[op]->name);
            fails++;
        }
        printf("ok   library steps of %s %s%s: %d, each with a GPU library or a device kernel\n", argv[0], argv[2],
               augment ? " (augmentation)" : "", nlib);
        plan_free(&p);
    }
    for (int op = 0; op < OP__COUNT; op++)
        if (pending[op]) printf("skip %s: an augmentation op without a device kernel yet\n", ir_optable[op]->name);
    unlink(path);
    return fails;
}

/* NVRTC's output is cached like the C kernels: the second compile is a hit with the same bytes;
 * a corrupted or truncated entry is compiled again, never loaded */
static int cubin_cache(void) {
    char dir[] = "/tmp/sslc_cubin_XXXXXX", err[IR_ERRLEN], cmd[128];
    CHECK(mkdtemp(dir), "mkdtemp");
    setenv("SSLC_CACHE_DIR", dir, 1);
    const char *src = devop_cuda_source();
    void *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int hit = -1;
    CHECK(nvrtc_compile_cached(src, 80, &a, &na, &hit, err) == 0 && hit == 0, "first compile: %s", err);
    CHECK(nvrtc_compile_cached(src, 80, &b, &nb, &hit, err) == 0 && hit == 1 && na == nb && !memcmp(a, b, na),
          "second compile not a cache hit with the same bytes (%s)", err);
    free(b);
    for (int damage = 0; damage < 2; damage++) {
        /* flip a byte of the object, then cut the entry short */
        snprintf(cmd, sizeof cmd,
                 damage ? "f=$(ls %s/c*.cubin); truncate -s 1000 $f"
                        : "f=$(ls %s/c*.cubin); printf '\\377' | dd of=$f bs=1 seek=5000 conv=notrunc status=none",
                 dir);
        CHECK(system(cmd) == 0, "damaging the entry");
        CHECK(nvrtc_compile_cached(src, 80, &b, &nb, &hit, err) == 0 && hit == 0 && nb == na && !memcmp(a, b, na),
              "a %s entry was used (%s)", damage ? "truncated" : "corrupted", err);
        free(b);
    }
    free(a);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    printf("ok   NVRTC output cached: a hit the second time, corrupted and truncated entries compiled again\n");
    return 0;
}

int main(void) {
    int fails = 0;
    unsigned char covered[OP__COUNT] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) fails += run_case(&cases[i], covered);
    fails += aug_refusals();
    fails += data_checks();
    fails += library_steps_covered();
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
        fails += cubin_cache();
    }
    printf(fails ? "test_devops: %d FAILED\n" : "test_devops: all passed\n", fails);
    return fails != 0;
}
