/* Shape ops: Reshape, Flatten, Concat, Slice, Pad, Transpose.
 * Their kernels move bytes (element size of the storage dtype), so besides f32/f64 they work
 * on integer and bool tensors too. */
#include "../opkit.h"

#include <stdint.h>

/* Copies the box `box` element by element from src (element strides ss) to dst (element
 * strides ds); both pointers already sit at the box origin. Strides may be negative. */
static void strided_copy(char *dst, const int64_t *ds, const char *src, const int64_t *ss, size_t es,
                         const ir_shape *box) {
    int nd = box->ndim;
    int64_t n = ir_numel(box);
    if (n <= 0) return;
    if (nd == 0) {
        memcpy(dst, src, es);
        return;
    }
    int64_t idx[IR_MAX_DIMS] = {0}, inner = box->d[nd - 1], outer = n / inner, od = 0, os = 0;
    int contig = ds[nd - 1] == 1 && ss[nd - 1] == 1;
    for (int64_t o = 0; o < outer; o++) {
        if (contig)
            memcpy(dst + od * (int64_t)es, src + os * (int64_t)es, (size_t)inner * es);
        else
            for (int64_t j = 0; j < inner; j++)
                memcpy(dst + (od + j * ds[nd - 1]) * (int64_t)es, src + (os + j * ss[nd - 1]) * (int64_t)es, es);
        for (int d = nd - 2; d >= 0; d--) { /* odometer over the outer dims */
            idx[d]++;
            od += ds[d];
            os += ss[d];
            if (idx[d] < box->d[d]) break;
            od -= ds[d] * idx[d];
            os -= ss[d] * idx[d];
            idx[d] = 0;
        }
    }
}

/* ONNX Slice, normalized per dimension of x: the output takes x[start + i*step] for i < cnt
 * along every dim (start 0, step 1, cnt = dim for dims not sliced). Returns 0, or -1 with a
 * message in err (n bytes). */
static int slice_plan(const ir_node *node, const ir_shape *xs, int64_t *start, int64_t *step, int64_t *cnt,
                      char *err, size_t n) {
    const ir_attrval *ax = ir_get(node, "axes"), *st = ir_get(node, "starts"), *en = ir_get(node, "ends"),
                     *sp = ir_get(node, "steps");
    unsigned char seen[IR_MAX_DIMS] = {0};
    for (int d = 0; d < xs->ndim; d++) start[d] = 0, step[d] = 1, cnt[d] = xs->d[d];
    if (en->n != st->n || (ax->n && ax->n != st->n) || (sp->n && sp->n != st->n)) {
        snprintf(err, n, "Slice: starts, ends, axes and steps must have the same length (%d, %d, %d, %d)", st->n,
                 en->n, ax->n, sp->n);
        return -1;
    }
    for (int i = 0; i < st->n; i++) {
        int64_t a = ax->n ? ax->v[i] : i;
        int d = ir_norm_axis(a, xs->ndim);
        if (d < 0) {
            snprintf(err, n, "Slice: axis %lld out of range for rank %d", (long long)a, xs->ndim);
            return -1;
        }
        if (seen[d]) {
            snprintf(err, n, "Slice: axis %d given twice", d);
            return -1;
        }
        seen[d] = 1;
        int64_t dim = xs->d[d], s = st->v[i], e = en->v[i], k = sp->n ? sp->v[i] : 1;
        if (k == 0) {
            snprintf(err, n, "Slice: step 0 on axis %d", d);
            return -1;
        }
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        /* |step| >= dim takes at most one element: clamp it so nothing overflows */
        int64_t m = k > 0 ? (k < dim ? k : dim) : (k > -dim ? -k : dim);
        if (k > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt[d] = e > s ? (e - s + m - 1) / m : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt[d] = s > e ? (s - e + m - 1) / m : 0;
        }
        start[d] = cnt[d] ? s : 0;
        step[d] = cnt[d] > 1 ? k : 1; /* a single element (or none) is a step-1 slice */
    }
    return 0;
}

