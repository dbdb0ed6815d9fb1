/* Shape ops: Reshape, Flatten, Concat, Slice, Pad, Transpose: forward against plain C
 * references (float32, float64 and i64 storage), gradients by finite differences. */
#include <stdint.h>

#include "fwdcheck.h"
#include "passes/autodiff.h"

typedef struct {
    fc_ints ints; /* first: see fwdcheck.h */
    int op;
    int nin;
    ir_shape xs[4];
    int64_t axis; /* Concat, Flatten */
    ir_shape to;  /* Reshape */
    /* Slice: attributes (n entries; builder = use ir_slice), expected index lists per dim */
    int n, builder, no_axes, no_steps;
    int64_t axes[IR_MAX_DIMS], starts[IR_MAX_DIMS], ends[IR_MAX_DIMS], steps[IR_MAX_DIMS];
    int nidx[IR_MAX_DIMS]; /* -1: every index of that dim */
    int64_t idx[IR_MAX_DIMS][8];
    int64_t pb[IR_MAX_DIMS], pe[IR_MAX_DIMS]; /* Pad */
    int64_t perm[IR_MAX_DIMS];                 /* Transpose; nperm 0 = default (reverse) */
    int nperm;
} sh_ctx;

static int build_sh(ir_graph *g, void *vctx) {
    sh_ctx *c = vctx;
    int x[4];
    for (int k = 0; k < c->nin; k++) x[k] = fc_leaf(g, c, k, c->xs[k], -1, 1);
    switch (c->op) {
    case OP_Reshape: return ir_reshape(g, x[0], c->to);
    case OP_Flatten: return ir_flatten(g, x[0], (int)c->axis);
    case OP_Concat: return ir_concat(g, x, c->nin, (int)c->axis);
    case OP_Slice: {
        if (c->builder) return ir_slice(g, x[0], (int)c->axes[0], c->starts[0], c->ends[0]);
        int n = ir_node_new(g, OP_Slice, x, 1);
        if (!c->no_axes) ir_set_ints(g, n, "axes", c->axes, c->n);
        ir_set_ints(g, n, "starts", c->starts, c->n);
        ir_set_ints(g, n, "ends", c->ends, c->n);
        if (!c->no_steps) ir_set_ints(g, n, "steps", c->steps, c->n);
        return ir_node_finish(g, n);
    }
    case OP_Pad: return ir_pad(g, x[0], c->pb, c->pe);
    case OP_Transpose: return ir_transpose(g, x[0], c->perm, c->nperm);
    }
    return -1;
}

static void ref_copy(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    (void)vctx;
    memcpy(want, in[0], (size_t)ir_numel(&ins[0]) * sizeof(double));
}

static ir_shape concat_shape(const sh_ctx *c) {
    ir_shape s = c->xs[0];
    int axis = (int)(c->axis < 0 ? c->axis + s.ndim : c->axis);
    for (int k = 1; k < c->nin; k++) s.d[axis] += c->xs[k].d[axis];
    return s;
}
static void ref_concat(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sh_ctx *c = vctx;
    ir_shape os = concat_shape(c);
    int axis = (int)(c->axis < 0 ? c->axis + os.ndim : c->axis);
    int64_t idx[IR_MAX_DIMS];
    for (int64_t i = 0; i < ir_numel(&os); i++) {
        fc_unravel(i, &os, idx);
        int k = 0;
        while (idx[axis] >= ins[k].d[axis]) idx[axis] -= ins[k++].d[axis];
        want[i] = in[k][fc_ravel(idx, &ins[k])];
    }
}

static ir_shape slice_shape(const sh_ctx *c) {
    ir_shape s = c->xs[0];
    for (int d = 0; d < s.ndim; d++)
        if (c->nidx[d] >= 0) s.d[d] = c->nidx[d];
    return s;
}
static void ref_slice(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sh_ctx *c = vctx;
    ir_shape os = slice_shape(c);
    int64_t idx[IR_MAX_DIMS];
    for (int64_t i = 0; i < ir_numel(&os); i++) {
        fc_unravel(i, &os, idx);
        for (int d = 0; d < os.ndim; d++)
            if (c->nidx[d] >= 0) idx[d] = c->idx[d][idx[d]];
        want[i] = in[0][fc_ravel(idx, &ins[0])];
    }
}

