/* The augmentation ops of ir/ops/augment.c on the device (prepared by runtime/devops/augment.c).
 * Each body mirrors the f32 reference kernel for one output element (one pixel for ColorJitter):
 * the same operations in the same order, float intermediates where the reference has them,
 * double where it promotes (the contrast mean, the source index of the resampling, exp and
 * floor/trunc on promoted floats), so that the C twin is bit-identical with the reference.
 * Images are f32 [B,C,H,W]; per-sample parameters are f32 unless said. A per-sample parameter
 * that the reference refuses at run time (a crop box outside the image, an order entry outside
 * -1..3) cannot be refused by a kernel: that sample's output is NaN instead. */

#ifdef __CUDACC_RTC__
#define AUGDEV_NAN __int_as_float(0x7fffffff)
#else
#define AUGDEV_NAN NAN
#endif

/* ToFloat: p[0] u8 x, p[1] f32 y (any shape): x / 255 */
DEVOP_KERNEL(ToFloat) { ((float *)a->p[1])[i] = (float)((const uint8_t *)a->p[0])[i] / (float)255; }

/* ---- ResizedCrop ---- */

/* PyTorch's cubic convolution coefficients, A = -0.75 (KN(cubic_coeffs)) */
DEVOP_FN void augdev_cubic_coeffs(float t, float w[4]) {
    const float A = (float)-0.75;
    float x1 = t + (float)1;
    w[0] = ((A * x1 - (float)5 * A) * x1 + (float)8 * A) * x1 - (float)4 * A;
    w[1] = ((A + (float)2) * t - (A + (float)3)) * t * t + (float)1;
    float x2 = (float)1 - t;
    w[2] = ((A + (float)2) * x2 - (A + (float)3)) * x2 * x2 + (float)1;
    float x3 = x2 + (float)1;
    w[3] = ((A * x3 - (float)5 * A) * x3 + (float)8 * A) * x3 - (float)4 * A;
}

/* the taps of output position o of a resampling from `in` to `out` (KN(interp_taps) for one o) */
DEVOP_FN void augdev_taps(int64_t in, int64_t out, int cubic, int64_t o, int64_t *idx, float *wt) {
    float scale = (float)in / (float)out;
    double s = (double)scale * ((double)o + 0.5) - 0.5;
    if (cubic) {
        int64_t i0 = (int64_t)floor(s);
        augdev_cubic_coeffs((float)(s - (double)i0), wt);
        for (int k = 0; k < 4; k++) {
            int64_t j = i0 - 1 + k;
            idx[k] = j < 0 ? 0 : j > in - 1 ? in - 1 : j;
        }
    } else if (in == out) {
        idx[0] = idx[1] = o;
        wt[0] = 1;
        wt[1] = 0;
    } else {
        if (s < 0) s = 0;
        int64_t i0 = (int64_t)s;
        float l1 = (float)(s - (double)i0);
        idx[0] = i0;
        idx[1] = i0 < in - 1 ? i0 + 1 : i0;
        wt[0] = (float)1 - l1;
        wt[1] = l1;
    }
}

/* ResizedCrop: p[0] x [B,C,H,W], p[1] box i32 [B,4] (top, left, height, width), p[2] y
 * [B,C,OH,OW]; i[0..5] B, C, H, W, OH, OW, i[6] 1 bicubic / 0 bilinear. One output element. */