int KN(ref_copy)(const ref_call *c) {
    memcpy(c->out[0].data, c->in[0].data, (size_t)c->out[0].numel * ir_dtype_size(c->out[0].dtype));
    return 0;
}

int KN(ref_concat)(const ref_call *c) {
    const ir_shape *os = &c->out[0].shape;
    int axis = ir_norm_axis(ir_get_i(c->node, "axis"), os->ndim);
    size_t es = ir_dtype_size(c->out[0].dtype);
    int64_t ostr[IR_MAX_DIMS], istr[IR_MAX_DIMS], off = 0;
    ir_strides(os, ostr);
    for (int k = 0; k < c->nin; k++) {
        if (c->in[k].dtype != c->out[0].dtype) return -1;
        ir_strides(&c->in[k].shape, istr);
        strided_copy((char *)c->out[0].data + off * ostr[axis] * (int64_t)es, ostr, c->in[k].data, istr, es,
                     &c->in[k].shape);
        off += c->in[k].shape.d[axis];
    }
    return 0;
}

int KN(ref_slice)(const ref_call *c) {
    const ir_shape *xs = &c->in[0].shape;
    int64_t start[IR_MAX_DIMS], step[IR_MAX_DIMS], cnt[IR_MAX_DIMS], xstr[IR_MAX_DIMS], ss[IR_MAX_DIMS],
        ostr[IR_MAX_DIMS], base = 0;
    if (slice_plan(c->node, xs, start, step, cnt, c->err, IR_ERRLEN)) return -1;
    size_t es = ir_dtype_size(c->out[0].dtype);
    ir_strides(xs, xstr);
    ir_strides(&c->out[0].shape, ostr);
    for (int d = 0; d < xs->ndim; d++) {
        ss[d] = step[d] * xstr[d];
        base += start[d] * xstr[d];
    }
    strided_copy(c->out[0].data, ostr, (const char *)c->in[0].data + base * (int64_t)es, ss, es, &c->out[0].shape);
    return 0;
}

/* Zero padding; negative pads crop. out[o] = x[o - begin] where that index exists, else 0. */
int KN(ref_pad)(const ref_call *c) {
    const ir_shape *xs = &c->in[0].shape, *os = &c->out[0].shape;
    const ir_attrval *pb = ir_get(c->node, "pads_begin");
    size_t es = ir_dtype_size(c->out[0].dtype);
    int64_t xstr[IR_MAX_DIMS], ostr[IR_MAX_DIMS], xoff = 0, ooff = 0;
    ir_shape box = *xs;
    ir_strides(xs, xstr);
    ir_strides(os, ostr);
    memset(c->out[0].data, 0, (size_t)c->out[0].numel * es);
    for (int d = 0; d < xs->ndim; d++) {
        int64_t b = pb->n ? pb->v[d] : 0;
        int64_t lo = b < 0 ? -b : 0, hi = xs->d[d] < os->d[d] - b ? xs->d[d] : os->d[d] - b; /* x indices kept */
        box.d[d] = hi > lo ? hi - lo : 0;
        xoff += lo * xstr[d];
        ooff += (lo + b) * ostr[d];
    }
    strided_copy((char *)c->out[0].data + ooff * (int64_t)es, ostr, (const char *)c->in[0].data + xoff * (int64_t)es,
                 xstr, es, &box);
    return 0;
}

int KN(ref_transpose)(const ref_call *c) {
    const ir_shape *xs = &c->in[0].shape, *os = &c->out[0].shape;
    const ir_attrval *pa = ir_get(c->node, "perm");
    int64_t xstr[IR_MAX_DIMS], ostr[IR_MAX_DIMS], ss[IR_MAX_DIMS];
    ir_strides(xs, xstr);
    ir_strides(os, ostr);
    for (int d = 0; d < os->ndim; d++) ss[d] = xstr[pa->n ? pa->v[d] : os->ndim - 1 - d];
    strided_copy(c->out[0].data, ostr, c->in[0].data, ss, ir_dtype_size(c->out[0].dtype), os);
    return 0;
}

