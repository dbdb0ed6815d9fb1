/* Augmentation ops: forward against plain C references written from the textbook formulas
 * (Keys cubic kernel, standard RGB<->HSV, direct 2-D Gaussian convolution), run in float32
 * (max abs error 1e-5 on [0,1] images, 2e-5 for bicubic whose output can overshoot) and float64
 * (1e-12). Shape and parameter errors are checked too. Bit-level agreement with torchvision is
 * the job of tests/oracle/augment_oracle.py. */
#include "cnn_testutil.h"
#include "runtime/rng.h"

#define TOL32 1e-5
#define TOL64 1e-12

static double *rand_image(int64_t n, uint64_t seed) {
    double *x = malloc((size_t)n * sizeof *x);
    sslc_rng r;
    rng_seed(&r, seed, 3);
    for (int64_t i = 0; i < n; i++) x[i] = (float)rng_uniform(&r); /* float values, exact in both widths */
    /* a few exact ties and extremes (hue branches, solarize threshold, clamps) */
    if (n > 8) x[0] = 0, x[1] = 1, x[2] = (float)(128.0 / 255.0), x[3] = x[4];
    return x;
}

static int const_f32(ir_graph *g, ir_shape s, const double *v) {
    int64_t n = ir_numel(&s);
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
    int id = ir_const(g, DT_F32, s, f);
    free(f);
    return id;
}

static int const_i32(ir_graph *g, ir_shape s, const int32_t *v) { return ir_const(g, DT_I32, s, v); }

