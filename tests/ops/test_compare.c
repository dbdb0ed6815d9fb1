/* Equal and Cast: forward against plain C in float32 and float64 storage (broadcasting, integer,
 * bool and float inputs, truncation and saturation), refusal of bad dtypes, and the FD gradient
 * of float-to-float casts. */
#include "cnn_testutil.h"
#include "passes/autodiff.h"

#include <stdint.h>

/* Runs g (f32 or f64 storage) and returns a malloc'd copy of value v's raw storage bytes. */
static void *run_raw(ir_graph *g, int f64, int v, ir_dtype *storage) {
    char err[IR_ERRLEN] = {0};
    interp it;
    ir_add_output(g, v);
    if (interp_init(&it, g, f64, err) || init_persistent(&it, 1234, err) || interp_run(&it, err)) {
        fprintf(stderr, "FAIL run: %s\n", err);
        return NULL;
    }
    size_t bytes = (size_t)it.t[v].numel * ir_dtype_size(it.t[v].dtype);
    void *out = malloc(bytes + 8);
    memcpy(out, interp_data(&it, v), bytes);
    *storage = it.t[v].dtype;
    interp_free(&it);
    return out;
}

static int cast_bf16_f(void);

static int equal_f(void) {
    for (int f64 = 0; f64 < 2; f64++) {
        /* i64 labels [4,1] vs [1,4]: the SupCon mask */
        ir_graph g;
        ir_graph_init(&g);
        int64_t lab[4] = {3, -1, 3, 1LL << 40};
        int a = ir_reshape(&g, ir_const(&g, DT_I64, IR_SHAPE(4), lab), IR_SHAPE(4, 1));
        int b = ir_reshape(&g, ir_const(&g, DT_I64, IR_SHAPE(4), lab), IR_SHAPE(1, 4));
        int e = ir_equal(&g, a, b);
        CHECK(e >= 0 && g.vals[e].dtype == DT_BOOL && g.vals[e].shape.ndim == 2 && g.vals[e].shape.d[0] == 4 &&
                  g.vals[e].shape.d[1] == 4,
              "Equal i64: %s", g.err);
        ir_dtype st;
        uint8_t *y = run_raw(&g, f64, e, &st);
        CHECK(y && st == DT_BOOL, "Equal i64 run");
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                CHECK(y[i * 4 + j] == (lab[i] == lab[j]), "Equal i64 [%d,%d] = %d", i, j, y[i * 4 + j]);
        free(y);
        ir_graph_free(&g);

        /* floats: -0 == 0, NaN != NaN, broadcasting of a scalar-like [1] */
        ir_graph_init(&g);
        float xf[5] = {0.0f, -0.0f, NAN, 1.5f, -2.0f}, yf[1] = {0.0f};
        int x = ir_const(&g, DT_F32, IR_SHAPE(5), xf), z = ir_const(&g, DT_F32, IR_SHAPE(1), yf);
        e = ir_equal(&g, x, z);
        int self = ir_equal(&g, x, x);
        int both = ir_concat(&g, (int[]){e, self}, 2, 0);
        CHECK(both >= 0, "Equal f32: %s", g.err);
        y = run_raw(&g, f64, both, &st);
        CHECK(y, "Equal f32 run");
        const uint8_t want[10] = {1, 1, 0, 0, 0, 1, 1, 0, 1, 1};
        for (int i = 0; i < 10; i++) CHECK(y[i] == want[i], "Equal f32 (%s) element %d = %d", f64 ? "f64" : "f32", i, y[i]);
        free(y);
        ir_graph_free(&g);
    }
    /* refusals: mixed dtypes, shapes that do not broadcast */
    ir_graph g;
    ir_graph_init(&g);
    int i64 = ir_input(&g, "a", DT_I64, IR_SHAPE(3)), f32 = ir_input(&g, "b", DT_F32, IR_SHAPE(3));
    CHECK(ir_equal(&g, i64, f32) < 0 && strstr(g.err, "dtype"), "mixed dtypes accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    int p = ir_input(&g, "a", DT_I64, IR_SHAPE(3)), q = ir_input(&g, "b", DT_I64, IR_SHAPE(4));
    CHECK(ir_equal(&g, p, q) < 0 && strstr(g.err, "broadcast"), "[3] == [4] accepted: %s", g.err);
    ir_graph_free(&g);
    return 0;
}

static int cast_f(void) {
    for (int f64 = 0; f64 < 2; f64++) {
        ir_graph g;
        ir_graph_init(&g);
        float xf[8] = {1.75f, -1.75f, 0.0f, -0.5f, 3e9f, -3e9f, NAN, 255.5f};
        int64_t xi[4] = {-3, 0, 7, (1LL << 53) + 1};
        uint8_t xb[3] = {0, 1, 1};
        int x = ir_const(&g, DT_F32, IR_SHAPE(8), xf);
        int to_i64 = ir_cast(&g, x, DT_I64), to_i32 = ir_cast(&g, x, DT_I32), to_u8 = ir_cast(&g, x, DT_U8);
        int to_b = ir_cast(&g, x, DT_BOOL), to_f64 = ir_cast(&g, x, DT_F64);
        int i = ir_const(&g, DT_I64, IR_SHAPE(4), xi);
        int i_f = ir_cast(&g, i, DT_F32), i_i32 = ir_cast(&g, i, DT_I32);
        int b = ir_const(&g, DT_BOOL, IR_SHAPE(3), xb);
        int b_f = ir_cast(&g, b, DT_F32), b_i = ir_cast(&g, b, DT_I64);
        CHECK(!g.failed && g.vals[to_i64].dtype == DT_I64 && g.vals[to_b].dtype == DT_BOOL &&
                  g.vals[to_f64].dtype == DT_F64 && g.vals[i_f].dtype == DT_F32,
              "Cast build: %s", g.err);
        int outs[] = {to_i64, to_i32, to_u8, to_b, to_f64, i_f, i_i32, b_f, b_i};
        for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) ir_add_output(&g, outs[k]);
        char err[IR_ERRLEN];
        interp it;
        CHECK(interp_init(&it, &g, f64, err) == 0 && interp_run(&it, err) == 0, "%s", err);
        const int64_t *r64 = interp_data(&it, to_i64), *rb_i = interp_data(&it, b_i);
        const int32_t *r32 = interp_data(&it, to_i32), *ri32 = interp_data(&it, i_i32);
        const uint8_t *ru8 = interp_data(&it, to_u8), *rb = interp_data(&it, to_b);
        const int64_t w64[8] = {1, -1, 0, 0, 3000000000LL, -3000000000LL, 0, 255};
        const int32_t w32[8] = {1, -1, 0, 0, INT32_MAX, INT32_MIN, 0, 255};
        const uint8_t wu8[8] = {1, 0, 0, 0, 255, 0, 0, 255}, wb[8] = {1, 1, 0, 1, 1, 1, 1, 1};
        for (int k = 0; k < 8; k++) {
            CHECK(r64[k] == w64[k], "f32->i64 [%d] = %lld", k, (long long)r64[k]);
            CHECK(r32[k] == w32[k], "f32->i32 [%d] = %d", k, r32[k]);
            CHECK(ru8[k] == wu8[k], "f32->u8 [%d] = %d", k, ru8[k]);
            CHECK(rb[k] == wb[k], "f32->bool [%d] = %d", k, rb[k]);
        }
        double d[8], fi[4], fb[3];
        CHECK(interp_get_f64(&it, to_f64, d, err) == 0 && interp_get_f64(&it, i_f, fi, err) == 0 &&
                  interp_get_f64(&it, b_f, fb, err) == 0,
              "%s", err);
        for (int k = 0; k < 8; k++) CHECK(isnan(xf[k]) ? isnan(d[k]) : d[k] == (double)xf[k], "f32->f64 [%d]", k);
        for (int k = 0; k < 4; k++) {
            /* in float32 storage the integer rounds to float */
            double w = f64 ? (double)xi[k] : (double)(float)xi[k];
            CHECK(fi[k] == w, "i64->f32 [%d] = %.17g, want %.17g", k, fi[k], w);
            CHECK(ri32[k] == (int32_t)xi[k], "i64->i32 [%d]", k);
        }
        for (int k = 0; k < 3; k++) CHECK(fb[k] == xb[k] && rb_i[k] == xb[k], "bool cast [%d]", k);
        interp_free(&it);
        ir_graph_free(&g);
    }
    /* refusals: unsupported type code or dtype */
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(2));
    int n = ir_node_new(&g, OP_Cast, &x, 1);
    ir_set_i(&g, n, "to", 99);
    CHECK(ir_node_finish(&g, n) < 0 && strstr(g.err, "99"), "Cast to code 99 accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(2));
    CHECK(ir_cast(&g, x, DT_F16) < 0 && strstr(g.err, "f16"), "Cast to f16 accepted: %s", g.err);
    ir_graph_free(&g);
    return cast_bf16_f();
}

