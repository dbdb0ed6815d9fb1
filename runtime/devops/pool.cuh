/* MaxPool and MaxPoolGrad, NCHW f32 (prepared by runtime/devops/pool.c), as the reference
 * kernels (ir/ops/pool.c): the first maximum of each window wins, NaN wins, padded cells never
 * do. i[0..10): H, W, KH, KW, stride h, stride w, pad h begin, pad w begin, OH, OW. */

/* index in the plane of the first maximum of output cell (oh, ow) */
DEVOP_FN int64_t pool_window_argmax(const devop_args *a, const float *xp, int64_t oh, int64_t ow) {
    int64_t H = a->i[0], W = a->i[1], KH = a->i[2], KW = a->i[3];
    int64_t h0 = oh * a->i[4] - a->i[6], w0 = ow * a->i[5] - a->i[7];
    int64_t hs = h0 < 0 ? 0 : h0, ws = w0 < 0 ? 0 : w0;
    int64_t he = h0 + KH < H ? h0 + KH : H, we = w0 + KW < W ? w0 + KW : W;
    int64_t bi = hs * W + ws;
    float best = -DEVOP_INF;
    for (int64_t ih = hs; ih < he; ih++)
        for (int64_t iw = ws; iw < we; iw++) {
            float v = xp[ih * W + iw];
            if (v > best || v != v) best = v, bi = ih * W + iw;
        }
    return bi;
}

/* MaxPool: item = output cell; p[0] x, p[1] y */
DEVOP_KERNEL(MaxPool) {
    int64_t OH = a->i[8], OW = a->i[9], plane = i / (OH * OW), r = i % (OH * OW);
    const float *xp = (const float *)a->p[0] + plane * a->i[0] * a->i[1];
    ((float *)a->p[1])[i] = xp[pool_window_argmax(a, xp, r / OW, r % OW)];
}

/* MaxPoolGrad, launch 1: item = output cell; p[1] x, p[3] scratch (i64 per output cell): the
 * window's argmax in its plane */
DEVOP_KERNEL(MaxPoolArgmax) {
    int64_t OH = a->i[8], OW = a->i[9], plane = i / (OH * OW), r = i % (OH * OW);
    const float *xp = (const float *)a->p[1] + plane * a->i[0] * a->i[1];
    ((int64_t *)a->p[3])[i] = pool_window_argmax(a, xp, r / OW, r % OW);
}

/* MaxPoolGrad, launch 2: item = input cell; p[0] gY, p[2] dX, p[3] the argmaxes. dX sums, from
 * 0 and in raster order of the windows as the reference, the gY of the windows won here. */
DEVOP_KERNEL(MaxPoolGrad) {
    int64_t H = a->i[0], W = a->i[1], KH = a->i[2], KW = a->i[3], sh = a->i[4], sw = a->i[5];
    int64_t OH = a->i[8], OW = a->i[9], plane = i / (H * W), q = i % (H * W), ih = q / W, iw = q % W;
    /* the windows that contain (ih, iw): oh * sh - pad <= ih < oh * sh - pad + KH */
    int64_t lh = ih + a->i[6] - KH + 1, lw = iw + a->i[7] - KW + 1;
    int64_t oh0 = lh <= 0 ? 0 : (lh + sh - 1) / sh, oh1 = (ih + a->i[6]) / sh;
    int64_t ow0 = lw <= 0 ? 0 : (lw + sw - 1) / sw, ow1 = (iw + a->i[7]) / sw;
    if (oh1 > OH - 1) oh1 = OH - 1;
    if (ow1 > OW - 1) ow1 = OW - 1;
    const float *gp = (const float *)a->p[0] + plane * OH * OW;
    const int64_t *am = (const int64_t *)a->p[3] + plane * OH * OW;
    float acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++)
        for (int64_t ow = ow0; ow <= ow1; ow++)
            if (am[oh * OW + ow] == q) acc += gp[oh * OW + ow];
    ((float *)a->p[2])[i] = acc;
}