static double maxabs(const double *a, const double *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

typedef int (*build_fn)(ir_graph *g, const void *ctx);

/* builds with `build`, runs in f32 and f64 and compares with want (n values) */
static int check_both(const char *what, build_fn build, const void *ctx, const double *want, int64_t n, double tol32) {
    for (int f64 = 0; f64 < 2; f64++) {
        ir_graph g;
        ir_graph_init(&g);
        int y = build(&g, ctx);
        if (y < 0) {
            fprintf(stderr, "FAIL %s: build: %s\n", what, g.err);
            ir_graph_free(&g);
            return 1;
        }
        if (ir_numel(&g.vals[y].shape) != n) {
            fprintf(stderr, "FAIL %s: %lld outputs, want %lld\n", what, (long long)ir_numel(&g.vals[y].shape), (long long)n);
            ir_graph_free(&g);
            return 1;
        }
        double *got;
        if (cnn_run(&g, f64, &y, 1, &got)) return 1;
        double e = maxabs(got, want, n), tol = f64 ? TOL64 : tol32;
        free(got);
        printf("     %-48s %s max abs err %.2e (tol %.0e)\n", what, f64 ? "f64" : "f32", e, tol);
        if (!(e <= tol)) {
            fprintf(stderr, "FAIL %s (%s): max abs error %.3g > %.3g\n", what, f64 ? "f64" : "f32", e, tol);
            return 1;
        }
    }
    return 0;
}

/* ---- ToFloat ---- */
static int build_to_float(ir_graph *g, const void *ctx) {
    (void)ctx;
    uint8_t v[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++) v[i] = (uint8_t)(i * 37 + 11);
    v[0] = 0, v[1] = 255;
    return ir_to_float(g, ir_const(g, DT_U8, IR_SHAPE(2, 3, 4, 5), v));
}
static int to_float_f(void) {
    double want[120];
    for (int i = 0; i < 120; i++) want[i] = (uint8_t)(i * 37 + 11) / 255.0;
    want[0] = 0, want[1] = 1;
    if (check_both("ToFloat", build_to_float, NULL, want, 120, 1e-7)) return 1;
    ir_graph g;
    ir_graph_init(&g);
    CHECK(ir_to_float(&g, ir_input(&g, "x", DT_F32, IR_SHAPE(2))) < 0 && strstr(g.err, "u8"), "f32 input accepted");
    ir_graph_free(&g);
    return 0;
}

/* ---- ResizedCrop ---- */
typedef struct {
    int64_t B, C, H, W, OH, OW;
    int cubic;
    int32_t box[4 * 4];
    double *x;
} crop_case;

static int build_crop(ir_graph *g, const void *ctx) {
    const crop_case *k = ctx;
    int x = const_f32(g, IR_SHAPE(k->B, k->C, k->H, k->W), k->x);
    int box = const_i32(g, IR_SHAPE(k->B, 4), k->box);
    return ir_resized_crop(g, x, box, k->OH, k->OW, k->cubic);
}

static double keys(double d) {
    const double a = -0.75;
    d = fabs(d);
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0;
}

/* resampling weights of output o from an input of length n (align_corners=False) */
static void ref_weights(int64_t n, int64_t out, int64_t o, int cubic, double *w /* n */) {
    for (int64_t i = 0; i < n; i++) w[i] = 0;
    double s = (o + 0.5) * (double)n / (double)out - 0.5;
    if (!cubic) {
        if (s < 0) s = 0;
        int64_t i0 = (int64_t)floor(s), i1 = i0 + 1 < n ? i0 + 1 : n - 1;
        double l = s - (double)i0;
        w[i0] += 1 - l;
        w[i1] += l;
        return;
    }
    int64_t i0 = (int64_t)floor(s);
    for (int64_t k = i0 - 1; k <= i0 + 2; k++) {
        int64_t j = k < 0 ? 0 : k >= n ? n - 1 : k;
        w[j] += keys(s - (double)k);
    }
}

static int crop_case_run(crop_case *k, const char *label) {
    int64_t nx = k->B * k->C * k->H * k->W, ny = k->B * k->C * k->OH * k->OW;
    k->x = rand_image(nx, 11);
    double *want = calloc((size_t)ny, sizeof *want);
    for (int64_t b = 0; b < k->B; b++) {
        const int32_t *bx = k->box + 4 * b;
        double *wh = malloc((size_t)bx[2] * sizeof *wh), *ww = malloc((size_t)bx[3] * sizeof *ww);
        for (int64_t c = 0; c < k->C; c++)
            for (int64_t oh = 0; oh < k->OH; oh++) {
                ref_weights(bx[2], k->OH, oh, k->cubic, wh);
                for (int64_t ow = 0; ow < k->OW; ow++) {
                    ref_weights(bx[3], k->OW, ow, k->cubic, ww);
                    double s = 0;
                    for (int64_t i = 0; i < bx[2]; i++)
                        for (int64_t j = 0; j < bx[3]; j++)
                            s += wh[i] * ww[j] * k->x[((b * k->C + c) * k->H + bx[0] + i) * k->W + bx[1] + j];
                    want[((b * k->C + c) * k->OH + oh) * k->OW + ow] = s;
                }
            }
        free(wh), free(ww);
    }
    int r = check_both(label, build_crop, k, want, ny, k->cubic ? 2e-5 : TOL32);
    free(want);
    free(k->x);
    return r;
}

static int resized_crop_f(void) {
    for (int cubic = 0; cubic < 2; cubic++) {
        /* downscale, upscale, identity-size and non-square boxes; one sample the whole image */
        crop_case a = {.B = 3, .C = 3, .H = 13, .W = 11, .OH = 7, .OW = 9, .cubic = cubic,
                       .box = {0, 0, 13, 11, 2, 3, 5, 4, 4, 1, 9, 10}};
        crop_case b = {.B = 2, .C = 1, .H = 8, .W = 8, .OH = 8, .OW = 8, .cubic = cubic, .box = {0, 0, 8, 8, 1, 2, 1, 6}};
        if (crop_case_run(&a, cubic ? "ResizedCrop bicubic" : "ResizedCrop bilinear") ||
            crop_case_run(&b, cubic ? "ResizedCrop bicubic (same size, 1-pixel box)" : "ResizedCrop bilinear (same size)"))
            return 1;
    }
    /* a box outside the image fails at run time with the sample named */
    ir_graph g;
    ir_graph_init(&g);
    double x[1 * 1 * 4 * 4] = {0};
    int32_t box[4] = {1, 1, 4, 2};
    int y = ir_resized_crop(&g, const_f32(&g, IR_SHAPE(1, 1, 4, 4), x), const_i32(&g, IR_SHAPE(1, 4), box), 2, 2, 0);
    CHECK(y >= 0, "build: %s", g.err);
    ir_add_output(&g, y);
    interp it;
    char err[IR_ERRLEN];
    CHECK(interp_init(&it, &g, 0, err) == 0, "%s", err);
    CHECK(interp_run(&it, err) != 0 && strstr(err, "not inside"), "box outside the image accepted (%s)", err);
    interp_free(&it);
    ir_graph_free(&g);
    /* shape errors */
    ir_graph_init(&g);
    int xi = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3, 8, 8));
    CHECK(ir_resized_crop(&g, xi, ir_input(&g, "b", DT_F32, IR_SHAPE(2, 4)), 4, 4, 0) < 0 && strstr(g.err, "i32"),
          "f32 boxes accepted");
    ir_graph_free(&g);
    ir_graph_init(&g);
    xi = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3, 8, 8));
    CHECK(ir_resized_crop(&g, xi, ir_input(&g, "b", DT_I32, IR_SHAPE(3, 4)), 4, 4, 0) < 0, "box batch mismatch accepted");
    ir_graph_free(&g);
    return 0;
}

