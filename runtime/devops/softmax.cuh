/* SoftmaxCrossEntropyLoss and its gradient, logits [N, C] f32, labels [N] i64 (prepared by
 * runtime/devops/softmax.c), as the reference kernels (ir/ops/softmax.c): per row the maximum
 * m (NaN wins) and s = sum exp(x - m) in double, the loss summed over the rows in order. The
 * reference refuses a label outside [0, C); a kernel cannot, so it gives NaN: the loss, or the
 * gradient of that row. */

/* launch 1 of both ops: item = row; p[0] logits, p[1] scratch (m, s per row); i[0] C */
DEVOP_KERNEL(SoftmaxCEStats) {
    int64_t C = a->i[0];
    const float *r = (const float *)a->p[0] + i * C;
    double m = -DEVOP_INF, s = 0;
    for (int64_t j = 0; j < C; j++)
        if (r[j] > m || r[j] != r[j]) m = r[j];
    for (int64_t j = 0; j < C; j++) s += exp((double)r[j] - m);
    ((double *)a->p[1])[2 * i] = m;
    ((double *)a->p[1])[2 * i + 1] = s;
}

/* the loss, one item: p[0] logits, p[1] labels, p[2] scratch, p[3] the scalar loss; i[0] C,
 * i[1] N. Serial over the rows as the reference sums them. */
DEVOP_KERNEL(SoftmaxCELoss) {
    int64_t C = a->i[0], N = a->i[1];
    const float *x = (const float *)a->p[0];
    const int64_t *lab = (const int64_t *)a->p[1];
    const double *ms = (const double *)a->p[2];
    double total = 0;
    (void)i;
    for (int64_t r = 0; r < N; r++) {
        if (lab[r] < 0 || lab[r] >= C) {
            total = DEVOP_NAN;
            break;
        }
        total += ms[2 * r] + log(ms[2 * r + 1]) - (double)x[r * C + lab[r]];
    }
    ((float *)a->p[3])[0] = (float)(total / (double)N); /* N = 0: NaN, as the reference */
}

/* the gradient: item = element of the logits; p[0] gy (scalar), p[1] logits, p[2] labels,
 * p[3] scratch, p[4] dlogits; i[0] C, i[1] N.
 * dlogits = (softmax(logits) - onehot(labels)) * gy / N */
DEVOP_KERNEL(SoftmaxCEGrad) {
    int64_t C = a->i[0], N = a->i[1], r = i / C, j = i % C;
    int64_t lab = ((const int64_t *)a->p[2])[r];
    const double *ms = (const double *)a->p[3] + 2 * r;
    double scale = (double)((const float *)a->p[0])[0] / (double)N;
    float x = ((const float *)a->p[1])[i];
    ((float *)a->p[4])[i] =
        lab < 0 || lab >= C ? DEVOP_NAN : (float)((exp((double)x - ms[0]) / ms[1] - (j == lab ? 1.0 : 0.0)) * scale);
}
