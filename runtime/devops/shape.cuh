/* Shape ops (prepared by runtime/devops/shape.c): Slice and Transpose (one strided gather),
 * Concat, Pad. They move elements of i[1] (Concat: i[0]) bytes, 1, 2, 4 or 8, as the reference
 * kernels (ir/ops/shape.c) copy bytes: any dtype, NaN payloads kept. Items are output elements. */
DEVOP_FN void shape_copy_elem(void *dst, int64_t di, const void *src, int64_t si, int64_t es) {
    switch (es) {
    case 1: ((uint8_t *)dst)[di] = ((const uint8_t *)src)[si]; break;
    case 2: ((unsigned short *)dst)[di] = ((const unsigned short *)src)[si]; break;
    case 4: ((uint32_t *)dst)[di] = ((const uint32_t *)src)[si]; break;
    default: ((int64_t *)dst)[di] = ((const int64_t *)src)[si]; break;
    }
}
DEVOP_FN void shape_zero_elem(void *dst, int64_t di, int64_t es) {
    switch (es) {
    case 1: ((uint8_t *)dst)[di] = 0; break;
    case 2: ((unsigned short *)dst)[di] = 0; break;
    case 4: ((uint32_t *)dst)[di] = 0; break;
    default: ((int64_t *)dst)[di] = 0; break;
    }
}

/* out (contiguous, dims i[3..3+nd)) = src[i[2] + sum_d idx_d * i[9+d]] (strides may be
 * negative); i[0] nd, i[1] element bytes; p[0] src, p[1] out. Slice and Transpose. */
DEVOP_KERNEL(ShapeGather) {
    int64_t nd = a->i[0], r = i, s = a->i[2];
    for (int64_t d = nd - 1; d >= 0; d--) {
        int64_t dim = a->i[3 + d];
        s += r % dim * a->i[9 + d];
        r /= dim;
    }
    shape_copy_elem(a->p[1], i, a->p[0], s, a->i[1]);
}

/* Concat of the inputs p[1..m] (m = i[6] <= 7) into p[0], the output viewed as
 * [outer i[1], A i[2], inner i[3]] around the axis; this launch covers the axis positions
 * i[4] .. i[4] + i[5] - 1, input k from position i[7+k] to i[8+k]; i[0] element bytes. */
DEVOP_KERNEL(Concat) {
    int64_t inner = a->i[3], ag = a->i[5], m = a->i[6];
    int64_t j = i % inner, t = i / inner, ax = a->i[4] + t % ag, o = t / ag, k = 0;
    while (k + 1 < m && ax >= a->i[8 + k]) k++;
    int64_t len = a->i[8 + k] - a->i[7 + k];
    shape_copy_elem(a->p[0], (o * a->i[2] + ax) * inner + j, a->p[1 + k], (o * len + ax - a->i[7 + k]) * inner + j,
                    a->i[0]);
}

/* zero padding (negative pads crop): out[o] = x[o - begin] where that index exists, else 0.
 * i[0] nd, i[1] element bytes, i[2..8) output dims, i[8..14) pads_begin, i[14..20) x dims;
 * p[0] x, p[1] out. */
DEVOP_KERNEL(Pad) {
    int64_t nd = a->i[0], r = i, s = 0, stride = 1, inside = 1;
    for (int64_t d = nd - 1; d >= 0; d--) {
        int64_t od = a->i[2 + d], xd = a->i[14 + d], c = r % od - a->i[8 + d];
        r /= od;
        if (c < 0 || c >= xd) inside = 0;
        s += c * stride;
        stride *= xd;
    }
    if (inside)
        shape_copy_elem(a->p[1], i, a->p[0], s, a->i[1]);
    else
        shape_zero_elem(a->p[1], i, a->i[1]);
}