/* ---- HorizontalFlip, Grayscale, Solarize (flag ops) ---- */
typedef struct {
    int op; /* 0 flip, 1 gray, 2 solarize */
    int64_t B, C, H, W;
    double *x, flag[4];
} flag_case;

static int build_flag(ir_graph *g, const void *ctx) {
    const flag_case *k = ctx;
    int x = const_f32(g, IR_SHAPE(k->B, k->C, k->H, k->W), k->x), f = const_f32(g, IR_SHAPE(k->B), k->flag);
    return k->op == 0 ? ir_hflip(g, x, f) : k->op == 1 ? ir_grayscale(g, x, f) : ir_solarize(g, x, f, 128.0 / 255.0);
}

static int flag_run(int op, int64_t C, const char *label) {
    flag_case k = {.op = op, .B = 4, .C = C, .H = 5, .W = 6, .flag = {1, 0, 1, 0.5}};
    int64_t HW = k.H * k.W, n = k.B * C * HW;
    k.x = rand_image(n, 5 + (uint64_t)op);
    double *want = malloc((size_t)n * sizeof *want);
    float thr = (float)(128.0 / 255.0);
    for (int64_t b = 0; b < k.B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < HW; i++) {
                int64_t o = (b * C + c) * HW + i, h = i / k.W, w = i % k.W;
                double v = k.x[o];
                if (k.flag[b] != 0) {
                    if (op == 0) v = k.x[(b * C + c) * HW + h * k.W + (k.W - 1 - w)];
                    if (op == 1 && C == 3) {
                        const double *p = k.x + b * C * HW + i;
                        v = 0.2989 * p[0] + 0.587 * p[HW] + 0.114 * p[2 * HW];
                    }
                    if (op == 2 && v >= thr) v = 1 - v;
                }
                want[o] = v;
            }
    int r = check_both(label, build_flag, &k, want, n, TOL32);
    free(want);
    free(k.x);
    return r;
}

static int hflip_f(void) { return flag_run(0, 3, "HorizontalFlip") || flag_run(0, 2, "HorizontalFlip (2 channels)"); }
static int grayscale_f(void) {
    if (flag_run(1, 3, "Grayscale") || flag_run(1, 1, "Grayscale (1 channel: no-op)")) return 1;
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 2, 4, 4));
    CHECK(ir_grayscale(&g, x, ir_input(&g, "f", DT_F32, IR_SHAPE(2))) < 0 && strstr(g.err, "1 or 3"), "2 channels accepted");
    ir_graph_free(&g);
    return 0;
}
static int solarize_f(void) { return flag_run(2, 3, "Solarize") || flag_run(2, 1, "Solarize (1 channel)"); }

/* ---- ColorJitter ---- */
typedef struct {
    int64_t B, C, H, W;
    double *x, fac[4 * 6];
    int32_t order[4 * 6];
} jit_case;

static int build_jitter(ir_graph *g, const void *ctx) {
    const jit_case *k = ctx;
    int x = const_f32(g, IR_SHAPE(k->B, k->C, k->H, k->W), k->x);
    return ir_color_jitter(g, x, const_f32(g, IR_SHAPE(k->B, 4), k->fac), const_i32(g, IR_SHAPE(k->B, 4), k->order));
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void ref_rgb2hsv(double r, double g, double b, double *h, double *s, double *v) {
    double mx = fmax(r, fmax(g, b)), mn = fmin(r, fmin(g, b)), d = mx - mn;
    *v = mx;
    *s = mx > 0 ? d / mx : 0;
    if (d == 0)
        *h = 0;
    else if (mx == r)
        *h = fmod((g - b) / d + 6, 6) / 6;
    else if (mx == g)
        *h = ((b - r) / d + 2) / 6;
    else
        *h = ((r - g) / d + 4) / 6;
}

static void ref_hsv2rgb(double h, double s, double v, double *rgb) {
    double c = v * s, hp = h * 6, x = c * (1 - fabs(fmod(hp, 2) - 1)), m = v - c, r = 0, g = 0, b = 0;
    int sec = (int)floor(hp) % 6;
    switch (sec) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
    }
    rgb[0] = r + m, rgb[1] = g + m, rgb[2] = b + m;
}

