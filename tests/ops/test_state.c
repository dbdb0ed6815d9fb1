/* Increment: integer +1 (BatchNorm's num_batches_tracked), as a state update over two steps. */
#include "cnn_testutil.h"

static int increment_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int cnt = ir_state(&g, "num_batches_tracked", DT_I64, IR_SHAPE(1), ir_init_const(5));
    int32_t c32[3] = {-1, 0, 2147483646};
    int k32 = ir_const(&g, DT_I32, IR_SHAPE(3), c32);
    int next = ir_increment(&g, cnt), n32 = ir_increment(&g, k32);
    CHECK(next >= 0 && n32 >= 0 && g.vals[next].dtype == DT_I64 && g.vals[n32].dtype == DT_I32, "build: %s", g.err);
    ir_add_update(&g, cnt, next);
    ir_add_output(&g, next);
    ir_add_output(&g, n32);
    char err[IR_ERRLEN];
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 1, err) == 0, "%s", err);
    for (int step = 1; step <= 2; step++) {
        CHECK(interp_run(&it, err) == 0, "%s", err);
        const int64_t *nv = interp_data(&it, next), *cv = interp_data(&it, cnt);
        const int32_t *v32 = interp_data(&it, n32);
        CHECK(nv[0] == 5 + step && cv[0] == 5 + step, "step %d: counter %lld, state %lld", step, (long long)nv[0],
              (long long)cv[0]);
        CHECK(v32[0] == 0 && v32[1] == 1 && v32[2] == 2147483647, "i32 increment");
    }
    interp_free(&it);
    ir_graph_free(&g);
    ir_graph_init(&g);
    int f = ir_input(&g, "f", DT_F32, IR_SHAPE(2));
    CHECK(ir_increment(&g, f) < 0 && g.failed && strstr(g.err, "Increment"), "float input accepted");
    ir_graph_free(&g);
    return 0;
}

OPTEST_FAMILY(state) = {{"Increment", increment_f, NULL}, {NULL, NULL, NULL}};