#ifndef SSLC_REF_F64
int ir_slice_plan(const ir_node *node, const ir_shape *xs, int64_t *start, int64_t *step, int64_t *cnt, char *err,
                  size_t n) {
    return slice_plan(node, xs, start, step, cnt, err, n);
}

/* ---- builders ---- */

int ir_reshape(ir_graph *g, int x, ir_shape to) {
    int n = ir_node_new(g, OP_Reshape, &x, 1);
    ir_set_ints(g, n, "shape", to.d, to.ndim);
    return ir_node_finish(g, n);
}

int ir_flatten(ir_graph *g, int x, int axis) {
    int n = ir_node_new(g, OP_Flatten, &x, 1);
    ir_set_i(g, n, "axis", axis);
    return ir_node_finish(g, n);
}

int ir_concat(ir_graph *g, const int *xs, int n, int axis) {
    if (g->failed) return -1;
    if (n < 1 || n > IR_MAX_IN) return ir_fail(g, "Concat: takes 1..%d inputs, got %d", IR_MAX_IN, n);
    if (n == 1) return xs[0] < 0 ? ir_fail(g, "Concat: input 0 is invalid") : xs[0];
    int node = ir_node_new(g, OP_Concat, xs, n);
    ir_set_i(g, node, "axis", axis);
    return ir_node_finish(g, node);
}

static int slice_node(ir_graph *g, int x, int n, const int64_t *axes, const int64_t *starts, const int64_t *ends,
                      const int64_t *steps) {
    int node = ir_node_new(g, OP_Slice, &x, 1);
    ir_set_ints(g, node, "axes", axes, n);
    ir_set_ints(g, node, "starts", starts, n);
    ir_set_ints(g, node, "ends", ends, n);
    ir_set_ints(g, node, "steps", steps, n);
    return ir_node_finish(g, node);
}

int ir_slice(ir_graph *g, int x, int axis, int64_t start, int64_t end) {
    int64_t a = axis, one = 1;
    return slice_node(g, x, 1, &a, &start, &end, &one);
}

int ir_pad(ir_graph *g, int x, const int64_t *pads_begin, const int64_t *pads_end) {
    if (x < 0 || g->failed) return ir_fail(g, "Pad: input 0 is invalid");
    int nd = g->vals[x].shape.ndim;
    int node = ir_node_new(g, OP_Pad, &x, 1);
    ir_set_ints(g, node, "pads_begin", pads_begin, nd);
    ir_set_ints(g, node, "pads_end", pads_end, nd);
    return ir_node_finish(g, node);
}

int ir_transpose(ir_graph *g, int x, const int64_t *perm, int n) {
    int node = ir_node_new(g, OP_Transpose, &x, 1);
    ir_set_ints(g, node, "perm", perm, n);
    return ir_node_finish(g, node);
}

/* ---- shape inference ---- */

static int reshape_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    const ir_attrval *sh = ir_get(n, "shape");
    if (sh->n > IR_MAX_DIMS) return ir_fail(g, "Reshape: target shape has %d dims (at most %d)", sh->n, IR_MAX_DIMS);
    ir_shape to = ir_shape_make(sh->n, sh->v);
    int64_t numel = 1; /* checked: shapes read from files are untrusted */
    int bad = 0;
    for (int d = 0; d < to.ndim; d++)
        if (to.d[d] < 0 || __builtin_mul_overflow(numel, to.d[d], &numel)) bad = 1;
    if (bad || numel != ir_numel(&x->shape)) {
        char a[96], b[96];
        ir_shape_str(&x->shape, a, sizeof a);
        ir_shape_str(&to, b, sizeof b);
        return ir_fail(g, "Reshape: cannot reshape %s to %s", a, b);
    }
    os[0] = to;
    od[0] = x->dtype;
    return 0;
}

