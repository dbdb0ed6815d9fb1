/* The exporter on a graph that uses every IR op of its table (the ops a ResNet or ConvNet does
 * not: Pad, Expand, Reshape/Transpose/MatMul with a batch-dependent shape, Softmax,
 * reductions, Gelu, Pow, Max, Slice, Concat...).
 *
 *   test_onnx_opsexport          exports it (opsets 13 and 17, with and without BatchNorm folding)
 *                               and checks the model's op set and its dynamic batch
 *   test_onnx_opsexport dump DIR writes DIR/ops.onnx and DIR/ops.safetensors (images [5,3,8,8]
 *                               and the interpreter's features): tests/oracle/onnx_oracle.py
 *                               runs ONNX Runtime on them */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/onnx.h"
#include "onnx.pb-c.h"
#include "optest.h"
#include "runtime/fileio.h"
#include "runtime/init.h"
#include "runtime/interp.h"
#include "runtime/safetensors.h"

static int build(ir_graph *g, int64_t B) {
    int x = ir_input(g, "images", DT_F32, IR_SHAPE(B, 3, 8, 8));
    int w = ir_param(g, "conv.weight", IR_SHAPE(4, 3, 3, 3), ir_init_normal(0, 0.3), 0);
    int cb = ir_param(g, "conv.bias", IR_SHAPE(4), ir_init_uniform(-0.2, 0.2), 0);
    int c = ir_conv(g, x, w, cb, 1, 1, 1);
    int sc = ir_param(g, "bn.weight", IR_SHAPE(4), ir_init_uniform(0.5, 1.5), 0);
    int bi = ir_param(g, "bn.bias", IR_SHAPE(4), ir_init_uniform(-0.2, 0.2), 0);
    int rm = ir_state(g, "bn.running_mean", DT_F32, IR_SHAPE(4), ir_init_uniform(-0.3, 0.3));
    int rv = ir_state(g, "bn.running_var", DT_F32, IR_SHAPE(4), ir_init_uniform(0.5, 2.0));
    int bn = ir_batchnorm(g, c, sc, bi, rm, rv, 1e-5, 0.1, 0, NULL, NULL);
    int mp = ir_maxpool(g, ir_relu(g, bn), 2, 2, 0);                                           /* [B,4,4,4] */
    int pd = ir_pad(g, mp, (int64_t[]){0, 0, 1, 0}, (int64_t[]){0, 0, 1, 2});                  /* [B,4,6,6] */
    int f1 = ir_flatten(g, ir_global_avg_pool(g, pd), 1);                                      /* [B,4] */
    int r = ir_reshape(g, mp, IR_SHAPE(B, 4, 16));                                             /* batch-dependent */
    int t = ir_transpose(g, r, (int64_t[]){0, 2, 1}, 3);                                       /* [B,16,4] */
    int mm = ir_matmul(g, t, ir_param(g, "mm", IR_SHAPE(4, 6), ir_init_normal(0, 0.5), 0));   /* [B,16,6] */
    int rs = ir_reduce_sum(g, ir_softmax(g, mm, -1), (int64_t[]){1}, 1, 0);                   /* [B,6] */
    int rmn = ir_reduce_mean(g, ir_log_softmax(g, mm, 1), (int64_t[]){1}, 1, 0);              /* [B,6] */
    int rx = ir_reduce_max(g, mm, (int64_t[]){1}, 1, 0);                                       /* [B,6] */
    int e = ir_exp(g, ir_neg(g, rmn));
    int l = ir_log(g, ir_add_scalar(g, ir_sqrt(g, ir_mul(g, rs, rs)), 1.0));
    int p = ir_pow(g, ir_add_scalar(g, ir_relu(g, rx), 1.0), ir_scalar(g, 1.5));
    int d = ir_div(g, ir_sub(g, ir_max(g, e, l), p), ir_add_scalar(g, e, 1.0));
    int id = ir_identity(g, ir_stop_gradient(g, ir_gelu(g, d)));                               /* [B,6] */
    int ex = ir_expand(g, ir_reduce_mean(g, f1, (int64_t[]){1}, 1, 1), IR_SHAPE(B, 6));        /* [B,6] */
    int cat = ir_concat(g, (int[]){id, ex, f1}, 3, 1);                                          /* [B,16] */
    int sl = ir_slice(g, cat, 1, 2, 14);                                                       /* [B,12] */
    int fc = ir_param(g, "fc.weight", IR_SHAPE(5, 12), ir_init_normal(0, 0.3), 0);
    int fb = ir_param(g, "fc.bias", IR_SHAPE(5), ir_init_normal(0, 0.1), 0);
    int y = ir_gemm(g, sl, fc, fb, 0, 1, 1.0, 1.0);                                            /* [B,5] */
    if (y >= 0) ir_add_output(g, y);
    return g->failed ? -1 : y;
}

/* exports the graph (weights from init seed 3); returns 0 */
static int export_to(const char *path, int opset, int fold, ir_graph *g2, interp *it) {
    ir_graph g3;
    char err[IR_ERRLEN];
    ir_graph_init(g2);
    ir_graph_init(&g3);
    CHECK(build(g2, 2) >= 0 && build(&g3, 3) >= 0, "build: %s", g2->failed ? g2->err : g3.err);
    CHECK(interp_init(it, g2, 0, err) == 0 && init_persistent(it, 3, err) == 0, "%s", err);
    const float **w = calloc((size_t)g2->nvals, sizeof *w);
    for (int v = 0; v < g2->nvals; v++)
        if (g2->vals[v].kind == VK_PARAM || g2->vals[v].kind == VK_STATE) w[v] = interp_data(it, v);
    onnx_export_opts o = {.opset = opset, .fold_bn = fold, .doc = "test"};
    const char *names[1] = {"features"};
    int rc = onnx_export(g2, &g3, (const float *const *)w, names, &o, path, err);
    free(w);
    ir_graph_free(&g3);
    CHECK(rc == 0, "export: %s", err);
    return 0;
}

