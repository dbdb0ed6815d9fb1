/* ReduceSum, ReduceMean, ReduceMax and Expand: forward against plain C (float32, float64; i64
 * for Expand), FD gradients, ReduceMax's gradient at ties and its NaN propagation. */
#include "fwdcheck.h"
#include "passes/autodiff.h"

typedef struct {
    fc_ints ints; /* first: see fwdcheck.h */
    int op;
    ir_shape xs;
    int n, keep;
    int64_t axes[IR_MAX_DIMS];
    ir_shape to; /* Expand target; for reductions, the expected output shape */
} rd_ctx;

static int build_rd(ir_graph *g, void *vctx) {
    rd_ctx *c = vctx;
    int x = fc_leaf(g, c, 0, c->xs, -2, 2);
    switch (c->op) {
    case OP_ReduceSum: return ir_reduce_sum(g, x, c->axes, c->n, c->keep);
    case OP_ReduceMean: return ir_reduce_mean(g, x, c->axes, c->n, c->keep);
    case OP_ReduceMax: return ir_reduce_max(g, x, c->axes, c->n, c->keep);
    case OP_Expand: return ir_expand(g, x, c->to);
    }
    return -1;
}

/* every input element goes to the output element with the reduced coordinates dropped (or 0) */
static void ref_reduce(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    rd_ctx *c = vctx;
    const ir_shape *xs = &ins[0];
    int red[IR_MAX_DIMS] = {0};
    for (int d = 0; d < xs->ndim; d++) red[d] = c->n == 0;
    for (int j = 0; j < c->n; j++) red[c->axes[j] < 0 ? c->axes[j] + xs->ndim : c->axes[j]] = 1;
    ir_shape ks = *xs; /* keepdims shape */
    int64_t cnt = 1, idx[IR_MAX_DIMS];
    for (int d = 0; d < xs->ndim; d++)
        if (red[d]) cnt *= xs->d[d], ks.d[d] = 1;
    int64_t ny = ir_numel(&ks);
    for (int64_t i = 0; i < ny; i++) want[i] = c->op == OP_ReduceMax ? -INFINITY : 0;
    for (int64_t i = 0; i < ir_numel(xs); i++) {
        fc_unravel(i, xs, idx);
        for (int d = 0; d < xs->ndim; d++)
            if (red[d]) idx[d] = 0;
        int64_t o = fc_ravel(idx, &ks);
        want[o] = c->op == OP_ReduceMax ? fmax(want[o], in[0][i]) : want[o] + in[0][i];
    }
    if (c->op == OP_ReduceMean)
        for (int64_t i = 0; i < ny; i++) want[i] /= (double)cnt;
}

static void ref_expand(void *vctx, double *const *in, const ir_shape *ins, double *want) {
    rd_ctx *c = vctx;
    int64_t o[IR_MAX_DIMS], x[IR_MAX_DIMS];
    for (int64_t i = 0; i < ir_numel(&c->to); i++) {
        fc_unravel(i, &c->to, o);
        for (int d = 0; d < ins[0].ndim; d++) {
            int od = c->to.ndim - ins[0].ndim + d;
            x[d] = ins[0].d[d] == 1 ? 0 : o[od];
        }
        want[i] = in[0][fc_ravel(x, &ins[0])];
    }
}

static int reduce_cases(int op, int grad) {
    rd_ctx t[] = {
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .n = 1, .axes = {1}, .keep = 1, .to = IR_SHAPE(2, 1, 4)},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .n = 1, .axes = {1}, .keep = 0, .to = IR_SHAPE(2, 4)},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .n = 2, .axes = {0, 2}, .keep = 0, .to = IR_SHAPE(3)},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .n = 2, .axes = {-1, -3}, .keep = 1, .to = IR_SHAPE(1, 3, 1)},
        {.op = op, .xs = IR_SHAPE(2, 3, 4), .n = 0, .keep = 0, .to = {0}}, /* all axes -> [] */
        {.op = op, .xs = IR_SHAPE(3, 5), .n = 0, .keep = 1, .to = IR_SHAPE(1, 1)},
        {.op = op, .xs = IR_SHAPE(2, 1, 3, 2), .n = 2, .axes = {1, 3}, .keep = 0, .to = IR_SHAPE(2, 3)},
        {.op = op, .xs = IR_SHAPE(5), .n = 1, .axes = {0}, .keep = 1, .to = IR_SHAPE(1)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s case %zu", ir_optable[op]->name, i);
        if (grad ? gradcheck(label, build_rd, &t[i], 1e-6) : fc_check(label, build_rd, &t[i], t[i].to, ref_reduce, 0))
            return 1;
    }
    return 0;
}

