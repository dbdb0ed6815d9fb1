/* ArgMax and Gather: forward against plain C in float32 and float64 storage (ties, NaN,
 * keepdims, negative and repeated indices, integer data), refusals with one message each, and
 * Gather's gradient (repeated rows sum) by finite differences. */
#include "cnn_testutil.h"

/* x [3, 5]: a tie (row 0: first of two 4s), a NaN (row 1: the NaN wins), all equal (row 2) */
static const float argmax_x[15] = {1, 4, -2, 4, 0, 3, 9, NAN, 9, -1, 2, 2, 2, 2, 2};

static int argmax_f(void) {
    for (int f64 = 0; f64 < 2; f64++) {
        ir_graph g;
        ir_graph_init(&g);
        int x = ir_const(&g, DT_F32, IR_SHAPE(3, 5), argmax_x);
        int rows = ir_argmax(&g, x, 1, 0), cols = ir_argmax(&g, x, 0, 1), last = ir_argmax(&g, x, -1, 1);
        CHECK(!g.failed && g.vals[rows].dtype == DT_I64 && g.vals[rows].shape.ndim == 1 &&
                  g.vals[rows].shape.d[0] == 3 && g.vals[cols].shape.ndim == 2 && g.vals[cols].shape.d[0] == 1 &&
                  g.vals[cols].shape.d[1] == 5 && g.vals[last].shape.d[1] == 1,
              "ArgMax shapes: %s", g.err);
        ir_add_output(&g, rows), ir_add_output(&g, cols), ir_add_output(&g, last);
        char err[IR_ERRLEN];
        interp it;
        CHECK(interp_init(&it, &g, f64, err) == 0 && interp_run(&it, err) == 0, "%s", err);
        const int64_t *r = interp_data(&it, rows), *c = interp_data(&it, cols), *l = interp_data(&it, last);
        /* plain C: first index of the maximum, NaN counts as the maximum */
        for (int i = 0; i < 3; i++) {
            int best = 0;
            for (int j = 1; j < 5 && !isnan(argmax_x[i * 5 + best]); j++)
                if (argmax_x[i * 5 + j] > argmax_x[i * 5 + best] || isnan(argmax_x[i * 5 + j])) best = j;
            CHECK(r[i] == best && l[i] == best, "ArgMax row %d = %lld, want %d", i, (long long)r[i], best);
        }
        const int64_t want_cols[5] = {1, 1, 1, 1, 2}; /* column 2: the NaN */
        for (int j = 0; j < 5; j++) CHECK(c[j] == want_cols[j], "ArgMax column %d = %lld", j, (long long)c[j]);
        CHECK(r[0] == 1 && r[1] == 2 && r[2] == 0, "ArgMax ties / NaN / equal rows: %lld %lld %lld", (long long)r[0],
              (long long)r[1], (long long)r[2]);
        interp_free(&it);
        ir_graph_free(&g);
    }
    /* refusals */
    ir_graph g;
    ir_graph_init(&g);
    int i = ir_input(&g, "i", DT_I64, IR_SHAPE(3));
    CHECK(ir_argmax(&g, i, 0, 0) < 0 && strstr(g.err, "ArgMax") && strstr(g.err, "float"), "i64 ArgMax: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(3, 4));
    CHECK(ir_argmax(&g, x, 2, 0) < 0 && strstr(g.err, "axis 2"), "axis 2 of 2-D: %s", g.err);
    ir_graph_free(&g);
    return 0;
}

static int gather_f(void) {
    const int64_t idx[4] = {4, -1, 0, 2};
    for (int f64 = 0; f64 < 2; f64++) {
        ir_graph g;
        ir_graph_init(&g);
        float d[15];
        int64_t di[10];
        for (int k = 0; k < 15; k++) d[k] = 0.5f * (float)k - 3.0f;
        for (int k = 0; k < 10; k++) di[k] = (k * 7919LL) << 20; /* above 2^53: moved as bits, never as floats */
        int x = ir_const(&g, DT_F32, IR_SHAPE(5, 3), d), xi = ir_const(&g, DT_I64, IR_SHAPE(5, 2), di);
        int id = ir_const(&g, DT_I64, IR_SHAPE(4), idx), id2 = ir_const(&g, DT_I64, IR_SHAPE(2, 2), idx);
        int y = ir_gather(&g, x, id), yi = ir_gather(&g, xi, id), y2 = ir_gather(&g, x, id2);
        CHECK(!g.failed && g.vals[y].shape.ndim == 2 && g.vals[y].shape.d[0] == 4 && g.vals[y].shape.d[1] == 3 &&
                  g.vals[yi].dtype == DT_I64 && g.vals[y2].shape.ndim == 3 && g.vals[y2].shape.d[2] == 3,
              "Gather shapes: %s", g.err);
        ir_add_output(&g, y), ir_add_output(&g, yi), ir_add_output(&g, y2);
        char err[IR_ERRLEN];
        interp it;
        CHECK(interp_init(&it, &g, f64, err) == 0 && interp_run(&it, err) == 0, "%s", err);
        double got[12], got2[12];
        CHECK(interp_get_f64(&it, y, got, err) == 0 && interp_get_f64(&it, y2, got2, err) == 0, "%s", err);
        const int64_t *gi = interp_data(&it, yi);
        for (int i = 0; i < 4; i++) {
            int64_t k = idx[i] < 0 ? idx[i] + 5 : idx[i];
            for (int c = 0; c < 3; c++)
                CHECK(got[i * 3 + c] == d[k * 3 + c] && got2[i * 3 + c] == d[k * 3 + c], "Gather [%d,%d] = %g", i, c,
                      got[i * 3 + c]);
            for (int c = 0; c < 2; c++) CHECK(gi[i * 2 + c] == di[k * 2 + c], "Gather i64 [%d,%d]", i, c);
        }
        interp_free(&it);
        ir_graph_free(&g);
    }
    /* an index outside [-K, K) fails the run with a message (never reads out of bounds) */
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(5, 3));
    int id = ir_input(&g, "idx", DT_I64, IR_SHAPE(2));
    int y = ir_gather(&g, x, id);
    CHECK(y >= 0, "%s", g.err);
    ir_add_output(&g, y);
    char err[IR_ERRLEN];
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0, "%s", err);
    const int64_t bad[2][2] = {{0, 5}, {-6, 1}};
    for (int b = 0; b < 2; b++) {
        memcpy(interp_data(&it, id), bad[b], sizeof bad[b]);
        CHECK(interp_run(&it, err) != 0 && strstr(err, "Gather") && strstr(err, "outside"), "index %lld accepted: %s",
              (long long)bad[b][b ? 0 : 1], err);
    }
    interp_free(&it);
    ir_graph_free(&g);
    /* build-time refusals */
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(5, 3));
    int fidx = ir_input(&g, "f", DT_F32, IR_SHAPE(2));
    CHECK(ir_gather(&g, x, fidx) < 0 && strstr(g.err, "i64"), "f32 indices accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(5, 3));
    id = ir_input(&g, "idx", DT_I64, IR_SHAPE(2));
    int n = ir_node_new(&g, OP_Gather, (int[]){x, id}, 2);
    ir_set_i(&g, n, "axis", 1);
    CHECK(ir_node_finish(&g, n) < 0 && strstr(g.err, "axis 0"), "Gather axis 1 accepted: %s", g.err);
    ir_graph_free(&g);
    return 0;
}

/* rows 3 (twice, once as -2), 0 and 4 of a [5, 2, 2] parameter, times a second parameter */
static int build_gather(ir_graph *g, void *ctx) {
    (void)ctx;
    const int64_t idx[4] = {3, 0, -2, 4};
    int x = ir_param(g, "x", IR_SHAPE(5, 2, 2), ir_init_uniform(-2, 2), 0);
    int w = ir_param(g, "w", IR_SHAPE(4, 2, 2), ir_init_uniform(-2, 2), 0);
    int y = ir_gather(g, x, ir_const(g, DT_I64, IR_SHAPE(4), idx));
    return ir_mul(g, ir_mul(g, y, y), w);
}

static int gather_g(void) { return gradcheck("Gather (repeated and negative indices)", build_gather, NULL, 1e-6); }

OPTEST_FAMILY(index) = {{"ArgMax", argmax_f, NULL}, {"Gather", gather_f, gather_g}, {NULL, NULL, NULL}};
