/* PIL-exact bilinear resize + center crop (see image_resize.h). */
#include "image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2) /* PIL's, for 8-bit images */

void img_cover_size(int h, int w, int th, int tw, int *rh, int *rw) {
    /* th/h >= tw/w without division: the height decides */
    if ((int64_t)th * w >= (int64_t)tw * h) {
        *rh = th;
        *rw = (int)((double)((int64_t)th * w) / h);
    } else {
        *rw = tw;
        *rh = (int)((double)((int64_t)tw * h) / w);
    }
}

/* Python's round() of d / 2 for an integer d >= 0: halves go to the even neighbour
 * (torchvision's CenterCrop: int(round((h - th) / 2.0))) */
static int half_to_even(int d) {
    int q = d / 2;
    return (d & 1) && (q & 1) ? q + 1 : q;
}

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs for output positions first .. first+n of an in -> out resize, as
 * fixed-point (normalize_coeffs_8bpc). bounds: [lo, count] per position; kk: ksize each. */
static int coeffs(int in, int out, int first, int n, int **bounds, int32_t **kk, int *ksize_out) {
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the bilinear filter's support is 1 */
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc((size_t)ksize * sizeof *k);
    *bounds = malloc((size_t)n * 2 * sizeof **bounds);
    *kk = malloc((size_t)n * (size_t)ksize * sizeof **kk);
    if (!k || !*bounds || !*kk) {
        free(k);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int xx = first + i;
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        int32_t *q = *kk + (size_t)i * ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
            q[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        (*bounds)[2 * i] = xmin;
        (*bounds)[2 * i + 1] = xmax;
    }
    free(k);
    *ksize_out = ksize;
    return 0;
}

static uint8_t clip8(int32_t v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

int img_resize_crop(const uint8_t *src, int c, int sh, int sw, int h0, int w0, uint8_t *dst, int th, int tw) {
    int rh, rw;
    img_cover_size(h0, w0, th, tw, &rh, &rw);
    int top = half_to_even(rh - th), left = half_to_even(rw - tw);
    int *bx = NULL, *by = NULL, kx = 0, ky = 0;
    int32_t *cx = NULL, *cy = NULL;
    uint8_t *tmp = NULL;
    int rc = -1;
    if (coeffs(sw, rw, left, tw, &bx, &cx, &kx) || coeffs(sh, rh, top, th, &by, &cy, &ky)) goto out;
    /* the source rows the vertical pass reads */
    int y0 = by[0], y1 = by[2 * (th - 1)] + by[2 * (th - 1) + 1];
    int need_h = rw != sw, need_v = rh != sh; /* PIL skips a pass that keeps the size */
    tmp = malloc((size_t)(y1 - y0) * (size_t)tw);
    if (!tmp) goto out;
    for (int ch = 0; ch < c; ch++) {
        const uint8_t *s = src + (size_t)ch * sh * sw;
        uint8_t *d = dst + (size_t)ch * th * tw;
        for (int y = y0; y < y1; y++) {
            const uint8_t *row = s + (size_t)y * sw;
            uint8_t *t = tmp + (size_t)(y - y0) * tw;
            for (int x = 0; x < tw; x++) {
                if (!need_h) {
                    t[x] = row[left + x];
                    continue;
                }
                const int32_t *k = cx + (size_t)x * kx;
                int lo = bx[2 * x], n = bx[2 * x + 1];
                int32_t acc = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < n; i++) acc += row[lo + i] * k[i];
                t[x] = clip8(acc);
            }
        }
        for (int y = 0; y < th; y++) {
            uint8_t *o = d + (size_t)y * tw;
            if (!need_v) {
                memcpy(o, tmp + (size_t)(top + y - y0) * tw, (size_t)tw);
                continue;
            }
            const int32_t *k = cy + (size_t)y * ky;
            int lo = by[2 * y] - y0, n = by[2 * y + 1];
            for (int x = 0; x < tw; x++) {
                int32_t acc = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < n; i++) acc += tmp[(size_t)(lo + i) * tw + x] * k[i];
                o[x] = clip8(acc);
            }
        }
    }
    rc = 0;
out:
    free(bx), free(by), free(cx), free(cy), free(tmp);
    return rc;
}