/* Cast to bf16 rounds to nearest even (ties included), keeps signs, infinities and NaN, and is
 * stored as 2-byte bfloat16 in both interpreters; a product of bf16 operands is float32 and
 * equals the product of the rounded values (float32 accumulation). */
static int cast_bf16_f(void) {
    const float h = 1.0f / 256; /* half a bf16 ulp at 1 */
    float xf[8] = {1.0f, 1 + h, 1 + 3 * h, 1 + h + 1.0f / (1 << 20), -3.0f, INFINITY, NAN, -0x1.03p-100f};
    float want[8] = {1.0f, 1.0f, 1 + 4 * h, 1 + 2 * h, -3.0f, INFINITY, NAN, -0x1.04p-100f};
    for (int f64 = 0; f64 < 2; f64++) {
        ir_graph g;
        ir_graph_init(&g);
        int x = ir_const(&g, DT_F32, IR_SHAPE(8), xf);
        int b = ir_cast(&g, x, DT_BF16), back = ir_cast(&g, b, DT_F32);
        CHECK(b >= 0 && back >= 0 && g.vals[b].dtype == DT_BF16, "Cast to bf16: %s", g.err);
        ir_dtype st;
        uint16_t *raw = run_raw(&g, f64, b, &st);
        CHECK(raw && st == DT_BF16, "bf16 storage is %s", raw ? ir_dtype_name(st) : "?");
        ir_graph_free(&g);
        for (int k = 0; k < 8; k++) {
            float r = ir_f32_from_bf16(raw[k]);
            CHECK(isnan(want[k]) ? isnan(r) : r == want[k], "f32 %.9g -> bf16 %.9g, want %.9g (%s)", xf[k], r,
                  want[k], f64 ? "f64" : "f32");
        }
        free(raw);
        /* MatMul [1,3] x [3,1] on bf16 operands: float32 result of the rounded operands */
        ir_graph_init(&g);
        float a[3] = {1 + h, 1 + 3 * h, -2.0f}, c[3] = {3.0f, 1 + h + 1.0f / (1 << 20), 0.5f};
        int ma = ir_cast(&g, ir_const(&g, DT_F32, IR_SHAPE(1, 3), a), DT_BF16);
        int mc = ir_cast(&g, ir_const(&g, DT_F32, IR_SHAPE(3, 1), c), DT_BF16);
        int y = ir_matmul(&g, ma, mc);
        CHECK(y >= 0 && g.vals[y].dtype == DT_F32, "MatMul of bf16 operands: %s %s", g.err,
              y >= 0 ? ir_dtype_name(g.vals[y].dtype) : "");
        ir_dtype sy;
        float *ry = run_raw(&g, f64, y, &sy);
        double w = 1.0 * 3.0 + (1 + 4 * h) * (1 + 2 * h) + -2.0 * 0.5, got = !ry ? NAN : f64 ? ((double *)ry)[0] : ry[0];
        CHECK(ry && sy == (f64 ? DT_F64 : DT_F32) && got == (f64 ? w : (double)(float)w), "bf16 MatMul = %.17g, want %.17g",
              got, w);
        free(ry);
        ir_graph_free(&g);
        ir_graph_init(&g);
        ma = ir_cast(&g, ir_const(&g, DT_F32, IR_SHAPE(1, 3), a), DT_BF16);
        CHECK(ir_matmul(&g, ma, ir_const(&g, DT_F32, IR_SHAPE(3, 1), c)) < 0 && strstr(g.err, "one dtype"),
              "MatMul bf16 x f32 accepted: %s", g.err);
        ir_graph_free(&g);
    }
    return 0;
}