static ir_shape pad_shape(const sh_ctx *c) {
    ir_shape s = c->xs[0];
    for (int d = 0; d < s.ndim; d++) s.d[d] += c->pb[d] + c->pe[d];
    return s;
}
static void ref_pad(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sh_ctx *c = vctx;
    ir_shape os = pad_shape(c);
    int64_t idx[IR_MAX_DIMS];
    for (int64_t i = 0; i < ir_numel(&os); i++) {
        fc_unravel(i, &os, idx);
        int inside = 1;
        for (int d = 0; d < os.ndim; d++) {
            idx[d] -= c->pb[d];
            inside &= idx[d] >= 0 && idx[d] < ins[0].d[d];
        }
        want[i] = inside ? in[0][fc_ravel(idx, &ins[0])] : 0;
    }
}

static int perm_of(const sh_ctx *c, int d) { return c->nperm ? (int)c->perm[d] : c->xs[0].ndim - 1 - d; }
static ir_shape transpose_shape(const sh_ctx *c) {
    ir_shape s = c->xs[0];
    for (int d = 0; d < s.ndim; d++) s.d[d] = c->xs[0].d[perm_of(c, d)];
    return s;
}
static void ref_transpose(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    sh_ctx *c = vctx;
    ir_shape os = transpose_shape(c);
    int64_t o[IR_MAX_DIMS], x[IR_MAX_DIMS];
    for (int64_t i = 0; i < ir_numel(&os); i++) {
        fc_unravel(i, &os, o);
        for (int d = 0; d < os.ndim; d++) x[perm_of(c, d)] = o[d];
        want[i] = in[0][fc_ravel(x, &ins[0])];
    }
}

/* forward in f32/f64/i64, then the gradient check on float parameters */
static int check(const char *label, sh_ctx *c, ir_shape want_shape, fc_ref_fn ref, int grad) {
    if (!grad) return fc_check(label, build_sh, c, want_shape, ref, 1);
    return gradcheck(label, build_sh, c, 1e-6);
}

/* ---- Reshape / Flatten ---- */
static int reshape_cases(int grad) {
    sh_ctx a = {.op = OP_Reshape, .nin = 1, .xs = {IR_SHAPE(2, 3, 4)}, .to = IR_SHAPE(6, 1, 4)};
    sh_ctx b = {.op = OP_Reshape, .nin = 1, .xs = {IR_SHAPE(2, 3, 4)}, .to = IR_SHAPE(24)};
    sh_ctx s = {.op = OP_Reshape, .nin = 1, .xs = {IR_SHAPE(1, 1)}, .to = {0}}; /* to a scalar [] */
    return check("Reshape [2,3,4]->[6,1,4]", &a, a.to, ref_copy, grad) ||
           check("Reshape [2,3,4]->[24]", &b, b.to, ref_copy, grad) || check("Reshape [1,1]->[]", &s, s.to, ref_copy, grad);
}
static int reshape_f(void) {
    /* element count mismatch is a build error, not a crash */
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    CHECK(ir_reshape(&g, x, IR_SHAPE(4, 2)) < 0 && g.failed && strstr(g.err, "Reshape"), "bad reshape accepted");
    ir_graph_free(&g);
    return reshape_cases(0);
}
static int reshape_g(void) { return reshape_cases(1); }

