/* Device library ops (runtime/devops.h): every op with a device kernel, on every case below,
 * gives through the kernels' C twins exactly the bytes of the op table's reference kernel (the
 * twins are what the driver stand-in runs, so the cuda backend's CI test can be bit-identical
 * to the cpu backend); every op that a compiled step leaves as a library call and no GPU
 * library runs has a device kernel; and the kernels' CUDA source compiles with NVRTC for sm_80
 * and sm_90 where NVRTC is installed. */
#include <stdlib.h>
#include <string.h>

#include "codegen/nvrtc.h"
#include "ir/builder.h"
#include "optest.h"
#include "runtime/devops.h"
#include "runtime/interp.h"

/* a case: builds a graph whose node `*node` is the op under test, on inputs the harness fills */
typedef struct {
    const char *label;
    int (*build)(ir_graph *g, int *node);
} devop_case;

/* ---- cases (one or more per op; each family adds its own) ---- */

static int cast_case(ir_graph *g, int *node, ir_dtype from, ir_dtype to) {
    int x = ir_input(g, "x", from, IR_SHAPE(3, 5, 7));
    int y = ir_cast(g, x, to);
    if (y < 0) return -1;
    ir_add_output(g, y);
    *node = g->nnodes - 1;
    return 0;
}
static int cast_f32_i64(ir_graph *g, int *node) { return cast_case(g, node, DT_F32, DT_I64); }
static int cast_f32_u8(ir_graph *g, int *node) { return cast_case(g, node, DT_F32, DT_U8); }
static int cast_i64_f32(ir_graph *g, int *node) { return cast_case(g, node, DT_I64, DT_F32); }
static int cast_bool_i32(ir_graph *g, int *node) { return cast_case(g, node, DT_BOOL, DT_I32); }
static int cast_u8_bool(ir_graph *g, int *node) { return cast_case(g, node, DT_U8, DT_BOOL); }

static const devop_case cases[] = {
    {"Cast f32->i64", cast_f32_i64}, {"Cast f32->u8", cast_f32_u8},   {"Cast i64->f32", cast_i64_f32},
    {"Cast bool->i32", cast_bool_i32}, {"Cast u8->bool", cast_u8_bool},
};

/* ---- harness ---- */

/* inputs: floats in [-300, 300] with a few exact integers, NaN and infinities (casts, clamps),
 * integers in [-5, 300], booleans 0/1 */
static void fill(ref_tensor *t, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < t->numel; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        double f = -300 + 600 * u;
        if (i % 17 == 3) f = (double)(int64_t)f;
        if (i == 5) f = NAN;
        if (i == 6) f = INFINITY;
        if (i == 7) f = -INFINITY;
        int64_t k = (int64_t)(u * 306) - 5;
        switch (t->dtype) {
        case DT_F32: ((float *)t->data)[i] = (float)f; break;
        case DT_F64: ((double *)t->data)[i] = f; break;
        case DT_I32: ((int32_t *)t->data)[i] = (int32_t)k; break;
        case DT_I64: ((int64_t *)t->data)[i] = k; break;
        case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)(k & 255); break;
        default: ((uint8_t *)t->data)[i] = (uint8_t)(k & 1); break;
        }
    }
}

static size_t bytes_of(const ref_tensor *t) { return (size_t)t->numel * ir_dtype_size(t->dtype); }