static int expand_cases(int grad) {
    rd_ctx t[] = {
        {.op = OP_Expand, .xs = IR_SHAPE(3, 1), .to = IR_SHAPE(2, 3, 4)},
        {.op = OP_Expand, .xs = IR_SHAPE(4), .to = IR_SHAPE(2, 3, 4)},
        {.op = OP_Expand, .xs = {0}, .to = IR_SHAPE(2, 2)},
        {.op = OP_Expand, .xs = IR_SHAPE(1, 1), .to = IR_SHAPE(3, 2)},
        {.op = OP_Expand, .xs = IR_SHAPE(2, 1, 3), .to = IR_SHAPE(2, 4, 3)},
        {.op = OP_Expand, .xs = IR_SHAPE(2, 3), .to = IR_SHAPE(2, 3)}, /* no-op */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "Expand case %zu", i);
        if (grad ? gradcheck(label, build_rd, &t[i], 1e-6) : fc_check(label, build_rd, &t[i], t[i].to, ref_expand, 1))
            return 1;
    }
    return 0;
}

static int bad_axis(int op) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    int n = ir_node_new(&g, op, &x, 1);
    ir_set_ints(&g, n, "axes", (int64_t[]){2}, 1);
    int ok = ir_node_finish(&g, n) < 0 && strstr(g.err, "out of range");
    if (!ok) fprintf(stderr, "FAIL %s: axis 2 of a rank-2 tensor accepted: %s\n", ir_optable[op]->name, g.err);
    ir_graph_free(&g);
    return !ok;
}

static int sum_f(void) { return bad_axis(OP_ReduceSum) || reduce_cases(OP_ReduceSum, 0); }
static int sum_g(void) { return reduce_cases(OP_ReduceSum, 1); }
static int mean_f(void) { return bad_axis(OP_ReduceMean) || reduce_cases(OP_ReduceMean, 0); }
static int mean_g(void) { return reduce_cases(OP_ReduceMean, 1); }

/* NaN in a row makes that row's max NaN (as torch.amax), so a diverging run is noticed */
static int max_nan(void) {
    float xv[6] = {1, NAN, 3, 4, 5, 6};
    for (int f64 = 0; f64 < 2; f64++) {
        ir_graph g;
        ir_graph_init(&g);
        int x = ir_const(&g, DT_F32, IR_SHAPE(2, 3), xv);
        int y = ir_reduce_max(&g, x, (int64_t[]){1}, 1, 0);
        ir_add_output(&g, y);
        interp it;
        char err[IR_ERRLEN];
        double out[2] = {0, 0};
        CHECK(interp_init(&it, &g, f64, err) == 0 && interp_run(&it, err) == 0, "%s", err);
        interp_get_f64(&it, y, out, err);
        interp_free(&it);
        ir_graph_free(&g);
        CHECK(isnan(out[0]) && out[1] == 6, "ReduceMax with NaN gave [%g, %g], want [nan, 6]", out[0], out[1]);
    }
    return 0;
}
static int max_f(void) { return bad_axis(OP_ReduceMax) || max_nan() || reduce_cases(OP_ReduceMax, 0); }

/* At ties the gradient is shared evenly between the maxima (torch.amax), so its sum over a
 * reduced slice equals the incoming gradient: rows of ReLU zeros are the common case. */
static int max_ties(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(3, 4), ir_init_const(0), 0);
    float w[12] = {0, 0, 0, 0, 1, 3, 3, 2, -1, 5, 0, 0}; /* x + w: rows with 4, 2 and 1 maxima */
    int xw = ir_add(&g, x, ir_const(&g, DT_F32, IR_SHAPE(3, 4), w));
    float r[3] = {1, 2, -3};
    int y = ir_reduce_max(&g, xw, (int64_t[]){-1}, 1, 0);
    int loss = ir_reduce_sum(&g, ir_mul(&g, y, ir_const(&g, DT_F32, IR_SHAPE(3), r)), NULL, 0, 0);
    int gx = -1;
    CHECK(autodiff(&g, loss, &x, 1, &gx) == 0 && gx >= 0, "autodiff: %s", g.err);
    ir_add_output(&g, gx);
    interp it;
    char err[IR_ERRLEN];
    double gv[12];
    CHECK(interp_init(&it, &g, 1, err) == 0 && init_persistent(&it, 5, err) == 0 && interp_run(&it, err) == 0, "%s", err);
    interp_get_f64(&it, gx, gv, err);
    interp_free(&it);
    ir_graph_free(&g);
    const double want[12] = {0.25, 0.25, 0.25, 0.25, 0, 1, 1, 0, 0, -3, 0, 0};
    for (int i = 0; i < 12; i++) CHECK(fabs(gv[i] - want[i]) < 1e-12, "tie gradient [%d] = %g, want %g", i, gv[i], want[i]);
    printf("ok   ReduceMax gradient at ties is shared evenly\n");
    return 0;
}
static int max_g(void) { return max_ties() || reduce_cases(OP_ReduceMax, 1); }

static int expand_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(2, 3), ir_init_const(0), 0);
    CHECK(ir_expand(&g, x, IR_SHAPE(2, 4)) < 0 && strstr(g.err, "broadcast"), "bad Expand accepted: %s", g.err);
    ir_graph_free(&g);
    return expand_cases(0);
}
static int expand_g(void) { return expand_cases(1); }

OPTEST_FAMILY(reduce) = {{"ReduceSum", sum_f, sum_g},
                         {"ReduceMean", mean_f, mean_g},
                         {"ReduceMax", max_f, max_g},
                         {"Expand", expand_f, expand_g},
                         {NULL, NULL, NULL}};
