/* Augmentation ops (torchvision's tensor transforms, per-sample parameters as tensor inputs).
 * Images are float [B,C,H,W] in [0,1] (C = 1 or 3 where colour matters); every op is
 * OPF_NO_GRAD. The float kernels follow torchvision 0.14 / PyTorch's CPU arithmetic step by step
 * (same operation order, float intermediates) so that they agree with torchvision.transforms.
 * functional to a few float ulps; the double kernels run the same formulas in double.
 *
 *   ToFloat(u8 x)                        x / 255 (torchvision's to_tensor / convert_image_dtype)
 *   ResizedCrop(x, box i32 [B,4])        per sample crop (top, left, height, width) then resize
 *                                        to size=[OH,OW]; interpolation 0 bilinear, 1 bicubic
 *                                        (align_corners=False, antialias off, no clamping)
 *   HorizontalFlip(x, flag [B])          flip where flag != 0
 *   ColorJitter(x, factors [B,4], order i32 [B,4])
 *                                        factors = (brightness, contrast, saturation, hue); order[k]
 *                                        in {0,1,2,3} applies adjust_{brightness,contrast,
 *                                        saturation,hue}, -1 skips: torchvision's random order with
 *                                        `None` factors and RandomApply expressed per sample
 *   Grayscale(x, flag [B])               rgb_to_grayscale(num_output_channels=3) where flag != 0;
 *                                        1-channel images pass through
 *   GaussianBlur(x, sigma [B])           kernel_size attribute, reflect padding; sigma <= 0: identity
 *   Solarize(x, flag [B])                where flag != 0: x >= threshold ? 1 - x : x
 *   Normalize(x, mean [C|1], std [C|1])  (x - mean) / std
 */
#include "../opkit.h"
#include "parallel.h"

#include <stdint.h>

/* ---- kernels (compiled for float and double) ---- */

#define IMG_DIMS(k)                                                                                                \
    int64_t B = c->in[k].shape.d[0], C = c->in[k].shape.d[1], H = c->in[k].shape.d[2], W = c->in[k].shape.d[3];     \
    int64_t HW = H * W;                                                                                            \
    (void)B, (void)C, (void)HW

int KN(ref_to_float)(const ref_call *c) {
    const uint8_t *x = c->in[0].data;
    real *y = OUT(0);
    int64_t n = c->out[0].numel;
    OMP_FOR_IF(n > OMP_MIN_WORK)
    for (int64_t i = 0; i < n; i++) y[i] = (real)x[i] / (real)255;
    return 0;
}

/* PyTorch's cubic convolution coefficients, A = -0.75 */
static inline void KN(cubic_coeffs)(real t, real w[4]) {
    const real A = (real)-0.75;
    real x1 = t + (real)1;
    w[0] = ((A * x1 - (real)5 * A) * x1 + (real)8 * A) * x1 - (real)4 * A;
    w[1] = ((A + (real)2) * t - (A + (real)3)) * t * t + (real)1;
    real x2 = (real)1 - t;
    w[2] = ((A + (real)2) * x2 - (A + (real)3)) * x2 * x2 + (real)1;
    real x3 = x2 + (real)1;
    w[3] = ((A * x3 - (real)5 * A) * x3 + (real)8 * A) * x3 - (real)4 * A;
}

/* Indices (into the crop, 0..in-1) and weights of the taps of output positions 0..out-1, as
 * PyTorch's CPU upsampling computes them: the scale in the tensor's type, the source index
 * scale * (o + 0.5) - 0.5 in double (at::acc_type), the fraction rounded to the tensor's type. */