static void ref_jitter_image(double *img, int64_t C, int64_t HW, int fn, double f) {
    if (fn == 0)
        for (int64_t i = 0; i < C * HW; i++) img[i] = clamp01(f * img[i]);
    else if (fn == 1) {
        double m = 0;
        for (int64_t i = 0; i < HW; i++) m += C == 3 ? 0.2989 * img[i] + 0.587 * img[HW + i] + 0.114 * img[2 * HW + i] : img[i];
        m /= (double)HW;
        for (int64_t i = 0; i < C * HW; i++) img[i] = clamp01(f * img[i] + (1 - f) * m);
    } else if (fn == 2 && C == 3) {
        for (int64_t i = 0; i < HW; i++) {
            double l = 0.2989 * img[i] + 0.587 * img[HW + i] + 0.114 * img[2 * HW + i];
            for (int c = 0; c < 3; c++) img[c * HW + i] = clamp01(f * img[c * HW + i] + (1 - f) * l);
        }
    } else if (fn == 3 && C == 3) {
        for (int64_t i = 0; i < HW; i++) {
            double h, s, v, rgb[3];
            ref_rgb2hsv(img[i], img[HW + i], img[2 * HW + i], &h, &s, &v);
            h = h + f - floor(h + f);
            ref_hsv2rgb(h, s, v, rgb);
            for (int c = 0; c < 3; c++) img[c * HW + i] = rgb[c];
        }
    }
}

static int jitter_run(int64_t C, const char *label) {
    jit_case k = {.B = 6, .C = C, .H = 7, .W = 5,
                  .fac = {1.5, 0.6, 1.7, 0.3, 0.7, 1.4, 0.2, -0.45, 1, 1, 1, 0.5, 0.9, 1.8, 0, -0.5, 2, 0, 1, 0.1,
                          1.2, 0.5, 1.3, 0.2},
                  .order = {0, 1, 2, 3, 3, 2, 1, 0, -1, -1, -1, 3, 2, 0, 3, 1, -1, -1, -1, -1, 1, -1, 3, 0}};
    int64_t HW = k.H * k.W, n = k.B * C * HW;
    k.x = rand_image(n, 21);
    /* a gray pixel and a saturated one in sample 0 */
    if (C == 3) {
        k.x[5] = k.x[HW + 5] = k.x[2 * HW + 5] = 0.25;
        k.x[6] = 1, k.x[HW + 6] = 0, k.x[2 * HW + 6] = 0;
    }
    double *want = malloc((size_t)n * sizeof *want);
    memcpy(want, k.x, (size_t)n * sizeof *want);
    for (int64_t b = 0; b < k.B; b++)
        for (int j = 0; j < 4; j++) {
            int fn = k.order[4 * b + j];
            if (fn >= 0) ref_jitter_image(want + b * C * HW, C, HW, fn, (float)k.fac[4 * b + fn]);
        }
    int r = check_both(label, build_jitter, &k, want, n, TOL32);
    free(want);
    free(k.x);
    return r;
}

static int color_jitter_f(void) {
    if (jitter_run(3, "ColorJitter") || jitter_run(1, "ColorJitter (1 channel: saturation, hue no-ops)")) return 1;
    /* an order entry outside -1..3 fails at run time */
    ir_graph g;
    ir_graph_init(&g);
    double x[2 * 3 * 2 * 2] = {0}, f[8] = {1, 1, 1, 0, 1, 1, 1, 0};
    int32_t o[8] = {0, 1, 2, 3, 0, 4, -1, -1};
    int y = ir_color_jitter(&g, const_f32(&g, IR_SHAPE(2, 3, 2, 2), x), const_f32(&g, IR_SHAPE(2, 4), f),
                            const_i32(&g, IR_SHAPE(2, 4), o));
    CHECK(y >= 0, "build: %s", g.err);
    ir_add_output(&g, y);
    interp it;
    char err[IR_ERRLEN];
    CHECK(interp_init(&it, &g, 0, err) == 0, "%s", err);
    CHECK(interp_run(&it, err) != 0 && strstr(err, "order"), "order entry 4 accepted (%s)", err);
    interp_free(&it);
    ir_graph_free(&g);
    return 0;
}

/* ---- GaussianBlur ---- */
typedef struct {
    int64_t B, C, H, W, K;
    double *x, sigma[3];
} blur_case;

static int build_blur(ir_graph *g, const void *ctx) {
    const blur_case *k = ctx;
    int x = const_f32(g, IR_SHAPE(k->B, k->C, k->H, k->W), k->x);
    return ir_gaussian_blur(g, x, const_f32(g, IR_SHAPE(k->B), k->sigma), (int)k->K);
}