/* d/dx of Cast(Cast(x, bf16), f32) goes straight through the rounding, as every float-to-float
 * cast; the gradient is cast back at each step, so it passes through bf16 (rounded there) */
static int cast_bf16_g(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(4), ir_init_uniform(-2, 2), 0);
    float cw[4] = {0.5f, -1.25f, 3.0f, 1e-3f};
    int cv = ir_const(&g, DT_F32, IR_SHAPE(4), cw);
    int loss = ir_reduce_sum(&g, ir_mul(&g, ir_cast(&g, ir_cast(&g, x, DT_BF16), DT_F32), cv), NULL, 0, 0);
    int gx = -1;
    CHECK(loss >= 0 && autodiff(&g, loss, &x, 1, &gx) == 0 && gx >= 0, "bf16 cast gradient: %s", g.err);
    ir_dtype st;
    float *r = run_raw(&g, 0, gx, &st);
    CHECK(r && st == DT_F32, "gradient storage");
    for (int k = 0; k < 4; k++) {
        float w = ir_f32_from_bf16(ir_bf16_from_f32(cw[k])); /* 1e-3 -> 0.00099945068 */
        CHECK(r[k] == w, "d/dx[%d] = %.9g, want %.9g", k, r[k], w);
    }
    free(r);
    ir_graph_free(&g);
    return 0;
}