static void KN(interp_taps)(int64_t in, int64_t out, int cubic, int64_t *idx, real *wt) {
    real scale = (real)in / (real)out;
    for (int64_t o = 0; o < out; o++) {
        double s = (double)scale * ((double)o + 0.5) - 0.5;
        if (cubic) {
            int64_t i0 = (int64_t)floor(s);
            KN(cubic_coeffs)((real)(s - (double)i0), wt + 4 * o);
            for (int k = 0; k < 4; k++) {
                int64_t j = i0 - 1 + k;
                idx[4 * o + k] = j < 0 ? 0 : j > in - 1 ? in - 1 : j;
            }
        } else if (in == out) { /* PyTorch copies */
            idx[2 * o] = idx[2 * o + 1] = o;
            wt[2 * o] = 1;
            wt[2 * o + 1] = 0;
        } else {
            if (s < 0) s = 0;
            int64_t i0 = (int64_t)s;
            real l1 = (real)(s - (double)i0);
            idx[2 * o] = i0;
            idx[2 * o + 1] = i0 < in - 1 ? i0 + 1 : i0;
            wt[2 * o] = (real)1 - l1;
            wt[2 * o + 1] = l1;
        }
    }
}

int KN(ref_resized_crop)(const ref_call *c) {
    IMG_DIMS(0);
    const int32_t *box = c->in[1].data;
    int64_t OH = c->out[0].shape.d[2], OW = c->out[0].shape.d[3];
    int cubic = ir_get_i(c->node, "interpolation") == 1;
    int taps = cubic ? 4 : 2;
    for (int64_t b = 0; b < B; b++) {
        const int32_t *bx = box + 4 * b;
        if (bx[0] < 0 || bx[1] < 0 || bx[2] < 1 || bx[3] < 1 || (int64_t)bx[0] + bx[2] > H || (int64_t)bx[1] + bx[3] > W) {
            snprintf(c->err, IR_ERRLEN,
                     "ResizedCrop: sample %lld: box (top %d, left %d, height %d, width %d) is not inside the %lldx%lld image",
                     (long long)b, bx[0], bx[1], bx[2], bx[3], (long long)H, (long long)W);
            return -1;
        }
    }
    int64_t *idx = malloc((size_t)(B * taps * (OH + OW)) * sizeof *idx);
    real *wt = malloc((size_t)(B * taps * (OH + OW)) * sizeof *wt);
    if (!idx || !wt) {
        free(idx), free(wt);
        snprintf(c->err, IR_ERRLEN, "ResizedCrop: out of memory");
        return -1;
    }
    const real *x = IN(0);
    real *y = OUT(0);
    OMP_FOR_IF(c->out[0].numel * taps * taps > OMP_MIN_WORK)
    for (int64_t b = 0; b < B; b++) {
        const int32_t *bx = box + 4 * b;
        int64_t *ih = idx + b * taps * (OH + OW), *iw = ih + taps * OH;
        real *wh = wt + b * taps * (OH + OW), *ww = wh + taps * OH;
        KN(interp_taps)(bx[2], OH, cubic, ih, wh);
        KN(interp_taps)(bx[3], OW, cubic, iw, ww);
        for (int64_t ch = 0; ch < C; ch++) {
            const real *xp = x + (b * C + ch) * HW + (int64_t)bx[0] * W + bx[1];
            real *yp = y + (b * C + ch) * OH * OW;
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    /* torch: outer sum over rows of (inner sum over columns), sequential */
                    real acc = 0;
                    for (int i = 0; i < taps; i++) {
                        const real *row = xp + ih[taps * oh + i] * W;
                        real t = row[iw[taps * ow]] * ww[taps * ow];
                        for (int j = 1; j < taps; j++) t += row[iw[taps * ow + j]] * ww[taps * ow + j];
                        if (i == 0)
                            acc = t * wh[taps * oh];
                        else
                            acc += t * wh[taps * oh + i];
                    }
                    yp[oh * OW + ow] = acc;
                }
        }
    }
    free(idx);
    free(wt);
    return 0;
}

int KN(ref_hflip)(const ref_call *c) {
    IMG_DIMS(0);
    const real *x = IN(0), *flag = IN(1);
    real *y = OUT(0);
    OMP_FOR_IF(c->out[0].numel > OMP_MIN_WORK)
    for (int64_t p = 0; p < B * C; p++) {
        int flip = flag[p / C] != 0;
        for (int64_t h = 0; h < H; h++) {
            const real *xr = x + p * HW + h * W;
            real *yr = y + p * HW + h * W;
            if (flip)
                for (int64_t w = 0; w < W; w++) yr[w] = xr[W - 1 - w];
            else
                memcpy(yr, xr, (size_t)W * sizeof(real));
        }
    }
    return 0;
}