static int64_t reflect(int64_t i, int64_t n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; }

static int blur_run(int64_t K, int64_t H, int64_t W, const char *label) {
    blur_case k = {.B = 3, .C = 3, .H = H, .W = W, .K = K, .sigma = {0.7, 0, 1.9}};
    int64_t HW = H * W, n = k.B * k.C * HW, half = K / 2;
    k.x = rand_image(n, 31);
    double *want = malloc((size_t)n * sizeof *want), kern[64];
    for (int64_t b = 0; b < k.B; b++) {
        double sg = (float)k.sigma[b], sum = 0;
        for (int64_t t = 0; t < K; t++) sum += kern[t] = exp(-0.5 * ((t - half) / sg) * ((t - half) / sg));
        for (int64_t t = 0; t < K; t++) kern[t] /= sum;
        for (int64_t c = 0; c < k.C; c++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    const double *p = k.x + (b * k.C + c) * HW;
                    double s = 0;
                    if (!(k.sigma[b] > 0))
                        s = p[h * W + w];
                    else
                        for (int64_t i = 0; i < K; i++)
                            for (int64_t j = 0; j < K; j++)
                                s += kern[i] * kern[j] * p[reflect(h + i - half, H) * W + reflect(w + j - half, W)];
                    want[(b * k.C + c) * HW + h * W + w] = s;
                }
    }
    int r = check_both(label, build_blur, &k, want, n, TOL32);
    free(want);
    free(k.x);
    return r;
}

static int gaussian_blur_f(void) {
    if (blur_run(3, 6, 5, "GaussianBlur k=3") || blur_run(7, 9, 8, "GaussianBlur k=7") ||
        blur_run(23, 12, 13, "GaussianBlur k=23"))
        return 1;
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3, 8, 8)), s = ir_input(&g, "s", DT_F32, IR_SHAPE(2));
    CHECK(ir_gaussian_blur(&g, x, s, 17) < 0 && strstr(g.err, "larger"), "kernel wider than the image accepted");
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3, 8, 8)), s = ir_input(&g, "s", DT_F32, IR_SHAPE(2));
    CHECK(ir_gaussian_blur(&g, x, s, 4) < 0 && strstr(g.err, "odd"), "even kernel accepted");
    ir_graph_free(&g);
    return 0;
}

/* ---- Normalize ---- */
typedef struct {
    int64_t C, nm;
    double *x, mean[3], std[3];
} norm_case;

static int build_norm(ir_graph *g, const void *ctx) {
    const norm_case *k = ctx;
    int x = const_f32(g, IR_SHAPE(2, k->C, 3, 4), k->x);
    return ir_normalize(g, x, const_f32(g, IR_SHAPE(k->nm), k->mean), const_f32(g, IR_SHAPE(k->C), k->std));
}

static int normalize_f(void) {
    for (int nm1 = 0; nm1 < 2; nm1++) {
        norm_case k = {.C = 3, .nm = nm1 ? 1 : 3, .mean = {0.5, 0.4, 0.3}, .std = {0.229, 0.224, 0.225}};
        int64_t n = 2 * 3 * 12;
        k.x = rand_image(n, 41);
        double want[72];
        for (int64_t i = 0; i < n; i++) {
            int64_t c = (i / 12) % 3;
            want[i] = (k.x[i] - (float)k.mean[nm1 ? 0 : c]) / (float)k.std[c];
        }
        int r = check_both(nm1 ? "Normalize (one mean)" : "Normalize", build_norm, &k, want, n, TOL32);
        free(k.x);
        if (r) return 1;
    }
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3, 4, 4));
    double two[2] = {0, 1};
    CHECK(ir_normalize(&g, x, const_f32(&g, IR_SHAPE(2), two), const_f32(&g, IR_SHAPE(2), two)) < 0 &&
              strstr(g.err, "mean"),
          "2 means for 3 channels accepted");
    ir_graph_free(&g);
    return 0;
}

OPTEST_FAMILY(augment) = {{"ToFloat", to_float_f, NULL},
                          {"ResizedCrop", resized_crop_f, NULL},
                          {"HorizontalFlip", hflip_f, NULL},
                          {"ColorJitter", color_jitter_f, NULL},
                          {"Grayscale", grayscale_f, NULL},
                          {"GaussianBlur", gaussian_blur_f, NULL},
                          {"Solarize", solarize_f, NULL},
                          {"Normalize", normalize_f, NULL},
                          {NULL, NULL, NULL}};