static int flatten_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    int64_t axis = ir_get_i(n, "axis");
    if (axis < 0) axis += x->shape.ndim;
    if (axis < 0 || axis > x->shape.ndim) return ir_fail(g, "Flatten: axis %lld out of range", (long long)axis);
    int64_t a = 1, b = 1;
    for (int d = 0; d < x->shape.ndim; d++) {
        if (d < axis)
            a *= x->shape.d[d];
        else
            b *= x->shape.d[d];
    }
    os[0] = IR_SHAPE(a, b);
    od[0] = x->dtype;
    return 0;
}

static int concat_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x0 = &g->vals[n->in[0]];
    int nd = x0->shape.ndim, axis = ir_norm_axis(ir_get_i(n, "axis"), nd);
    if (axis < 0) return ir_fail(g, "Concat: axis %lld out of range for rank %d", (long long)ir_get_i(n, "axis"), nd);
    ir_shape s = x0->shape;
    for (int k = 1; k < n->nin; k++) {
        const ir_value *x = &g->vals[n->in[k]];
        if (x->dtype != x0->dtype)
            return ir_fail(g, "Concat: input %d is %s, input 0 is %s", k, ir_dtype_name(x->dtype),
                           ir_dtype_name(x0->dtype));
        int ok = x->shape.ndim == nd;
        for (int d = 0; ok && d < nd; d++) ok = d == axis || x->shape.d[d] == x0->shape.d[d];
        if (!ok) {
            char a[96], b[96];
            ir_shape_str(&x0->shape, a, sizeof a);
            ir_shape_str(&x->shape, b, sizeof b);
            return ir_fail(g, "Concat: input %d has shape %s, incompatible with %s on axis %d", k, b, a, axis);
        }
        s.d[axis] += x->shape.d[axis];
    }
    os[0] = s;
    od[0] = x0->dtype;
    return 0;
}

static int slice_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    int64_t start[IR_MAX_DIMS], step[IR_MAX_DIMS], cnt[IR_MAX_DIMS];
    char err[IR_ERRLEN];
    if (slice_plan(n, &x->shape, start, step, cnt, err, sizeof err)) return ir_fail(g, "%s", err);
    os[0] = ir_shape_make(x->shape.ndim, cnt);
    od[0] = x->dtype;
    return 0;
}

static int pad_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    const ir_attrval *pb = ir_get(n, "pads_begin"), *pe = ir_get(n, "pads_end");
    int nd = x->shape.ndim;
    if ((pb->n && pb->n != nd) || (pe->n && pe->n != nd))
        return ir_fail(g, "Pad: pads_begin and pads_end need %d values (one per dim), got %d and %d", nd, pb->n,
                       pe->n);
    ir_shape s = x->shape;
    for (int d = 0; d < nd; d++) {
        /* checked: pads read from files are untrusted */
        if (__builtin_add_overflow(s.d[d], pb->n ? pb->v[d] : 0, &s.d[d]) ||
            __builtin_add_overflow(s.d[d], pe->n ? pe->v[d] : 0, &s.d[d]))
            return ir_fail(g, "Pad: pads of dim %d are too large", d);
        if (s.d[d] < 0) return ir_fail(g, "Pad: dim %d would have negative size %lld", d, (long long)s.d[d]);
    }
    os[0] = s;
    od[0] = x->dtype;
    return 0;
}

static int transpose_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *x = &g->vals[n->in[0]];
    const ir_attrval *pa = ir_get(n, "perm");
    int nd = x->shape.ndim;
    unsigned char seen[IR_MAX_DIMS] = {0};
    if (pa->n && pa->n != nd) return ir_fail(g, "Transpose: perm has %d entries for rank %d", pa->n, nd);
    ir_shape s = x->shape;
    for (int d = 0; d < nd; d++) {
        int64_t p = pa->n ? pa->v[d] : nd - 1 - d;
        if (p < 0 || p >= nd || seen[p]) return ir_fail(g, "Transpose: perm is not a permutation of 0..%d", nd - 1);
        seen[p] = 1;
        s.d[d] = x->shape.d[p];
    }
    os[0] = s;
    od[0] = x->dtype;
    return 0;
}