/* torchvision _blend: (ratio * a + (1.0 - ratio) * b).clamp(0, 1); the python double 1.0 - ratio is
 * rounded to the tensor's dtype */
static inline real KN(blend)(real a, real b, real ratio, real one_minus) {
    real v = ratio * a + one_minus * b;
    return v < 0 ? (real)0 : v > 1 ? (real)1 : v;
}

/* rgb_to_grayscale: (0.2989 * r + 0.587 * g + 0.114 * b) with float scalars */
static inline real KN(luma)(real r, real g, real b) {
    return (real)0.2989 * r + (real)0.587 * g + (real)0.114 * b;
}

static inline real KN(clamp01)(real v) { return v < 0 ? (real)0 : v > 1 ? (real)1 : v; }

/* fmod(x, 1): x - trunc(x) is exact (Sterbenz) and much cheaper than the libm call */
static inline real KN(fmod1)(real x) { return x - (real)trunc(x); }

/* adjust_hue on one pixel: _rgb2hsv, (h + factor) % 1.0, _hsv2rgb */
static inline void KN(hue_pixel)(real *pr, real *pg, real *pb, real factor) {
    real r = *pr, g = *pg, b = *pb;
    real maxc = r > g ? r : g, minc = r < g ? r : g;
    maxc = maxc > b ? maxc : b;
    minc = minc < b ? minc : b;
    int eqc = maxc == minc;
    real cr = maxc - minc;
    real s = cr / (eqc ? (real)1 : maxc);
    real crd = eqc ? (real)1 : cr;
    real rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    real hr = (maxc == r) ? bc - gc : (real)0;
    real hg = (maxc == g && maxc != r) ? ((real)2 + rc) - bc : (real)0;
    real hb = (maxc != g && maxc != r) ? ((real)4 + gc) - rc : (real)0;
    real h = (hr + hg) + hb;
    h = KN(fmod1)(h / (real)6 + (real)1);
    /* torch.remainder(h + factor, 1.0) */
    h = h + factor;
    real m = KN(fmod1)(h);
    if (m != 0 && m < 0) m += (real)1;
    h = m;
    /* _hsv2rgb */
    real v = maxc;
    real fi = (real)floor(h * (real)6);
    real f = h * (real)6 - fi;
    int i = (int)fi % 6;
    if (i < 0) i += 6;
    real p = KN(clamp01)(v * ((real)1 - s));
    real q = KN(clamp01)(v * ((real)1 - s * f));
    real t = KN(clamp01)(v * ((real)1 - s * ((real)1 - f)));
    switch (i) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    *pr = r, *pg = g, *pb = b;
}

/* the four adjust_* functions on one image [C,H,W] in place */
static void KN(jitter_one)(real *img, int64_t C, int64_t HW, int fn, real factor) {
    real one_minus = (real)(1.0 - (double)factor);
    if (fn == 0) { /* adjust_brightness: blend with zeros */
        for (int64_t i = 0; i < C * HW; i++) img[i] = KN(blend)(img[i], 0, factor, one_minus);
    } else if (fn == 1) { /* adjust_contrast: blend with the mean of the grayscale image */
        double s = 0;
        if (C == 3)
            for (int64_t i = 0; i < HW; i++) s += (double)KN(luma)(img[i], img[HW + i], img[2 * HW + i]);
        else
            for (int64_t i = 0; i < HW; i++) s += (double)img[i];
        real mean = (real)(s / (double)HW);
        for (int64_t i = 0; i < C * HW; i++) img[i] = KN(blend)(img[i], mean, factor, one_minus);
    } else if (fn == 2) { /* adjust_saturation: blend with the grayscale image; 1 channel: no-op */
        if (C != 3) return;
        for (int64_t i = 0; i < HW; i++) {
            real l = KN(luma)(img[i], img[HW + i], img[2 * HW + i]);
            for (int64_t ch = 0; ch < 3; ch++) img[ch * HW + i] = KN(blend)(img[ch * HW + i], l, factor, one_minus);
        }
    } else if (fn == 3) { /* adjust_hue; 1 channel: no-op */
        if (C != 3) return;
        for (int64_t i = 0; i < HW; i++) KN(hue_pixel)(img + i, img + HW + i, img + 2 * HW + i, factor);
    }
}

