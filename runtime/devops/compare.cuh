/* Equal with numpy broadcasting (prepared by runtime/devops/compare.c), as the reference kernel
 * (ir/ops/compare.c): floats compare as values (NaN != NaN, -0 == 0), bools as truth values,
 * integers exactly. i[0] dtype (DEVOP_*), i[1] nd, i[2..8) output dims, i[8..14) and
 * i[14..20) the element strides of a and b against the output (0 where broadcast); p[0] a,
 * p[1] b, p[2] the bool output. */
DEVOP_FN int compare_equal_at(const void *x, int64_t ia, const void *y, int64_t ib, int64_t dt) {
    switch (dt) {
    case DEVOP_F32: return ((const float *)x)[ia] == ((const float *)y)[ib];
    case DEVOP_F64: return ((const double *)x)[ia] == ((const double *)y)[ib];
    case DEVOP_I32: return ((const int32_t *)x)[ia] == ((const int32_t *)y)[ib];
    case DEVOP_I64: return ((const int64_t *)x)[ia] == ((const int64_t *)y)[ib];
    case DEVOP_U8: return ((const uint8_t *)x)[ia] == ((const uint8_t *)y)[ib];
    default: return (((const uint8_t *)x)[ia] != 0) == (((const uint8_t *)y)[ib] != 0); /* bool */
    }
}

DEVOP_KERNEL(Equal) {
    int64_t nd = a->i[1], r = i, ia = 0, ib = 0;
    for (int64_t d = nd - 1; d >= 0; d--) {
        int64_t dim = a->i[2 + d], c = r % dim;
        r /= dim;
        ia += c * a->i[8 + d];
        ib += c * a->i[14 + d];
    }
    ((uint8_t *)a->p[2])[i] = (uint8_t)compare_equal_at(a->p[0], ia, a->p[1], ib, a->i[0]);
}