static int flatten_cases(int grad) {
    static const struct {
        int axis;
        int64_t a, b;
    } t[] = {{0, 1, 24}, {1, 2, 12}, {2, 6, 4}, {-1, 6, 4}, {3, 24, 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sh_ctx c = {.op = OP_Flatten, .nin = 1, .xs = {IR_SHAPE(2, 3, 4)}, .axis = t[i].axis};
        char label[64];
        snprintf(label, sizeof label, "Flatten [2,3,4] axis %d", t[i].axis);
        if (check(label, &c, IR_SHAPE(t[i].a, t[i].b), ref_copy, grad)) return 1;
    }
    return 0;
}
static int flatten_f(void) { return flatten_cases(0); }
static int flatten_g(void) { return flatten_cases(1); }

/* ---- Concat ---- */
static int concat_cases(int grad) {
    sh_ctx a = {.op = OP_Concat, .nin = 3, .xs = {IR_SHAPE(2, 3, 4), IR_SHAPE(2, 1, 4), IR_SHAPE(2, 2, 4)}, .axis = 1};
    sh_ctx b = {.op = OP_Concat, .nin = 2, .xs = {IR_SHAPE(2, 3), IR_SHAPE(2, 5)}, .axis = -1};
    sh_ctx c = {.op = OP_Concat, .nin = 4, .xs = {IR_SHAPE(1, 3), IR_SHAPE(2, 3), IR_SHAPE(3, 3), IR_SHAPE(1, 3)}};
    sh_ctx d = {.op = OP_Concat, .nin = 2, .xs = {IR_SHAPE(2, 2, 1, 3), IR_SHAPE(2, 2, 2, 3)}, .axis = -2};
    return check("Concat axis 1 (3 inputs)", &a, concat_shape(&a), ref_concat, grad) ||
           check("Concat axis -1", &b, concat_shape(&b), ref_concat, grad) ||
           check("Concat axis 0 (4 inputs)", &c, concat_shape(&c), ref_concat, grad) ||
           check("Concat 4-D axis -2", &d, concat_shape(&d), ref_concat, grad);
}
static int concat_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0), y = ir_param(&g, "y", IR_SHAPE(3, 3), ir_init_const(0), 0);
    CHECK(ir_concat(&g, (int[]){x, y}, 2, 1) < 0 && strstr(g.err, "Concat"), "mismatched Concat accepted");
    ir_graph_free(&g);
    return concat_cases(0);
}
static int concat_g(void) { return concat_cases(1); }

/* ---- Slice (expected index lists written out by hand, as Python's list slicing gives) ---- */
#define ALL (-1)
static int slice_cases(int grad) {
    const int64_t BIG = INT64_MAX, SMALL = INT64_MIN;
    sh_ctx t[] = {
        /* ir_slice(x, 1, 1, 4) on [4,6] */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(4, 6)}, .builder = 1, .n = 1, .axes = {1}, .starts = {1}, .ends = {4},
         .nidx = {ALL, 3}, .idx = {{0}, {1, 2, 3}}},
        /* negative axis and start, clamped end: [-3:100] on axis 0 */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(6, 2)}, .builder = 1, .n = 1, .axes = {-2}, .starts = {-3},
         .ends = {100}, .nidx = {3, ALL}, .idx = {{3, 4, 5}}},
        /* two axes given out of order, negative steps: axis 2 [-1::-2], axis 0 [0:3:2] */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(3, 4, 5)}, .n = 2, .axes = {2, 0}, .starts = {-1, 0},
         .ends = {SMALL, 3}, .steps = {-2, 2}, .nidx = {2, ALL, 3}, .idx = {{0, 2}, {0}, {4, 2, 0}}},
        /* clamping everywhere: [10:-100:-3], [-100:100:3], [1:-1:4] (one element) */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(5, 4, 6)}, .n = 3, .axes = {0, 1, 2}, .starts = {10, -100, 1},
         .ends = {-100, 100, -1}, .steps = {-3, 3, 4}, .nidx = {2, 2, 1}, .idx = {{4, 1}, {0, 3}, {1}}},
        /* axes and steps omitted: starts/ends apply to dims 0.. */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(4, 5)}, .n = 2, .no_axes = 1, .no_steps = 1, .starts = {1, 0},
         .ends = {3, -1}, .nidx = {2, 4}, .idx = {{1, 2}, {0, 1, 2, 3}}},
        /* step 3 from 1 on axis 0, whole reversal of axis 1 */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(7, 3)}, .n = 2, .axes = {0, 1}, .starts = {1, BIG},
         .ends = {7, SMALL}, .steps = {3, -1}, .nidx = {2, 3}, .idx = {{1, 4}, {2, 1, 0}}},
        /* empty result: [3:1] */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(3, 4)}, .builder = 1, .n = 1, .axes = {1}, .starts = {3}, .ends = {1},
         .nidx = {ALL, 0}},
        /* middle axis of a 4-D tensor with step 2 */
        {.op = OP_Slice, .nin = 1, .xs = {IR_SHAPE(2, 5, 2, 3)}, .n = 1, .axes = {1}, .starts = {0}, .ends = {5},
         .steps = {2}, .nidx = {ALL, 3, ALL, ALL}, .idx = {{0}, {0, 2, 4}}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "Slice case %zu", i);
        if (check(label, &t[i], slice_shape(&t[i]), ref_slice, grad)) return 1;
    }
    return 0;
}
static int slice_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    int n = ir_node_new(&g, OP_Slice, &x, 1);
    ir_set_ints(&g, n, "starts", (int64_t[]){0}, 1);
    ir_set_ints(&g, n, "ends", (int64_t[]){1}, 1);
    ir_set_ints(&g, n, "steps", (int64_t[]){0}, 1);
    CHECK(ir_node_finish(&g, n) < 0 && strstr(g.err, "step 0"), "step 0 accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    CHECK(ir_slice(&g, x, 2, 0, 1) < 0 && strstr(g.err, "axis"), "axis out of range accepted: %s", g.err);
    ir_graph_free(&g);
    return slice_cases(0);
}
static int slice_g(void) { return slice_cases(1); }