int KN(ref_color_jitter)(const ref_call *c) {
    IMG_DIMS(0);
    const real *x = IN(0), *fac = IN(1);
    const int32_t *order = c->in[2].data;
    real *y = OUT(0);
    for (int64_t b = 0; b < B; b++)
        for (int k = 0; k < 4; k++) {
            int32_t fn = order[4 * b + k];
            if (fn < -1 || fn > 3) {
                snprintf(c->err, IR_ERRLEN, "ColorJitter: sample %lld: order entry %d is not -1..3", (long long)b, fn);
                return -1;
            }
        }
    memcpy(y, x, (size_t)c->out[0].numel * sizeof(real));
    OMP_FOR_IF(c->out[0].numel * 4 > OMP_MIN_WORK)
    for (int64_t b = 0; b < B; b++)
        for (int k = 0; k < 4; k++) {
            int32_t fn = order[4 * b + k];
            if (fn >= 0) KN(jitter_one)(y + b * C * HW, C, HW, fn, fac[4 * b + fn]);
        }
    return 0;
}

int KN(ref_grayscale)(const ref_call *c) {
    IMG_DIMS(0);
    const real *x = IN(0), *flag = IN(1);
    real *y = OUT(0);
    OMP_FOR_IF(c->out[0].numel > OMP_MIN_WORK)
    for (int64_t b = 0; b < B; b++) {
        const real *xi = x + b * C * HW;
        real *yi = y + b * C * HW;
        if (C != 3 || flag[b] == 0) {
            memcpy(yi, xi, (size_t)(C * HW) * sizeof(real));
            continue;
        }
        for (int64_t i = 0; i < HW; i++) yi[i] = yi[HW + i] = yi[2 * HW + i] = KN(luma)(xi[i], xi[HW + i], xi[2 * HW + i]);
    }
    return 0;
}

/* reflect padding index (torch 'reflect': the edge is not repeated); needs |overshoot| < n */
static inline int64_t reflect_idx(int64_t i, int64_t n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; }

int KN(ref_gaussian_blur)(const ref_call *c) {
    IMG_DIMS(0);
    const real *x = IN(0), *sigma = IN(1);
    real *y = OUT(0);
    int64_t K = ir_get_i(c->node, "kernel_size"), half = K / 2;
    real *tmp = malloc((size_t)(B * HW + K * B) * sizeof(real));
    if (!tmp) {
        snprintf(c->err, IR_ERRLEN, "GaussianBlur: out of memory");
        return -1;
    }
    OMP_FOR_IF(c->out[0].numel * K > OMP_MIN_WORK)
    for (int64_t b = 0; b < B; b++) {
        real *t = tmp + b * HW, *kern = tmp + B * HW + b * K;
        if (!(sigma[b] > 0)) {
            memcpy(y + b * C * HW, x + b * C * HW, (size_t)(C * HW) * sizeof(real));
            continue;
        }
        /* _get_gaussian_kernel1d: x = linspace(-half, half), pdf = exp(-0.5 * (x / sigma)^2), / sum */
        real sum = 0;
        for (int64_t k = 0; k < K; k++) {
            real u = (real)(k - half) / sigma[b];
            kern[k] = (real)exp((real)-0.5 * (u * u));
            sum += kern[k];
        }
        for (int64_t k = 0; k < K; k++) kern[k] /= sum;
        for (int64_t ch = 0; ch < C; ch++) {
            const real *xp = x + (b * C + ch) * HW;
            real *yp = y + (b * C + ch) * HW;
            for (int64_t h = 0; h < H; h++) /* along W */
                for (int64_t w = 0; w < W; w++) {
                    real acc = 0;
                    for (int64_t k = 0; k < K; k++) acc += kern[k] * xp[h * W + reflect_idx(w + k - half, W)];
                    t[h * W + w] = acc;
                }
            for (int64_t h = 0; h < H; h++) /* along H */
                for (int64_t w = 0; w < W; w++) {
                    real acc = 0;
                    for (int64_t k = 0; k < K; k++) acc += kern[k] * t[reflect_idx(h + k - half, H) * W + w];
                    yp[h * W + w] = acc;
                }
        }
    }
    free(tmp);
    return 0;
}

