/* QueueWrite: MoCo's dequeue-and-enqueue as a state update, checked against plain C over
 * several steps (pointer wrap-around) in both layouts and float widths, and its errors. */
#include <stdlib.h>
#include <string.h>

#include "../optest.h"
#include "runtime/init.h"
#include "runtime/interp.h"

/* queue (state, K entries of D), keys (param [N, D]), ptr (state i64 [1] starting at p0); the
 * step writes the keys and advances the pointer; `steps` runs are compared with plain C. */
static int queue_run(int axis, int64_t D, int64_t K, int64_t N, int64_t p0, int steps, int f64) {
    ir_graph g;
    ir_graph_init(&g);
    ir_shape qs = axis ? IR_SHAPE(D, K) : IR_SHAPE(K, D);
    int q = ir_state(&g, "queue", DT_F32, qs, ir_init_uniform(-1, 1));
    int k = ir_param(&g, "keys", IR_SHAPE(N, D), ir_init_uniform(-1, 1), 0);
    int p = ir_state(&g, "queue_ptr", DT_I64, IR_SHAPE(1), ir_init_const((double)p0));
    int np = -1, nq = ir_queue_write(&g, q, k, p, axis, &np);
    CHECK(nq >= 0 && np >= 0 && !g.failed, "build: %s", g.err);
    CHECK(ir_shape_eq(&g.vals[nq].shape, &qs) && g.vals[np].dtype == DT_I64 && ir_numel(&g.vals[np].shape) == 1,
          "QueueWrite output shapes/dtypes");
    ir_add_update(&g, q, nq);
    ir_add_update(&g, p, np);
    ir_add_output(&g, nq);
    ir_add_output(&g, np);
    char err[IR_ERRLEN];
    interp it;
    CHECK(interp_init(&it, &g, f64, err) == 0 && init_persistent(&it, 7, err) == 0, "%s", err);
    int64_t nqe = D * K;
    double *want = malloc((size_t)nqe * sizeof(double)), *got = malloc((size_t)nqe * sizeof(double));
    double *keys = malloc((size_t)(N * D) * sizeof(double));
    interp_get_f64(&it, q, want, err);
    int64_t ptr = p0;
    for (int s = 0; s < steps; s++) {
        /* new keys every step: key[i][d] = s + i/10 + d/100 */
        for (int64_t i = 0; i < N; i++)
            for (int64_t d = 0; d < D; d++) keys[i * D + d] = s + 0.1 * (double)i + 0.01 * (double)d;
        interp_set_f64(&it, k, keys, err);
        CHECK(interp_run(&it, err) == 0, "step %d: %s", s, err);
        for (int64_t i = 0; i < N; i++)
            for (int64_t d = 0; d < D; d++) want[axis ? d * K + ptr + i : (ptr + i) * D + d] = keys[i * D + d];
        ptr = (ptr + N) % K;
        interp_get_f64(&it, q, got, err);
        for (int64_t j = 0; j < nqe; j++)
            CHECK(fabs(got[j] - want[j]) <= (f64 ? 0 : 1e-6 * (1 + fabs(want[j]))), "axis %d step %d: queue[%lld] = %g, want %g",
                  axis, s, (long long)j, got[j], want[j]);
        int64_t pv = *(const int64_t *)interp_data(&it, p);
        CHECK(pv == ptr, "axis %d step %d: pointer %lld, want %lld", axis, s, (long long)pv, (long long)ptr);
    }
    free(want), free(got), free(keys);
    interp_free(&it);
    ir_graph_free(&g);
    return 0;
}

/* build-time errors: one clear message each */
static int queue_build_errors(void) {
    struct {
        ir_shape q, k;
        ir_dtype pdt;
        int axis;
        const char *msg;
    } cases[] = {
        {IR_SHAPE(3, 4), IR_SHAPE(8, 3), DT_I64, 1, "do not fit"},
        {IR_SHAPE(3, 8), IR_SHAPE(2, 4), DT_I64, 1, "features"},
        {IR_SHAPE(3, 8), IR_SHAPE(2, 3), DT_F32, 1, "pointer"},
        {IR_SHAPE(3, 8), IR_SHAPE(2, 3), DT_I64, 2, "axis"},
        {IR_SHAPE(3, 8, 1), IR_SHAPE(2, 3), DT_I64, 1, "2-D"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ir_graph g;
        ir_graph_init(&g);
        int q = ir_state(&g, "queue", DT_F32, cases[c].q, ir_init_const(0));
        int k = ir_input(&g, "keys", DT_F32, cases[c].k);
        int p = ir_state(&g, "queue_ptr", cases[c].pdt, IR_SHAPE(1), ir_init_const(0));
        int np = 0;
        CHECK(ir_queue_write(&g, q, k, p, cases[c].axis, &np) < 0 && np == -1 && g.failed, "case %zu accepted", c);
        CHECK(strstr(g.err, "QueueWrite") && strstr(g.err, cases[c].msg), "case %zu: '%s' lacks '%s'", c, g.err,
              cases[c].msg);
        ir_graph_free(&g);
    }
    return 0;
}

/* a pointer that would write past the end fails the run with a message, never writes out of bounds */
static int queue_bad_pointer(void) {
    ir_graph g;
    ir_graph_init(&g);
    int q = ir_state(&g, "queue", DT_F32, IR_SHAPE(2, 8), ir_init_const(0));
    int k = ir_input(&g, "keys", DT_F32, IR_SHAPE(3, 2));
    int p = ir_state(&g, "queue_ptr", DT_I64, IR_SHAPE(1), ir_init_const(6));
    int np, nq = ir_queue_write(&g, q, k, p, 1, &np);
    CHECK(nq >= 0, "%s", g.err);
    ir_add_output(&g, nq);
    char err[IR_ERRLEN];
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 1, err) == 0, "%s", err);
    CHECK(interp_run(&it, err) != 0 && strstr(err, "QueueWrite") && strstr(err, "outside"), "pointer 6 + 3 > 8: %s", err);
    *(int64_t *)interp_data(&it, p) = -1;
    CHECK(interp_run(&it, err) != 0 && strstr(err, "QueueWrite"), "negative pointer accepted");
    interp_free(&it);
    ir_graph_free(&g);
    return 0;
}

static int queue_write_f(void) {
    for (int f64 = 0; f64 < 2; f64++) {
        /* PySSL layout [D, K], K = 2N: 0 -> 4 -> 0 -> 4 ...; and a mid-queue start */
        if (queue_run(1, 3, 8, 4, 0, 4, f64) || queue_run(1, 5, 12, 4, 8, 5, f64)) return 1;
        /* row layout [K, D] */
        if (queue_run(0, 3, 6, 3, 3, 3, f64) || queue_run(0, 2, 4, 4, 0, 2, f64)) return 1;
    }
    return queue_build_errors() || queue_bad_pointer();
}

OPTEST_FAMILY(queue) = {{"QueueWrite", queue_write_f, NULL}, {NULL, NULL, NULL}};