/* d/dx of Cast(Cast(x, f64), f32) and of Cast(x, f32) is the identity */
static int build_cast_chain(ir_graph *g, void *ctx) {
    (void)ctx;
    int x = ir_param(g, "x", IR_SHAPE(3, 4), ir_init_uniform(-2, 2), 0);
    int y = ir_param(g, "y", IR_SHAPE(3, 4), ir_init_uniform(-2, 2), 0);
    int a = ir_cast(g, ir_cast(g, x, DT_F64), DT_F32);
    return ir_mul(g, ir_mul(g, a, a), ir_cast(g, y, DT_F32));
}

static int cast_g(void) {
    if (gradcheck("Cast f32->f64->f32", build_cast_chain, NULL, 1e-6) || cast_bf16_g()) return 1;
    /* no gradient through an integer cast: x only reaches the loss through Cast(x, i64) */
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(3), ir_init_uniform(-2, 2), 0);
    int loss = ir_reduce_sum(&g, ir_cast(&g, ir_cast(&g, x, DT_I64), DT_F32), NULL, 0, 0);
    int gx = -2;
    CHECK(loss >= 0 && autodiff(&g, loss, &x, 1, &gx) == 0 && gx < 0, "integer cast gave a gradient (%d): %s", gx,
          g.err);
    ir_graph_free(&g);
    return 0;
}

OPTEST_FAMILY(compare) = {{"Equal", equal_f, NULL}, {"Cast", cast_f, cast_g}, {NULL, NULL, NULL}};