int KN(ref_solarize)(const ref_call *c) {
    IMG_DIMS(0);
    const real *x = IN(0), *flag = IN(1);
    real *y = OUT(0);
    real thr = (real)ir_get_f(c->node, "threshold");
    OMP_FOR_IF(c->out[0].numel > OMP_MIN_WORK)
    for (int64_t b = 0; b < B; b++) {
        const real *xi = x + b * C * HW;
        real *yi = y + b * C * HW;
        int on = flag[b] != 0;
        for (int64_t i = 0; i < C * HW; i++) yi[i] = (on && xi[i] >= thr) ? (real)1 - xi[i] : xi[i];
    }
    return 0;
}

int KN(ref_normalize)(const ref_call *c) {
    IMG_DIMS(0);
    const real *x = IN(0), *mean = IN(1), *std = IN(2);
    int64_t nm = c->in[1].numel, ns = c->in[2].numel;
    real *y = OUT(0);
    OMP_FOR_IF(c->out[0].numel > OMP_MIN_WORK)
    for (int64_t p = 0; p < B * C; p++) {
        int64_t ch = p % C;
        real m = mean[nm == 1 ? 0 : ch], s = std[ns == 1 ? 0 : ch];
        for (int64_t i = 0; i < HW; i++) y[p * HW + i] = (x[p * HW + i] - m) / s;
    }
    return 0;
}

#ifndef SSLC_REF_F64
/* ---- definitions and builders (compiled once) ---- */

/* x must be a float [B,C,H,W] image batch; C in {1,3} when colour_only */
static int image_arg(ir_graph *g, const ir_node *n, int colour_only) {
    const char *op = ir_optable[n->op]->name;
    const ir_value *x = &g->vals[n->in[0]];
    if (!ir_dtype_is_float(x->dtype)) return ir_fail(g, "%s: images must be float, got %s", op, ir_dtype_name(x->dtype));
    if (x->shape.ndim != 4) return ir_fail(g, "%s: images must be [B,C,H,W], got rank %d", op, x->shape.ndim);
    for (int d = 0; d < 4; d++)
        if (x->shape.d[d] < 1) return ir_fail(g, "%s: empty image batch", op);
    if (colour_only && x->shape.d[1] != 1 && x->shape.d[1] != 3)
        return ir_fail(g, "%s: images need 1 or 3 channels, got %lld", op, (long long)x->shape.d[1]);
    return 0;
}

/* input k must be dtype dt with shape [B] (cols 0) or [B, cols] */
static int param_arg(ir_graph *g, const ir_node *n, int k, ir_dtype dt, int64_t cols) {
    const char *op = ir_optable[n->op]->name;
    const ir_value *x = &g->vals[n->in[0]], *p = &g->vals[n->in[k]];
    int64_t B = x->shape.d[0];
    ir_shape want = cols ? IR_SHAPE(B, cols) : IR_SHAPE(B);
    int dt_ok = dt == DT_F32 ? p->dtype == x->dtype : p->dtype == dt;
    if (!dt_ok || !ir_shape_eq(&p->shape, &want)) {
        char a[96], b[96];
        ir_shape_str(&p->shape, a, sizeof a);
        ir_shape_str(&want, b, sizeof b);
        return ir_fail(g, "%s: input %d (per-sample parameters) is %s %s, expected %s %s", op, k, ir_dtype_name(p->dtype),
                       a, ir_dtype_name(dt == DT_F32 ? x->dtype : dt), b);
    }
    return 0;
}

static int to_float_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    if (x->dtype != DT_U8) return ir_fail(g, "ToFloat: needs a u8 tensor, got %s", ir_dtype_name(x->dtype));
    os[0] = x->shape;
    od[0] = DT_F32;
    return 0;
}

