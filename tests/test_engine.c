/* The backend interface through runtime/engine.h, the same checks on every host backend (ref,
 * ref in float64, cpu): data moves only through upload/download in the value's graph dtype
 * (wrong sizes and values without storage refused with a message), updates read the values
 * from before the update phase (two states swapped through each other), the float64 reference
 * keeps full precision, and the kinds that cannot run here are refused in one line. */
#include <stdlib.h>
#include <string.h>

#include "ir/builder.h"
#include "optest.h"
#include "runtime/engine.h"

/* states a, b [4], input x [4], counter n (int64 [1]):
 *   a <- b,  b <- a + x,  n <- n + x-independent constant 1
 * out = a * 2 is the graph's output. */
static int swap_graph(ir_graph *g) {
    ir_graph_init(g);
    ir_shape s = ir_shape_make(1, (int64_t[]){4});
    int a = ir_state(g, "a", DT_F32, s, ir_init_const(0));
    int b = ir_state(g, "b", DT_F32, s, ir_init_const(0));
    int x = ir_input(g, "x", DT_F32, s);
    int n = ir_state(g, "n", DT_I64, ir_shape_make(1, (int64_t[]){1}), ir_init_const(5));
    int sum = ir_add(g, a, x);
    int two = ir_scalar(g, 2.0);
    int out = ir_mul(g, a, two);
    if (g->failed || a < 0 || b < 0 || sum < 0 || out < 0 || n < 0) return -1;
    ir_set_name(g, out, "out");
    ir_add_output(g, out);
    ir_add_update(g, a, b);
    ir_add_update(g, b, sum);
    return 0;
}

static int check_backend(engine_kind kind, unsigned flags, const char *label) {
    ir_graph g;
    char err[IR_ERRLEN];
    CHECK(swap_graph(&g) == 0, "%s: building the graph", label);
    engine *e = engine_new(kind, flags, &g, NULL, 0, err);
    CHECK(e, "%s: %s", label, err);
    int a = engine_find(e, "a"), b = engine_find(e, "b"), x = engine_find(e, "x"), out = engine_find(e, "out");
    int n = engine_find(e, "n");
    CHECK(a >= 0 && b >= 0 && x >= 0 && out >= 0 && n >= 0, "%s: values lost by the backend", label);
    CHECK(engine_init_persistent(e, 1, err) == 0, "%s: %s", label, err);
    int64_t nv = 0;
    CHECK(engine_download(e, n, &nv, sizeof nv, err) == 0 && nv == 5, "%s: int64 state initialized to %lld (%s)",
          label, (long long)nv, err);
    const float av[4] = {1, 2, 3, 4}, bv[4] = {10, 20, 30, 40}, xv[4] = {0.5f, 0.25f, 0.125f, 1.0f / 3};
    CHECK(engine_upload(e, a, av, sizeof av, err) == 0 && engine_upload(e, b, bv, sizeof bv, err) == 0 &&
              engine_upload(e, x, xv, sizeof xv, err) == 0,
          "%s: upload: %s", label, err);
    /* the wrong size, a value id out of range */
    CHECK(engine_upload(e, a, av, 3 * sizeof(float), err) != 0 && strstr(err, "bytes"), "%s: short upload accepted (%s)",
          label, err);
    CHECK(engine_download(e, g.nvals + 7, (float[4]){0}, 4 * sizeof(float), err) != 0 && strstr(err, "storage"),
          "%s: download of a value that does not exist accepted (%s)", label, err);
    CHECK(engine_get_f32(e, n, (float[1]){0}, err) != 0, "%s: get_f32 of an int64 value accepted", label);
    CHECK(engine_run(e, err) == 0 && engine_sync(e, err) == 0, "%s: run: %s", label, err);
    float ga[4], gb[4], go[4];
    CHECK(engine_get_f32(e, a, ga, err) == 0 && engine_get_f32(e, b, gb, err) == 0 &&
              engine_get_f32(e, out, go, err) == 0,
          "%s: download: %s", label, err);
    for (int i = 0; i < 4; i++) {
        CHECK(ga[i] == bv[i], "%s: a[%d] = %g after a <- b, want the old b %g", label, i, ga[i], bv[i]);
        CHECK(gb[i] == av[i] + xv[i], "%s: b[%d] = %g after b <- a + x, want %g", label, i, gb[i], av[i] + xv[i]);
        CHECK(go[i] == 2 * av[i], "%s: out[%d] = %g, want %g", label, i, go[i], 2 * av[i]);
    }
    double d[4];
    CHECK(engine_download_f64(e, b, d, err) == 0, "%s: download_f64: %s", label, err);
    for (int i = 0; i < 4; i++) {
        /* float64 keeps a + x exact; float32 rounds it once */
        double want = engine_is_f64(e) ? (double)av[i] + (double)xv[i] : (double)(float)(av[i] + xv[i]);
        CHECK(d[i] == want, "%s: b[%d] at full precision %.17g, want %.17g", label, i, d[i], want);
    }
    printf("ok   %-8s upload/download contract, updates staged, full-precision download\n", label);
    engine_free(e);
    ir_graph_free(&g);
    return 0;
}

static int refusals(void) {
    ir_graph g;
    char err[IR_ERRLEN];
    engine_kind k;
    CHECK(swap_graph(&g) == 0, "building the graph");
    CHECK(!engine_new(ENGINE_CPU, ENGINE_F64, &g, NULL, 0, err) && strstr(err, "--device ref"),
          "float64 on the cpu backend accepted (%s)", err);
    CHECK(!engine_new(ENGINE_CUDA, 0, &g, NULL, 0, err) && strstr(err, "--device cuda: "), "cuda: %s", err);
    CHECK(!engine_new(ENGINE_CPU, ENGINE_TF32, &g, NULL, 0, err) && strstr(err, "--precision tf32 is for --device cuda"),
          "tf32 on the cpu backend accepted (%s)", err);
    unsigned fl = 0;
    CHECK(engine_precision_parse("tf32", &fl, err) == 0 && fl == ENGINE_TF32 && engine_precision_parse("f32", &fl, err) == 0 &&
              fl == 0 && engine_precision_parse("bf16", &fl, err) != 0 && strstr(err, "sslc compile/train --precision bf16") &&
              engine_precision_parse("f16", &fl, err) != 0 && strstr(err, "f32, tf32"),
          "--precision parsing (%s)", err);
    CHECK(engine_kind_parse("tpu", &k, err) != 0 && strstr(err, "cpu, cuda, ref"), "unknown device: %s", err);
    CHECK(engine_kind_parse("reference", &k, err) == 0 && k == ENGINE_REF && !strcmp(engine_kind_name(k), "ref"),
          "'reference' is ref");
    printf("ok   refusals: float64 off the reference backend, cuda without a GPU, unknown devices\n");
    ir_graph_free(&g);
    return 0;
}

int main(void) {
    char dir[] = "/tmp/sslc_engine_XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp");
    setenv("SSLC_CACHE_DIR", dir, 1);
    int fails = check_backend(ENGINE_REF, 0, "ref") + check_backend(ENGINE_REF, ENGINE_F64, "ref64") +
                check_backend(ENGINE_CPU, 0, "cpu") + refusals();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    printf(fails ? "test_engine: %d FAILED\n" : "test_engine: all passed\n", fails);
    return fails != 0;
}