DEVOP_KERNEL(ResizedCrop) {
    int64_t C = a->i[1], H = a->i[2], W = a->i[3], OH = a->i[4], OW = a->i[5];
    int cubic = a->i[6] == 1, taps = cubic ? 4 : 2;
    int64_t ow = i % OW, oh = i / OW % OH, plane = i / (OW * OH), b = plane / C;
    const int32_t *bx = (const int32_t *)a->p[1] + 4 * b;
    float *y = (float *)a->p[2];
    if (bx[0] < 0 || bx[1] < 0 || bx[2] < 1 || bx[3] < 1 || (int64_t)bx[0] + bx[2] > H || (int64_t)bx[1] + bx[3] > W) {
        y[i] = AUGDEV_NAN;
        return;
    }
    int64_t ih[4], iw[4];
    float wh[4], ww[4];
    augdev_taps(bx[2], OH, cubic, oh, ih, wh);
    augdev_taps(bx[3], OW, cubic, ow, iw, ww);
    const float *xp = (const float *)a->p[0] + plane * H * W + (int64_t)bx[0] * W + bx[1];
    float acc = 0;
    for (int r = 0; r < taps; r++) {
        const float *row = xp + ih[r] * W;
        float t = row[iw[0]] * ww[0];
        for (int j = 1; j < taps; j++) t += row[iw[j]] * ww[j];
        if (r == 0)
            acc = t * wh[0];
        else
            acc += t * wh[r];
    }
    y[i] = acc;
}

/* HorizontalFlip: p[0] x, p[1] flag [B], p[2] y; i[0] C*H*W, i[1] W */
DEVOP_KERNEL(HorizontalFlip) {
    int64_t W = a->i[1], w = i % W;
    int flip = ((const float *)a->p[1])[i / a->i[0]] != 0;
    ((float *)a->p[2])[i] = ((const float *)a->p[0])[flip ? i - w + (W - 1 - w) : i];
}

/* ---- ColorJitter, Grayscale ---- */

/* rgb_to_grayscale with float scalars (KN(luma)) */
DEVOP_FN float augdev_luma(float r, float g, float b) {
    return (float)0.2989 * r + (float)0.587 * g + (float)0.114 * b;
}

/* torchvision _blend (KN(blend)) */
DEVOP_FN float augdev_blend(float a, float b, float ratio, float one_minus) {
    float v = ratio * a + one_minus * b;
    return v < 0 ? (float)0 : v > 1 ? (float)1 : v;
}

DEVOP_FN float augdev_clamp01(float v) { return v < 0 ? (float)0 : v > 1 ? (float)1 : v; }

/* fmod(x, 1) as the reference computes it */
DEVOP_FN float augdev_fmod1(float x) { return x - (float)trunc((double)x); }

/* adjust_hue on one pixel (KN(hue_pixel)) */
DEVOP_FN void augdev_hue_pixel(float *pr, float *pg, float *pb, float factor) {
    float r = *pr, g = *pg, b = *pb;
    float maxc = r > g ? r : g, minc = r < g ? r : g;
    maxc = maxc > b ? maxc : b;
    minc = minc < b ? minc : b;
    int eqc = maxc == minc;
    float cr = maxc - minc;
    float s = cr / (eqc ? (float)1 : maxc);
    float crd = eqc ? (float)1 : cr;
    float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    float hr = (maxc == r) ? bc - gc : (float)0;
    float hg = (maxc == g && maxc != r) ? ((float)2 + rc) - bc : (float)0;
    float hb = (maxc != g && maxc != r) ? ((float)4 + gc) - rc : (float)0;
    float h = (hr + hg) + hb;
    h = augdev_fmod1(h / (float)6 + (float)1);
    h = h + factor;
    float m = augdev_fmod1(h);
    if (m != 0 && m < 0) m += (float)1;
    h = m;
    float v = maxc;
    float fi = (float)floor((double)(h * (float)6));
    float f = h * (float)6 - fi;
    int k = (int)fi % 6;
    if (k < 0) k += 6;
    float p = augdev_clamp01(v * ((float)1 - s));
    float q = augdev_clamp01(v * ((float)1 - s * f));
    float t = augdev_clamp01(v * ((float)1 - s * ((float)1 - f)));
    switch (k) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    *pr = r, *pg = g, *pb = b;
}

/* steps 0..nsteps-1 of a sample's jitter order on one pixel v[0..C-1] (KN(jitter_one) per
 * pixel: every adjustment is pixel-local but contrast, whose image mean is mean[k]) */