static int resized_crop_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (image_arg(g, n, 0) || param_arg(g, n, 1, DT_I32, 4)) return -1;
    const ir_attrval *size = ir_get(n, "size");
    int64_t interp = ir_get_i(n, "interpolation");
    if (size->n != 2 || size->v[0] < 1 || size->v[1] < 1)
        return ir_fail(g, "ResizedCrop: size needs 2 positive values (height, width)");
    if (interp != 0 && interp != 1)
        return ir_fail(g, "ResizedCrop: interpolation must be 0 (bilinear) or 1 (bicubic), got %lld", (long long)interp);
    const ir_value *x = &g->vals[n->in[0]];
    os[0] = IR_SHAPE(x->shape.d[0], x->shape.d[1], size->v[0], size->v[1]);
    od[0] = x->dtype;
    return 0;
}

static int flag_op_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    int colour = n->op == OP_Grayscale || n->op == OP_Solarize;
    if (image_arg(g, n, colour) || param_arg(g, n, 1, DT_F32, 0)) return -1;
    return ir_infer_same(g, n, os, od);
}

static int color_jitter_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (image_arg(g, n, 1) || param_arg(g, n, 1, DT_F32, 4) || param_arg(g, n, 2, DT_I32, 4)) return -1;
    return ir_infer_same(g, n, os, od);
}

static int gaussian_blur_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (image_arg(g, n, 0) || param_arg(g, n, 1, DT_F32, 0)) return -1;
    int64_t k = ir_get_i(n, "kernel_size");
    const ir_value *x = &g->vals[n->in[0]];
    if (k < 1 || k % 2 == 0) return ir_fail(g, "GaussianBlur: kernel_size must be odd and positive, got %lld", (long long)k);
    if (k / 2 >= x->shape.d[2] || k / 2 >= x->shape.d[3])
        return ir_fail(g, "GaussianBlur: kernel size %lld needs images larger than %lld pixels (reflect padding), got %lldx%lld",
                       (long long)k, (long long)(k / 2), (long long)x->shape.d[2], (long long)x->shape.d[3]);
    return ir_infer_same(g, n, os, od);
}

static int normalize_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (image_arg(g, n, 0)) return -1;
    const ir_value *x = &g->vals[n->in[0]];
    for (int k = 1; k <= 2; k++) {
        const ir_value *p = &g->vals[n->in[k]];
        int64_t m = ir_numel(&p->shape);
        if (p->dtype != x->dtype || p->shape.ndim != 1 || (m != 1 && m != x->shape.d[1]))
            return ir_fail(g, "Normalize: %s must be %s [%lld] or [1], got %s of %lld values", k == 1 ? "mean" : "std",
                           ir_dtype_name(x->dtype), (long long)x->shape.d[1], ir_dtype_name(p->dtype), (long long)m);
    }
    return ir_infer_same(g, n, os, od);
}

int ir_to_float(ir_graph *g, int x) { return ir_simple(g, OP_ToFloat, &x, 1); }

int ir_resized_crop(ir_graph *g, int x, int box, int64_t out_h, int64_t out_w, int bicubic) {
    int node = ir_node_new(g, OP_ResizedCrop, (int[]){x, box}, 2);
    int64_t size[2] = {out_h, out_w};
    ir_set_ints(g, node, "size", size, 2);
    ir_set_i(g, node, "interpolation", bicubic ? 1 : 0);
    return ir_node_finish(g, node);
}

int ir_hflip(ir_graph *g, int x, int flag) { return ir_simple(g, OP_HorizontalFlip, (int[]){x, flag}, 2); }

int ir_color_jitter(ir_graph *g, int x, int factors, int order) {
    return ir_simple(g, OP_ColorJitter, (int[]){x, factors, order}, 3);
}

int ir_grayscale(ir_graph *g, int x, int flag) { return ir_simple(g, OP_Grayscale, (int[]){x, flag}, 2); }

int ir_gaussian_blur(ir_graph *g, int x, int sigma, int kernel_size) {
    int node = ir_node_new(g, OP_GaussianBlur, (int[]){x, sigma}, 2);
    ir_set_i(g, node, "kernel_size", kernel_size);
    return ir_node_finish(g, node);
}