/* ---- Pad ---- */
static int pad_cases(int grad) {
    sh_ctx a = {.op = OP_Pad, .nin = 1, .xs = {IR_SHAPE(2, 3)}, .pb = {1, 0}, .pe = {2, 3}};
    sh_ctx b = {.op = OP_Pad, .nin = 1, .xs = {IR_SHAPE(1, 2, 3, 2)}, .pb = {0, 0, 1, 2}, .pe = {0, 1, 1, 0}};
    sh_ctx c = {.op = OP_Pad, .nin = 1, .xs = {IR_SHAPE(3, 4)}, .pb = {-1, 2}, .pe = {1, -3}}; /* crops too */
    sh_ctx d = {.op = OP_Pad, .nin = 1, .xs = {IR_SHAPE(4)}, .pb = {0}, .pe = {0}};
    return check("Pad [2,3]", &a, pad_shape(&a), ref_pad, grad) || check("Pad 4-D", &b, pad_shape(&b), ref_pad, grad) ||
           check("Pad with negative pads", &c, pad_shape(&c), ref_pad, grad) ||
           check("Pad nothing", &d, pad_shape(&d), ref_pad, grad);
}
static int pad_f(void) { return pad_cases(0); }
static int pad_g(void) { return pad_cases(1); }

/* ---- Transpose ---- */
static int transpose_cases(int grad) {
    sh_ctx a = {.op = OP_Transpose, .nin = 1, .xs = {IR_SHAPE(2, 3, 4)}, .perm = {2, 0, 1}, .nperm = 3};
    sh_ctx b = {.op = OP_Transpose, .nin = 1, .xs = {IR_SHAPE(2, 3, 4)}, .perm = {1, 0, 2}, .nperm = 3};
    sh_ctx c = {.op = OP_Transpose, .nin = 1, .xs = {IR_SHAPE(2, 3, 4)}}; /* default: reverse */
    sh_ctx d = {.op = OP_Transpose, .nin = 1, .xs = {IR_SHAPE(2, 3, 4, 5)}, .perm = {0, 2, 3, 1}, .nperm = 4};
    sh_ctx e = {.op = OP_Transpose, .nin = 1, .xs = {IR_SHAPE(3, 5)}, .perm = {1, 0}, .nperm = 2};
    return check("Transpose [2,0,1]", &a, transpose_shape(&a), ref_transpose, grad) ||
           check("Transpose [1,0,2]", &b, transpose_shape(&b), ref_transpose, grad) ||
           check("Transpose default", &c, transpose_shape(&c), ref_transpose, grad) ||
           check("Transpose [0,2,3,1]", &d, transpose_shape(&d), ref_transpose, grad) ||
           check("Transpose 2-D", &e, transpose_shape(&e), ref_transpose, grad);
}
static int transpose_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    CHECK(ir_transpose(&g, x, (int64_t[]){0, 0}, 2) < 0 && strstr(g.err, "permutation"), "bad perm accepted");
    ir_graph_free(&g);
    return transpose_cases(0);
}
static int transpose_g(void) { return transpose_cases(1); }

OPTEST_FAMILY(shape) = {{"Reshape", reshape_f, reshape_g}, {"Flatten", flatten_f, flatten_g},
                        {"Concat", concat_f, concat_g},    {"Slice", slice_f, slice_g},
                        {"Pad", pad_f, pad_g},             {"Transpose", transpose_f, transpose_g},
                        {NULL, NULL, NULL}};
