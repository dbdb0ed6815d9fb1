/* QueueWrite, f32 (prepared by runtime/devops/queue.c), as the reference kernel
 * (ir/ops/queue.c): queue' = queue with entries p .. p+N-1 replaced by the keys' rows, then
 * ptr' = (p + N) mod K. i[0] axis (1: queue [D, K], an entry per column; 0: [K, D]), i[1] K,
 * i[2] D, i[3] N. The reference refuses a pointer with p < 0 or p > K - N; a kernel cannot, so
 * the whole queue' is NaN and ptr' = p. Elements move as bits. */

/* launch 1: item = element of queue'; p[0] queue, p[1] keys, p[2] ptr, p[3] queue' (may be the
 * queue itself: each item reads only its own element) */
DEVOP_KERNEL(QueueWrite) {
    int64_t axis = a->i[0], K = a->i[1], D = a->i[2], N = a->i[3];
    int64_t p = ((const int64_t *)a->p[2])[0];
    uint32_t *y = (uint32_t *)a->p[3];
    if (p < 0 || p > K - N) {
        ((float *)y)[i] = DEVOP_NAN;
        return;
    }
    int64_t e = axis ? i % K : i / D, d = axis ? i / K : i % D; /* entry, feature */
    y[i] = e >= p && e < p + N ? ((const uint32_t *)a->p[1])[(e - p) * D + d] : ((const uint32_t *)a->p[0])[i];
}

/* launch 2 (after every read of p): one item; p[2] ptr, p[4] ptr' (may be ptr itself) */
DEVOP_KERNEL(QueuePtr) {
    int64_t K = a->i[1], N = a->i[3];
    int64_t p = ((const int64_t *)a->p[2])[0];
    (void)i;
    ((int64_t *)a->p[4])[0] = p < 0 || p > K - N ? p : (p + N) % K;
}