int ir_solarize(ir_graph *g, int x, int flag, double threshold) {
    int node = ir_node_new(g, OP_Solarize, (int[]){x, flag}, 2);
    ir_set_f(g, node, "threshold", threshold);
    return ir_node_finish(g, node);
}

int ir_normalize(ir_graph *g, int x, int mean, int std) { return ir_simple(g, OP_Normalize, (int[]){x, mean, std}, 3); }

/* per output element: taps^2 multiply-adds (crop), 4 adjustments x ~10 (jitter), 2K (blur) */
static int64_t resized_crop_flops(const ir_graph *g, const ir_node *n) {
    int64_t taps = ir_get_i(n, "interpolation") == 1 ? 4 : 2;
    return ir_numel(&g->vals[n->out[0]].shape) * 2 * (taps * taps + taps);
}
static int64_t color_jitter_flops(const ir_graph *g, const ir_node *n) {
    return ir_numel(&g->vals[n->out[0]].shape) * 40;
}
static int64_t gaussian_blur_flops(const ir_graph *g, const ir_node *n) {
    return ir_numel(&g->vals[n->out[0]].shape) * 4 * ir_get_i(n, "kernel_size");
}

REF_PROTO(ref_to_float);
REF_PROTO(ref_resized_crop);
REF_PROTO(ref_hflip);
REF_PROTO(ref_color_jitter);
REF_PROTO(ref_grayscale);
REF_PROTO(ref_gaussian_blur);
REF_PROTO(ref_solarize);
REF_PROTO(ref_normalize);

/* ToFloat(u8 x) -> f32 x / 255 */
const ir_opdef op_ToFloat = {.name = "ToFloat", .min_in = 1, .max_in = 1, .nout = 1,
                             .flags = OPF_NO_GRAD | OPF_ELEMENTWISE, .infer = to_float_infer, REF(ref_to_float)};
/* ResizedCrop(x [B,C,H,W], box i32 [B,4] = top,left,height,width) -> [B,C,size] */
const ir_opdef op_ResizedCrop = {.name = "ResizedCrop", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_NO_GRAD,
                                 .nattrs = 2, .attrs = {{"size", AT_INTS, 0}, {"interpolation", AT_INT, 0}},
                                 .infer = resized_crop_infer, REF(ref_resized_crop), .flops = resized_crop_flops};
/* HorizontalFlip(x, flag [B]) */
const ir_opdef op_HorizontalFlip = {.name = "HorizontalFlip", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_NO_GRAD,
                                    .infer = flag_op_infer, REF(ref_hflip)};
/* ColorJitter(x, factors [B,4], order i32 [B,4]) */
const ir_opdef op_ColorJitter = {.name = "ColorJitter", .min_in = 3, .max_in = 3, .nout = 1, .flags = OPF_NO_GRAD,
                                 .infer = color_jitter_infer, REF(ref_color_jitter), .flops = color_jitter_flops};
/* Grayscale(x, flag [B]) */
const ir_opdef op_Grayscale = {.name = "Grayscale", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_NO_GRAD,
                               .infer = flag_op_infer, REF(ref_grayscale)};
/* GaussianBlur(x, sigma [B]), kernel_size */
const ir_opdef op_GaussianBlur = {.name = "GaussianBlur", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_NO_GRAD,
                                  .nattrs = 1, .attrs = {{"kernel_size", AT_INT, 3}}, .infer = gaussian_blur_infer,
                                  REF(ref_gaussian_blur), .flops = gaussian_blur_flops};
/* Solarize(x, flag [B]), threshold (default 128/255, DESIGN §3) */
const ir_opdef op_Solarize = {.name = "Solarize", .min_in = 2, .max_in = 2, .nout = 1, .flags = OPF_NO_GRAD,
                              .nattrs = 1, .attrs = {{"threshold", AT_FLOAT, 128.0 / 255.0}}, .infer = flag_op_infer,
                              REF(ref_solarize)};
/* Normalize(x, mean [C|1], std [C|1]) */
const ir_opdef op_Normalize = {.name = "Normalize", .min_in = 3, .max_in = 3, .nout = 1, .flags = OPF_NO_GRAD,
                               .infer = normalize_infer, REF(ref_normalize)};
#endif