/* ---- gradient rules ---- */

#define XSHAPE(node, i) (g->vals[g->nodes[node].in[i]].shape)

static int reshape_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    gx[0] = ir_reshape(g, gy[0], XSHAPE(node, 0));
    return 0;
}

static int concat_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    ir_node n = g->nodes[node];
    int axis = ir_norm_axis(ir_get_i(&n, "axis"), g->vals[n.in[0]].shape.ndim);
    int64_t off = 0;
    for (int k = 0; k < n.nin; k++) {
        int64_t len = g->vals[n.in[k]].shape.d[axis];
        if (want[k]) gx[k] = ir_slice(g, gy[0], axis, off, off + len);
        off += len;
    }
    return 0;
}

/* Adjoint of taking x[start + i*step], i < cnt, along `axis` of a tensor whose dim there is
 * `dim`: scatters v (cnt long on that axis) into zeros. Built from Pad, Reshape and Slice. */
static int slice_adjoint_axis(ir_graph *g, int v, int axis, int64_t dim, int64_t start, int64_t step, int64_t cnt) {
    if (v < 0) return -1;
    ir_shape vs = g->vals[v].shape;
    int nd = vs.ndim;
    int64_t pb[IR_MAX_DIMS] = {0}, pe[IR_MAX_DIMS] = {0};
    if (cnt == 0) {
        pe[axis] = dim;
        return ir_pad(g, v, pb, pe);
    }
    if (step < 0) { /* reverse v, then it is the positive-step slice from the last index */
        int64_t a = axis, s = -1, e = INT64_MIN, k = -1;
        v = slice_node(g, v, 1, &a, &s, &e, &k);
        start += (cnt - 1) * step;
        step = -step;
    }
    if (step == 1) {
        pb[axis] = start;
        pe[axis] = dim - start - cnt;
        return ir_pad(g, v, pb, pe);
    }
    int64_t P = 1, Q = 1;
    for (int d = 0; d < axis; d++) P *= vs.d[d];
    for (int d = axis + 1; d < nd; d++) Q *= vs.d[d];
    int64_t b4[4] = {0, 0, 0, 0}, e4[4] = {0, 0, step - 1, 0}, b3[3] = {0, start, 0},
            e3[3] = {0, dim - start - cnt * step, 0}; /* may be negative: crops the tail */
    int w = ir_pad(g, ir_reshape(g, v, IR_SHAPE(P, cnt, 1, Q)), b4, e4); /* [P, cnt, step, Q] */
    w = ir_pad(g, ir_reshape(g, w, IR_SHAPE(P, cnt * step, Q)), b3, e3); /* [P, dim, Q] */
    vs.d[axis] = dim;
    return ir_reshape(g, w, vs);
}

static int slice_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_node n = g->nodes[node];
    ir_shape xs = XSHAPE(node, 0);
    int64_t start[IR_MAX_DIMS], step[IR_MAX_DIMS], cnt[IR_MAX_DIMS], pb[IR_MAX_DIMS], pe[IR_MAX_DIMS];
    char err[IR_ERRLEN];
    if (slice_plan(&n, &xs, start, step, cnt, err, sizeof err)) return ir_fail(g, "%s", err);
    int unit = 1;
    for (int d = 0; d < xs.ndim; d++) {
        unit &= step[d] == 1;
        pb[d] = start[d];
        pe[d] = xs.d[d] - start[d] - cnt[d];
    }
    if (unit) { /* the common case: one Pad */
        gx[0] = ir_pad(g, gy[0], pb, pe);
        return 0;
    }
    int v = gy[0];
    for (int d = 0; d < xs.ndim; d++)
        if (step[d] != 1 || cnt[d] != xs.d[d]) v = slice_adjoint_axis(g, v, d, xs.d[d], start[d], step[d], cnt[d]);
    gx[0] = v;
    return 0;
}