static int run_case(const devop_case *dc, unsigned char *covered) {
    ir_graph g;
    ir_graph_init(&g);
    int node = -1;
    char err[IR_ERRLEN];
    CHECK(dc->build(&g, &node) == 0 && !g.failed && node >= 0, "%s: building: %s", dc->label, g.err);
    const ir_node *n = &g.nodes[node];
    const devop_def *d = devop_find(n->op);
    CHECK(d, "%s: %s has no device kernel", dc->label, ir_optable[n->op]->name);
    covered[n->op] = 1;
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0, "%s: %s", dc->label, err);
    it.keep_all = 1;
    for (int v = 0; v < g.nvals; v++)
        if (g.vals[v].kind == VK_INPUT || g.vals[v].kind == VK_PARAM || g.vals[v].kind == VK_STATE)
            fill(&it.t[v], (uint64_t)v + 11);
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    /* the node's inputs as they are before it runs (state it updates in place included) */
    void *saved[IR_MAX_IN] = {0};
    for (int k = 0; k < n->nin; k++) {
        const ref_tensor *t = &it.t[n->in[k]];
        if (!t->data) continue; /* computed by an earlier node: copied after the run */
        saved[k] = malloc(bytes_of(t) + 1);
        memcpy(saved[k], t->data, bytes_of(t));
    }
    CHECK(interp_run(&it, err) == 0, "%s: reference: %s", dc->label, err);
    for (int k = 0; k < n->nin; k++) {
        c.in[k] = it.t[n->in[k]];
        c.in[k].data = malloc(bytes_of(&c.in[k]) + 1);
        memcpy(c.in[k].data, saved[k] ? saved[k] : it.t[n->in[k]].data, bytes_of(&c.in[k]));
    }
    for (int k = 0; k < n->nout; k++) {
        c.out[k] = it.t[n->out[k]];
        c.out[k].data = malloc(bytes_of(&c.out[k]) + 1);
        memset(c.out[k].data, 0xA5, bytes_of(&c.out[k])); /* unwritten bytes show */
    }
    int64_t ws_bytes = d->scratch ? d->scratch(&c) : 0;
    void *ws = ws_bytes ? aligned_alloc(64, (size_t)(ws_bytes + 63) / 64 * 64) : NULL;
    int rc = devop_run_twins(&c, ws, err);
    int bad = rc != 0;
    if (rc) fprintf(stderr, "FAIL %s: twins: %s\n", dc->label, err);
    for (int k = 0; k < n->nout && !rc; k++)
        if (memcmp(c.out[k].data, it.t[n->out[k]].data, bytes_of(&c.out[k]))) {
            fprintf(stderr, "FAIL %s: output %d differs from the reference kernel\n", dc->label, k);
            bad = 1;
        }
    /* ops that update an input in place (QueueWrite) compare that input too */
    for (int k = 0; k < n->nin && !rc; k++)
        if (saved[k] && memcmp(c.in[k].data, it.t[n->in[k]].data, bytes_of(&c.in[k])) &&
            memcmp(saved[k], it.t[n->in[k]].data, bytes_of(&c.in[k]))) {
            fprintf(stderr, "FAIL %s: input %d (updated in place) differs from the reference\n", dc->label, k);
            bad = 1;
        }
    if (!bad) printf("ok   %-40s %s, %d output(s) bit-identical\n", dc->label, ir_optable[n->op]->name, n->nout);
    for (int k = 0; k < n->nin; k++) free(c.in[k].data), free(saved[k]);
    for (int k = 0; k < n->nout; k++) free(c.out[k].data);
    free(ws);
    interp_free(&it);
    ir_graph_free(&g);
    return bad;
}

int main(void) {
    int fails = 0;
    unsigned char covered[OP__COUNT] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) fails += run_case(&cases[i], covered);
    for (int op = 0; op < OP__COUNT; op++)
        if (devop_find(op) && !covered[op]) {
            fprintf(stderr, "FAIL %s has a device kernel but no case here\n", ir_optable[op]->name);
            fails++;
        }
    int major, minor;
    char err[IR_ERRLEN];
    if (nvrtc_available(&major, &minor, err)) {
        printf("skip NVRTC compile of the device kernels: %s\n", err);
    } else {
        for (int arch = 80; arch <= 90; arch += 10) {
            void *cubin = NULL;
            size_t size = 0;
            if (nvrtc_compile(devop_cuda_source(), arch, &cubin, &size, err)) {
                fprintf(stderr, "FAIL the device kernels do not compile for sm_%d: %s\n", arch, err);
                fails++;
            } else
                printf("ok   device kernels compile for sm_%d (%zu bytes of CUBIN)\n", arch, size);
            free(cubin);
        }
    }
    printf(fails ? "test_devops: %d FAILED\n" : "test_devops: all passed\n", fails);
    return fails != 0;
}