static int has_op(const Onnx__GraphProto *gp, const char *op) {
    for (size_t i = 0; i < gp->n_node; i++)
        if (!strcmp(gp->node[i]->op_type, op)) return 1;
    return 0;
}

static int self_test(void) {
    char dir[] = "/tmp/sslc_onnx_export_XXXXXX", path[128], err[IR_ERRLEN];
    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/ops.onnx", dir);
    for (int opset = 13; opset <= 17; opset += 4)
        for (int fold = 0; fold < 2; fold++) {
            ir_graph g;
            interp it;
            if (export_to(path, opset, fold, &g, &it)) return 1;
            interp_free(&it);
            ir_graph_free(&g);
            unsigned char *buf;
            size_t len;
            CHECK(sslc_read_file(path, 1 << 24, &buf, &len, err) == 0, "%s", err);
            Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
            free(buf);
            CHECK(mp && mp->graph && mp->n_opset_import == 1 && mp->opset_import[0]->version == opset, "opset");
            const Onnx__GraphProto *gp = mp->graph;
            static const char *ops[] = {"Conv", "MaxPool", "Pad", "GlobalAveragePool", "Flatten", "Reshape", "Transpose",
                                        "MatMul", "Softmax", "LogSoftmax", "ReduceSum", "ReduceMean", "ReduceMax",
                                        "Exp", "Neg", "Log", "Sqrt", "Mul", "Add", "Pow", "Max", "Sub", "Div", "Erf",
                                        "Identity", "Expand", "Concat", "Slice", "Gemm", "Shape", "Relu"};
            for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) CHECK(has_op(gp, ops[k]), "no %s node", ops[k]);
            CHECK(has_op(gp, "BatchNormalization") == !fold, "BatchNorm folding (fold=%d)", fold);
            const Onnx__TensorShapeProto *s = gp->input[0]->type->tensor_type->shape;
            CHECK(s->n_dim == 4 && s->dim[0]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                      !strcmp(s->dim[0]->dim_param, "N") && s->dim[1]->dim_value == 3,
                  "input type");
            size_t nn = gp->n_node;
            onnx__model_proto__free_unpacked(mp, NULL);
            printf("ok   opset %d fold_bn %d: %zu nodes, every op of the table exported\n", opset, fold, nn);
        }
    /* a graph the exporter must refuse: a training-mode BatchNorm */
    ir_graph g, g3;
    ir_graph_init(&g);
    ir_graph_init(&g3);
    for (int k = 0; k < 2; k++) {
        ir_graph *h = k ? &g3 : &g;
        int x = ir_input(h, "images", DT_F32, IR_SHAPE(2 + k, 2, 4, 4));
        int nm, nv;
        int y = ir_batchnorm(h, x, -1, -1, ir_state(h, "m", DT_F32, IR_SHAPE(2), ir_init_const(0)),
                             ir_state(h, "v", DT_F32, IR_SHAPE(2), ir_init_const(1)), 1e-5, 0.1, 1, &nm, &nv);
        ir_add_output(h, ir_flatten(h, y, 1));
    }
    float ones[2] = {1, 1};
    const float *w[16] = {0};
    for (int v = 0; v < g.nvals && v < 16; v++) w[v] = ones;
    onnx_export_opts o = {.opset = 17};
    const char *names[1] = {"features"};
    CHECK(onnx_export(&g, &g3, w, names, &o, path, err) != 0 && strstr(err, "training-mode BatchNormalization"),
          "training-mode BatchNorm exported: %s", err);
    printf("ok   refused: %s\n", err);
    ir_graph_free(&g);
    ir_graph_free(&g3);
    unlink(path);
    rmdir(dir);
    return 0;
}

static int dump(const char *dir) {
    char path[512], err[IR_ERRLEN];
    ir_graph g, g5;
    interp it, it5;
    snprintf(path, sizeof path, "%s/ops.onnx", dir);
    if (export_to(path, 17, 0, &g, &it)) return 1;
    /* the same graph at batch 5 with the same weights, run by the interpreter */
    ir_graph_init(&g5);
    CHECK(build(&g5, 5) >= 0, "%s", g5.err);
    CHECK(interp_init(&it5, &g5, 0, err) == 0 && init_persistent(&it5, 3, err) == 0, "%s", err);
    int x = ir_find_value(&g5, "images");
    int64_t n = ir_numel(&g5.vals[x].shape);
    float *xs = malloc((size_t)n * sizeof(float));
    test_fill_uniform(xs, n, -2, 2, 99);
    CHECK(interp_set_f32(&it5, x, xs, err) == 0 && interp_run(&it5, err) == 0, "%s", err);
    st_table t;
    st_init(&t);
    const ref_tensor *y = &it5.t[g5.outputs[0]];
    CHECK(st_add(&t, "images", ST_F32, 4, g5.vals[x].shape.d, xs, err) == 0 &&
              st_add(&t, "features", ST_F32, y->shape.ndim, y->shape.d, y->data, err) == 0,
          "%s", err);
    snprintf(path, sizeof path, "%s/ops.safetensors", dir);
    CHECK(st_write(&t, path, err) == 0, "%s", err);
    st_free(&t);
    free(xs);
    interp_free(&it5);
    interp_free(&it);
    ir_graph_free(&g5);
    ir_graph_free(&g);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "dump")) return dump(argv[2]);
    return self_test();
}