static int pad_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_node n = g->nodes[node];
    ir_shape xs = XSHAPE(node, 0);
    const ir_attrval *pb = ir_get(&n, "pads_begin"), *pe = ir_get(&n, "pads_end");
    int64_t b[IR_MAX_DIMS], e[IR_MAX_DIMS], axes[IR_MAX_DIMS], starts[IR_MAX_DIMS], ends[IR_MAX_DIMS],
        steps[IR_MAX_DIMS];
    int crop = 0, ns = 0;
    for (int d = 0; d < xs.ndim; d++) {
        b[d] = pb->n ? pb->v[d] : 0;
        e[d] = pe->n ? pe->v[d] : 0;
        crop |= b[d] < 0 || e[d] < 0;
        if (b[d] || e[d]) {
            axes[ns] = d, starts[ns] = b[d], ends[ns] = b[d] + xs.d[d], steps[ns] = 1;
            ns++;
        }
    }
    if (ns == 0) {
        gx[0] = gy[0];
        return 0;
    }
    if (crop) { /* adjoint of zero-pad/crop is the opposite pad/crop */
        for (int d = 0; d < xs.ndim; d++) b[d] = -b[d], e[d] = -e[d];
        gx[0] = ir_pad(g, gy[0], b, e);
    } else
        gx[0] = slice_node(g, gy[0], ns, axes, starts, ends, steps);
    return 0;
}

static int transpose_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)want;
    ir_node n = g->nodes[node];
    const ir_attrval *pa = ir_get(&n, "perm");
    int nd = XSHAPE(node, 0).ndim;
    int64_t inv[IR_MAX_DIMS];
    for (int d = 0; d < nd; d++) inv[pa->n ? pa->v[d] : nd - 1 - d] = d;
    gx[0] = ir_transpose(g, gy[0], inv, nd);
    return 0;
}

REF_PROTO(ref_copy);
REF_PROTO(ref_concat);
REF_PROTO(ref_slice);
REF_PROTO(ref_pad);
REF_PROTO(ref_transpose);
const ir_opdef op_Reshape = {.name = "Reshape", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                             .attrs = {{"shape", AT_INTS, 0}}, .infer = reshape_infer, REF(ref_copy),
                             .grad = reshape_grad};
const ir_opdef op_Flatten = {.name = "Flatten", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                             .attrs = {{"axis", AT_INT, 1}}, .infer = flatten_infer, REF(ref_copy),
                             .grad = reshape_grad};
const ir_opdef op_Concat = {.name = "Concat", .min_in = 1, .max_in = IR_MAX_IN, .nout = 1, .nattrs = 1,
                            .attrs = {{"axis", AT_INT, 0}}, .infer = concat_infer, REF(ref_concat),
                            .grad = concat_grad};
/* ONNX Slice with its inputs as attributes; empty axes = 0..n-1, empty steps = all 1 */
const ir_opdef op_Slice = {.name = "Slice", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 4,
                           .attrs = {{"axes", AT_INTS, 0}, {"starts", AT_INTS, 0}, {"ends", AT_INTS, 0},
                                     {"steps", AT_INTS, 0}},
                           .infer = slice_infer, REF(ref_slice), .grad = slice_grad};
/* constant zero padding per dim (negative pads crop); empty lists mean no padding */
const ir_opdef op_Pad = {.name = "Pad", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 2,
                         .attrs = {{"pads_begin", AT_INTS, 0}, {"pads_end", AT_INTS, 0}}, .infer = pad_infer,
                         REF(ref_pad), .grad = pad_grad};
/* empty perm reverses the dims (ONNX default) */
const ir_opdef op_Transpose = {.name = "Transpose", .min_in = 1, .max_in = 1, .nout = 1, .nattrs = 1,
                               .attrs = {{"perm", AT_INTS, 0}}, .infer = transpose_infer, REF(ref_transpose),
                               .grad = transpose_grad};
#endif
