/* Gemm's C input, before cuBLAS accumulates op(A) op(B) on top of it (beta = 1): Y = beta * C
 * broadcast to [M, N], as the reference kernel (ir/ops/linalg.c) fills Y first. i[0] = N,
 * i[1], i[2]: C's broadcast strides of the row and column; f[0] = beta; p[0] C, p[1] Y. */
DEVOP_KERNEL(GemmBias) {
    int64_t N = a->i[0], r = i / N, c = i % N;
    const float *C = (const float *)a->p[0];
    ((float *)a->p[1])[i] = (float)a->f[0] * C[r * a->i[1] + c * a->i[2]];
}
