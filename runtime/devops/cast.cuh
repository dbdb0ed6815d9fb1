/* Cast between dtypes (prepared by runtime/devops/cast.c). i[0]: source dtype, i[1]: destination
 * dtype (DEVOP_* codes); p[0] source, p[1] destination. Float to integer truncates toward zero
 * and saturates, NaN gives 0, as the reference kernel (ir/ops/compare.c) does. */
DEVOP_FN double devop_load_f(const void *x, int64_t i, int64_t dt) {
    switch (dt) {
    case DEVOP_F32: return ((const float *)x)[i];
    case DEVOP_F64: return ((const double *)x)[i];
    case DEVOP_I32: return ((const int32_t *)x)[i];
    case DEVOP_I64: return (double)((const int64_t *)x)[i];
    case DEVOP_U8: return ((const uint8_t *)x)[i];
    default: return ((const uint8_t *)x)[i] != 0; /* bool */
    }
}
DEVOP_FN int64_t devop_load_i(const void *x, int64_t i, int64_t dt) {
    switch (dt) {
    case DEVOP_I32: return ((const int32_t *)x)[i];
    case DEVOP_I64: return ((const int64_t *)x)[i];
    case DEVOP_U8: return ((const uint8_t *)x)[i];
    default: return ((const uint8_t *)x)[i] != 0; /* bool */
    }
}
DEVOP_FN int64_t devop_f_to_i(double x, int64_t lo, int64_t hi) {
    if (x != x) return 0;
    if (x <= (double)lo) return lo;
    if (x >= (double)hi) return hi;
    return (int64_t)x;
}

DEVOP_KERNEL(Cast) {
    int64_t from = a->i[0], to = a->i[1];
    const void *x = a->p[0];
    void *y = a->p[1];
    int ff = from == DEVOP_F32 || from == DEVOP_F64;
    switch (to) {
    case DEVOP_F32: ((float *)y)[i] = (float)devop_load_f(x, i, from); break;
    case DEVOP_F64: ((double *)y)[i] = devop_load_f(x, i, from); break;
    case DEVOP_BOOL: ((uint8_t *)y)[i] = ff ? devop_load_f(x, i, from) != 0 : devop_load_i(x, i, from) != 0; break;
    case DEVOP_U8:
        ((uint8_t *)y)[i] = (uint8_t)(ff ? devop_f_to_i(devop_load_f(x, i, from), 0, 255) : devop_load_i(x, i, from));
        break;
    case DEVOP_I32:
        ((int32_t *)y)[i] = (int32_t)(ff ? devop_f_to_i(devop_load_f(x, i, from), -2147483647LL - 1, 2147483647LL)
                                         : devop_load_i(x, i, from));
        break;
    default: /* DEVOP_I64 */
        ((int64_t *)y)[i] = ff ? devop_f_to_i(devop_load_f(x, i, from), -9223372036854775807LL - 1, 9223372036854775807LL)
                               : devop_load_i(x, i, from);
        break;
    }
}