DEVOP_FN void augdev_jitter_pixel(float *v, int64_t C, const int32_t *order, const float *fac, const float *mean,
                                  int nsteps) {
    for (int k = 0; k < nsteps; k++) {
        int32_t fn = order[k];
        if (fn < 0) continue;
        float factor = fac[fn];
        float one_minus = (float)(1.0 - (double)factor);
        if (fn == 0) {
            for (int64_t ch = 0; ch < C; ch++) v[ch] = augdev_blend(v[ch], 0, factor, one_minus);
        } else if (fn == 1) {
            for (int64_t ch = 0; ch < C; ch++) v[ch] = augdev_blend(v[ch], mean[k], factor, one_minus);
        } else if (fn == 2) {
            if (C != 3) continue;
            float l = augdev_luma(v[0], v[1], v[2]);
            for (int64_t ch = 0; ch < 3; ch++) v[ch] = augdev_blend(v[ch], l, factor, one_minus);
        } else {
            if (C != 3) continue;
            augdev_hue_pixel(v, v + 1, v + 2, factor);
        }
    }
}

DEVOP_FN int augdev_order_ok(const int32_t *order) {
    for (int k = 0; k < 4; k++)
        if (order[k] < -1 || order[k] > 3) return 0;
    return 1;
}

/* ColorJitter, launch 1 (n = B): the image means of the sample's contrast steps, mean[4 * b + k]
 * for order[k] == 1, each the sum over the pixels, in order and in double, of the grayscale of
 * the image as steps 0..k-1 leave it (the reference's sequential sum). p[0] x, p[1] factors
 * [B,4], p[2] order i32 [B,4], p[4] mean (scratch, f32 [B,4]); i[0] C, i[1] H*W. */
DEVOP_KERNEL(ColorJitterMean) {
    int64_t C = a->i[0], HW = a->i[1];
    const float *x = (const float *)a->p[0] + i * C * HW, *fac = (const float *)a->p[1] + 4 * i;
    const int32_t *order = (const int32_t *)a->p[2] + 4 * i;
    float *mean = (float *)a->p[4] + 4 * i;
    for (int k = 0; k < 4; k++) mean[k] = 0;
    if (!augdev_order_ok(order)) return;
    for (int k = 0; k < 4; k++) {
        if (order[k] != 1) continue;
        double s = 0;
        for (int64_t px = 0; px < HW; px++) {
            float v[3] = {0, 0, 0};
            for (int64_t ch = 0; ch < C; ch++) v[ch] = x[ch * HW + px];
            augdev_jitter_pixel(v, C, order, fac, mean, k);
            s += C == 3 ? (double)augdev_luma(v[0], v[1], v[2]) : (double)v[0];
        }
        mean[k] = (float)(s / (double)HW);
    }
}

/* ColorJitter, launch 2 (n = B*H*W): one pixel through the sample's four steps. p[3] y, the rest
 * as ColorJitterMean. */
DEVOP_KERNEL(ColorJitter) {
    int64_t C = a->i[0], HW = a->i[1], b = i / HW, px = i % HW;
    const float *x = (const float *)a->p[0] + b * C * HW + px, *fac = (const float *)a->p[1] + 4 * b;
    const int32_t *order = (const int32_t *)a->p[2] + 4 * b;
    const float *mean = (const float *)a->p[4] + 4 * b;
    float *y = (float *)a->p[3] + b * C * HW + px;
    float v[3] = {0, 0, 0};
    for (int64_t ch = 0; ch < C; ch++) v[ch] = x[ch * HW];
    if (augdev_order_ok(order))
        augdev_jitter_pixel(v, C, order, fac, mean, 4);
    else
        for (int64_t ch = 0; ch < C; ch++) v[ch] = AUGDEV_NAN;
    for (int64_t ch = 0; ch < C; ch++) y[ch * HW] = v[ch];
}

/* Grayscale: p[0] x, p[1] flag [B], p[2] y; i[0] C, i[1] H*W */
DEVOP_KERNEL(Grayscale) {
    int64_t C = a->i[0], HW = a->i[1], b = i / (C * HW), px = i % HW;
    const float *x = (const float *)a->p[0];
    float *y = (float *)a->p[2];
    if (C != 3 || ((const float *)a->p[1])[b] == 0) {
        y[i] = x[i];
        return;
    }
    const float *xi = x + b * C * HW;
    y[i] = augdev_luma(xi[px], xi[HW + px], xi[2 * HW + px]);
}

