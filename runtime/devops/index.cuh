/* ArgMax and Gather (prepared by runtime/devops/index.c), as the reference kernels
 * (ir/ops/index.c). */

/* ArgMax, f32: item = output element (o, in) of the outer × len × inner view; p[0] x, p[1] the
 * i64 output; i[0] len, i[1] inner. The first index of the maximum; a NaN counts as the maximum
 * (the scan stops at the first one). */
DEVOP_KERNEL(ArgMax) {
    int64_t len = a->i[0], inner = a->i[1], o = i / inner, in = i % inner;
    const float *row = (const float *)a->p[0] + o * len * inner + in;
    int64_t best = 0;
    for (int64_t j = 1; j < len && row[best * inner] == row[best * inner]; j++)
        if (row[j * inner] > row[best * inner] || row[j * inner] != row[j * inner]) best = j;
    ((int64_t *)a->p[1])[i] = best;
}

/* Gather along axis 0: item = 32-bit word of the output; p[0] data, p[1] i64 indices, p[2] the
 * output; i[0] K (rows of data), i[1] words per row. Words move as bits (f32, or halves of
 * 8-byte elements). The reference refuses an index outside [-K, K); a kernel cannot, so that
 * output row is NaN. */
DEVOP_KERNEL(Gather) {
    int64_t K = a->i[0], w = a->i[1], r = i / w, c = i % w;
    int64_t k = ((const int64_t *)a->p[1])[r];
    if (k < 0) k += K;
    uint32_t *y = (uint32_t *)a->p[2];
    if (k < 0 || k >= K) {
        ((float *)y)[i] = DEVOP_NAN;
        return;
    }
    y[i] = ((const uint32_t *)a->p[0])[k * w + c];
}