/* ---- GaussianBlur: p[0] x, p[1] sigma [B], p[2] y, p[3] kernel weights (scratch, f32 [B,K]),
 * p[4] the rows pass (scratch, f32 [B,C,H,W]); i[0] C, i[1] H, i[2] W, i[3] K ---- */

/* launch 1 (n = B*K): weight k of sample b, _get_gaussian_kernel1d (the sum recomputed per item,
 * in order) */
DEVOP_KERNEL(GaussianBlurKernel) {
    int64_t K = a->i[3], half = K / 2, b = i / K, k = i % K;
    float sg = ((const float *)a->p[1])[b];
    float *kern = (float *)a->p[3];
    if (!(sg > 0)) {
        kern[i] = 0;
        return;
    }
    float sum = 0, mine = 0;
    for (int64_t j = 0; j < K; j++) {
        float u = (float)(j - half) / sg;
        float e = (float)exp((double)((float)-0.5 * (u * u)));
        sum += e;
        if (j == k) mine = e;
    }
    kern[i] = mine / sum;
}

/* reflect padding index (the edge not repeated) */
DEVOP_FN int64_t augdev_reflect(int64_t i, int64_t n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; }

/* launch 2 (n = B*C*H*W): along W into p[4] */
DEVOP_KERNEL(GaussianBlurRows) {
    int64_t C = a->i[0], H = a->i[1], W = a->i[2], K = a->i[3], half = K / 2;
    int64_t w = i % W, row = i / W, b = row / (C * H);
    if (!(((const float *)a->p[1])[b] > 0)) return;
    const float *kern = (const float *)a->p[3] + b * K, *xr = (const float *)a->p[0] + row * W;
    float acc = 0;
    for (int64_t k = 0; k < K; k++) acc += kern[k] * xr[augdev_reflect(w + k - half, W)];
    ((float *)a->p[4])[i] = acc;
}

/* launch 3 (n = B*C*H*W): along H from p[4] into y; sigma <= 0 (or NaN): a copy of x */
DEVOP_KERNEL(GaussianBlurCols) {
    int64_t C = a->i[0], H = a->i[1], W = a->i[2], K = a->i[3], half = K / 2;
    int64_t w = i % W, h = i / W % H, plane = i / (W * H), b = plane / C;
    float *y = (float *)a->p[2];
    if (!(((const float *)a->p[1])[b] > 0)) {
        y[i] = ((const float *)a->p[0])[i];
        return;
    }
    const float *kern = (const float *)a->p[3] + b * K, *t = (const float *)a->p[4] + plane * H * W;
    float acc = 0;
    for (int64_t k = 0; k < K; k++) acc += kern[k] * t[augdev_reflect(h + k - half, H) * W + w];
    y[i] = acc;
}

/* Solarize: p[0] x, p[1] flag [B], p[2] y; i[0] C*H*W; f[0] threshold (rounded to float) */
DEVOP_KERNEL(Solarize) {
    float thr = (float)a->f[0], x = ((const float *)a->p[0])[i];
    int on = ((const float *)a->p[1])[i / a->i[0]] != 0;
    ((float *)a->p[2])[i] = (on && x >= thr) ? (float)1 - x : x;
}

/* Normalize: p[0] x, p[1] mean [C|1], p[2] std [C|1], p[3] y; i[0] C, i[1] H*W, i[2] mean's and
 * i[3] std's number of values */
DEVOP_KERNEL(Normalize) {
    int64_t C = a->i[0], ch = i / a->i[1] % C;
    float m = ((const float *)a->p[1])[a->i[2] == 1 ? 0 : ch], s = ((const float *)a->p[2])[a->i[3] == 1 ? 0 : ch];
    ((float *)a->p[3])[i] = (((const float *)a->p[0])[i] - m) / s;
}
