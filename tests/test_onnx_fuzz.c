/* Bounded fuzzing of the ONNX importer: mutated models (bytes, and protobuf fields: ops,
 * inputs, attributes, initializer shapes and types, graph inputs, outputs, opsets) must be
 * refused with one line, or import into a graph that builds in both modes and, when small, runs
 * in the reference interpreter; never a crash, a sanitizer report or a leak.
 *
 * Seeds: sslc exports (a ConvNet, a ResNet-18 with the ImageNet stem, a one-block ViT, a graph
 * of shape and reduction ops with a batch-dependent Reshape) and a hand-made model with the shape-arithmetic
 * ops torch.onnx.export writes (Shape, Gather, Unsqueeze, Concat, Cast, Constant...,
 * LayerNorm before opset 17 as arithmetic, and ViT's class token expanded with ConstantOfShape,
 * Equal and Where).
 *
 * SSLC_FUZZ_SECONDS (default 20) bounds the time; SSLC_FUZZ_SEED (default 1) seeds the
 * mutations; the run prints both with the outcome counts. SSLC_FUZZ_SEED_FILES (paths separated
 * by ':') adds models as seeds: tests/oracle's ONNX tests pass what torch.onnx.export wrote
 * (torchvision's ViT), which this program cannot make. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frontend/onnx.h"
#include "methods/backbones/backbone.h"
#include "onnx.pb-c.h"
#include "fuzzkit.h"
#include "optest.h"
#include "runtime/fileio.h"
#include "runtime/init.h"
#include "runtime/interp.h"

static char tmpdir[256];

typedef struct {
    unsigned char *buf;
    size_t len;
    char name[64];
} seed;
static seed seeds[16];
static int nseeds;

static int add_seed_file(const char *path, const char *name) {
    unsigned char *b;
    size_t n;
    char err[IR_ERRLEN];
    CHECK(sslc_read_file(path, (size_t)1 << 30, &b, &n, err) == 0, "%s", err);
    seeds[nseeds] = (seed){b, n, ""};
    snprintf(seeds[nseeds++].name, sizeof seeds[0].name, "%s", name);
    return 0;
}

/* ---- seeds from the exporter ---- */

typedef int (*graph_fn)(ir_graph *g, int64_t batch);

static int build_backbone(ir_graph *g, int64_t batch, const char *name, double width, int size, int stem) {
    backbone_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.width = width, cfg.image_size = size, cfg.channels = 3, cfg.cifar_stem = stem;
    if (!strncmp(name, "vit", 3)) cfg.depth = 1, cfg.patch_size = 4;
    mbuild mb;
    mb_init(&mb, g, 0);
    int x = ir_input(g, "images", DT_F32, IR_SHAPE(batch, 3, size, size));
    ir_scope_push(g, "backbone");
    int y = backbone_build(&mb, &cfg, x);
    ir_scope_pop(g);
    mb_free(&mb);
    if (y >= 0) ir_add_output(g, y);
    return y;
}
static int g_convnet(ir_graph *g, int64_t b) { return build_backbone(g, b, "convnet", 0.125, 8, -1); }
static int g_resnet(ir_graph *g, int64_t b) { return build_backbone(g, b, "resnet18", 1.0 / 16, 16, 0); }
static int g_vit(ir_graph *g, int64_t b) { return build_backbone(g, b, "vit-tiny", 0.125, 8, -1); }

/* shape and reduction ops around a batch-dependent Reshape */
static int g_ops(ir_graph *g, int64_t B) {
    int x = ir_input(g, "images", DT_F32, IR_SHAPE(B, 3, 8, 8));
    int w = ir_param(g, "w", IR_SHAPE(4, 3, 3, 3), ir_init_normal(0, 0.3), 0);
    int c = ir_relu(g, ir_conv(g, x, w, -1, 2, 1, 1));                  /* [B,4,4,4] */
    int r = ir_reshape(g, c, IR_SHAPE(B, 4, 16));                        /* batch-dependent target */
    int t = ir_transpose(g, r, (int64_t[]){0, 2, 1}, 3);                 /* [B,16,4] */
    int m = ir_param(g, "m", IR_SHAPE(4, 6), ir_init_normal(0, 0.5), 0);
    int s = ir_softmax(g, ir_matmul(g, t, m), -1);                       /* [B,16,6] */
    int a = ir_reduce_mean(g, s, (int64_t[]){1}, 1, 0);                 /* [B,6] */
    int p = ir_flatten(g, ir_global_avg_pool(g, x), 1);                  /* [B,3] */
    int q = ir_concat(g, (int[]){a, ir_mul_scalar(g, p, 0.5)}, 2, 1);     /* [B,9] */
    int u = ir_slice(g, q, 1, 1, 8);                                     /* [B,7] */
    int v = ir_add(g, ir_exp(g, ir_neg(g, u)), ir_param(g, "b", IR_SHAPE(7), ir_init_const(0.1), 0));
    int z = ir_log_softmax(g, ir_sqrt(g, ir_max(g, v, ir_sub(g, v, u))), 1);
    int k = ir_reduce_sum(g, z, (int64_t[]){1}, 1, 1);                   /* [B,1] */
    int y = ir_div(g, ir_gemm(g, z, ir_param(g, "fc", IR_SHAPE(5, 7), ir_init_normal(0, 0.3), 0), -1, 0, 1, 1, 1), k);
    if (y >= 0) ir_add_output(g, y);
    return y;
}

static int export_seed(graph_fn fn, const char *name, int fold) {
    ir_graph g, g3;
    interp it;
    char err[IR_ERRLEN], path[400];
    ir_graph_init(&g);
    ir_graph_init(&g3);
    CHECK(fn(&g, 2) >= 0 && fn(&g3, 3) >= 0, "%s: %s", name, g.err);
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 7, err) == 0, "%s", err);
    const float **w = calloc((size_t)g.nvals, sizeof *w);
    for (int v = 0; v < g.nvals; v++)
        if (g.vals[v].kind == VK_PARAM || g.vals[v].kind == VK_STATE) w[v] = interp_data(&it, v);
    onnx_export_opts o = {.opset = 13 + (int)below(5), .fold_bn = fold};
    const char *names[1] = {"features"};
    snprintf(path, sizeof path, "%s/%s.onnx", tmpdir, name);
    CHECK(onnx_export(&g, &g3, (const float *const *)w, names, &o, path, err) == 0, "%s: %s", name, err);
    free(w);
    interp_free(&it);
    ir_graph_free(&g);
    ir_graph_free(&g3);
    return add_seed_file(path, name);
}

/* ---- a hand-made seed (what torch.onnx.export writes for view(x.size(0), -1) and friends) ---- */

static Onnx__TensorProto *mk_tensor(const char *name, int dt, int nd, const int64_t *dims, const void *data, size_t bytes) {
    Onnx__TensorProto *t = calloc(1, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = strdup(name);
    t->has_data_type = 1, t->data_type = dt;
    t->n_dims = (size_t)nd;
    t->dims = malloc((size_t)(nd ? nd : 1) * sizeof(int64_t));
    memcpy(t->dims, dims, (size_t)nd * sizeof(int64_t));
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = malloc(bytes ? bytes : 1);
    memcpy(t->raw_data.data, data, bytes);
    return t;
}

static Onnx__TensorProto *mk_float(const char *name, int nd, const int64_t *dims, float base) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    float *d = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) d[i] = base + 0.01f * (float)((i * 37) % 17);
    Onnx__TensorProto *t = mk_tensor(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, nd, dims, d, (size_t)n * 4);
    free(d);
    return t;
}

static Onnx__TensorProto *mk_ints(const char *name, int n, const int64_t *v) {
    int64_t dim = n;
    return mk_tensor(name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &dim, v, (size_t)n * 8);
}

static Onnx__AttributeProto *mk_attr(const char *name, int type, int64_t i, const int64_t *ints, int n) {
    Onnx__AttributeProto *a = calloc(1, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = strdup(name);
    a->has_type = 1, a->type = type;
    if (type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) a->has_i = 1, a->i = i;
    if (type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
        a->n_ints = (size_t)n;
        a->ints = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        memcpy(a->ints, ints, (size_t)n * sizeof(int64_t));
    }
    if (type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) a->has_f = 1, a->f = (float)i;
    return a;
}
static Onnx__AttributeProto *mk_tensor_attr(const char *name, Onnx__TensorProto *t) {
    Onnx__AttributeProto *a = mk_attr(name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, 0, NULL, 0);
    a->t = t;
    return a;
}
#define AINT(n, v) mk_attr(n, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, v, NULL, 0)
#define AINTS(n, ...) \
    mk_attr(n, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, 0, (int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / 8))

static Onnx__NodeProto *mk_node(const char *op, const char *ins, const char *outs, int nattr, ...) {
    Onnx__NodeProto *n = calloc(1, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = strdup(op);
    char nm[64];
    snprintf(nm, sizeof nm, "%s_node", op);
    n->name = strdup(nm);
    const char *lists[2] = {ins, outs};
    for (int l = 0; l < 2; l++) {
        char *copy = strdup(lists[l]), *save = NULL;
        char **arr = calloc(16, sizeof *arr);
        size_t k = 0;
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            arr[k++] = strdup(!strcmp(tok, "-") ? "" : tok);
        free(copy);
        if (l == 0)
            n->input = arr, n->n_input = k;
        else
            n->output = arr, n->n_output = k;
    }
    va_list ap;
    va_start(ap, nattr);
    n->n_attribute = (size_t)nattr;
    n->attribute = calloc((size_t)(nattr ? nattr : 1), sizeof *n->attribute);
    for (int i = 0; i < nattr; i++) n->attribute[i] = va_arg(ap, Onnx__AttributeProto *);
    va_end(ap);
    return n;
}

static Onnx__ValueInfoProto *mk_vi(const char *name, int nd, const int64_t *dims) {
    Onnx__ValueInfoProto *v = calloc(1, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = strdup(name);
    v->type = calloc(1, sizeof *v->type);
    onnx__type_proto__init(v->type);
    v->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    v->type->tensor_type = calloc(1, sizeof *v->type->tensor_type);
    onnx__type_proto__tensor__init(v->type->tensor_type);
    v->type->tensor_type->has_elem_type = 1;
    v->type->tensor_type->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *s = calloc(1, sizeof *s);
    onnx__tensor_shape_proto__init(s);
    s->n_dim = (size_t)nd;
    s->dim = calloc((size_t)nd + 1, sizeof *s->dim);
    for (int i = 0; i < nd; i++) {
        s->dim[i] = calloc(1, sizeof **s->dim);
        onnx__tensor_shape_proto__dimension__init(s->dim[i]);
        if (dims[i] > 0) {
            s->dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            s->dim[i]->dim_value = dims[i];
        } else {
            s->dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            s->dim[i]->dim_param = strdup("N");
        }
    }
    v->type->tensor_type->shape = s;
    return v;
}

static int handmade_seed(void) {
    Onnx__NodeProto *nodes[] = {
        mk_node("Conv", "x w b", "c", 2, AINTS("pads", 1, 1, 1, 1), AINTS("kernel_shape", 3, 3)),
        mk_node("BatchNormalization", "c s bb m v", "bn rm rv", 2, AINT("training_mode", 1),
                mk_attr("epsilon", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, 0, NULL, 0)),
        mk_node("Relu", "bn", "r", 0),
        mk_node("Dropout", "r", "d", 0),
        mk_node("MaxPool", "d", "p", 3, AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2), AINT("ceil_mode", 1)),
        mk_node("Shape", "p", "sh", 0),
        mk_node("Constant", "", "zero", 1, AINT("value_int", 0)),
        mk_node("Gather", "sh zero", "nb", 1, AINT("axis", 0)),
        mk_node("Unsqueeze", "nb ax0", "nb1", 0),
        mk_node("Constant", "", "m1", 1, AINTS("value_ints", -1)),
        mk_node("Concat", "nb1 m1", "ts", 1, AINT("axis", 0)),
        mk_node("Cast", "ts", "ts2", 1, AINT("to", ONNX__TENSOR_PROTO__DATA_TYPE__INT64)),
        mk_node("Reshape", "p ts2", "flat", 0),
        mk_node("Identity", "w2", "w2b", 0),
        mk_node("Gemm", "flat w2b b2", "gm", 1, AINT("transB", 1)),
        mk_node("Unsqueeze", "gm ax2", "g3", 0),
        mk_node("ReduceMean", "g3", "g3m", 2, AINTS("axes", 2), AINT("keepdims", 1)),
        mk_node("Squeeze", "g3m ax2", "g2", 0),
        mk_node("Slice", "g2 st en ax1", "sl", 0),
        /* LayerNorm as torch writes it before opset 17 (imported as one LayerNormalization) */
        mk_node("ReduceMean", "sl", "mu", 1, AINTS("axes", -1)),
        mk_node("Sub", "sl mu", "dv", 0),
        mk_node("Pow", "dv two", "sq", 0),
        mk_node("ReduceMean", "sq", "var", 1, AINTS("axes", -1)),
        mk_node("Add", "var eps", "ve", 0),
        mk_node("Sqrt", "ve", "sd", 0),
        mk_node("Div", "dv sd", "nrm", 0),
        mk_node("Mul", "nrm lnw", "nw", 0),
        mk_node("Add", "nw lnb", "ln", 0),
        /* the class token expanded to the batch: torch's expand(n, -1, -1) */
        mk_node("Shape", "ts", "tss", 0),
        mk_node("ConstantOfShape", "tss", "ones", 1, mk_tensor_attr("value", mk_ints("v", 1, (int64_t[]){1}))),
        mk_node("Mul", "ones m1", "neg", 0),
        mk_node("Equal", "ts neg", "eq", 0),
        mk_node("Where", "eq ones ts", "tgt", 0),
        mk_node("Expand", "tok tgt", "tokn", 0),
        mk_node("Add", "ln tokn", "y", 0),
    };
    /* BatchNormalization's epsilon: a float attribute made by mk_attr with i = 0 -> fix */
    nodes[1]->attribute[1]->f = 1e-5f;
    Onnx__TensorProto *inits[] = {
        mk_float("w", 4, (int64_t[]){4, 3, 3, 3}, -0.05f), mk_float("b", 1, (int64_t[]){4}, 0.1f),
        mk_float("s", 1, (int64_t[]){4}, 1.0f),           mk_float("bb", 1, (int64_t[]){4}, 0.0f),
        mk_float("m", 1, (int64_t[]){4}, 0.1f),           mk_float("v", 1, (int64_t[]){4}, 1.0f),
        mk_float("w2", 2, (int64_t[]){8, 64}, -0.04f),     mk_float("b2", 1, (int64_t[]){8}, 0.0f),
        mk_ints("ax0", 1, (int64_t[]){0}),                mk_ints("ax2", 1, (int64_t[]){2}),
        mk_ints("st", 1, (int64_t[]){1}),                 mk_ints("en", 1, (int64_t[]){7}),
        mk_ints("ax1", 1, (int64_t[]){1}),
        mk_float("two", 0, (int64_t[]){1}, 2.0f),          mk_float("eps", 0, (int64_t[]){1}, 1e-5f),
        mk_float("lnw", 1, (int64_t[]){6}, 0.9f),          mk_float("lnb", 1, (int64_t[]){6}, -0.05f),
        mk_float("tok", 2, (int64_t[]){1, 6}, 0.2f),
    };
    Onnx__GraphProto gp;
    onnx__graph_proto__init(&gp);
    gp.name = "handmade";
    gp.n_node = sizeof nodes / sizeof nodes[0];
    gp.node = nodes;
    gp.n_initializer = sizeof inits / sizeof inits[0];
    gp.initializer = inits;
    Onnx__ValueInfoProto *in = mk_vi("x", 4, (int64_t[]){-1, 3, 8, 8}), *out = mk_vi("y", 2, (int64_t[]){-1, 6});
    gp.n_input = 1, gp.input = &in;
    gp.n_output = 1, gp.output = &out;
    Onnx__OperatorSetIdProto os;
    onnx__operator_set_id_proto__init(&os);
    os.domain = "";
    os.has_version = 1, os.version = 13;
    Onnx__OperatorSetIdProto *osp = &os;
    Onnx__ModelProto mp;
    onnx__model_proto__init(&mp);
    mp.has_ir_version = 1, mp.ir_version = 7;
    mp.n_opset_import = 1, mp.opset_import = &osp;
    mp.graph = &gp;
    size_t n = onnx__model_proto__get_packed_size(&mp);
    unsigned char *b = malloc(n);
    onnx__model_proto__pack(&mp, b);
    seeds[nseeds++] = (seed){b, n, "handmade"};
    for (size_t i = 0; i < gp.n_node; i++) onnx__node_proto__free_unpacked(nodes[i], NULL);
    for (size_t i = 0; i < gp.n_initializer; i++) onnx__tensor_proto__free_unpacked(inits[i], NULL);
    onnx__value_info_proto__free_unpacked(in, NULL);
    onnx__value_info_proto__free_unpacked(out, NULL);
    return 0;
}

/* ---- one model through the importer ---- */

typedef struct {
    long parse_fail, load_fail, build_fail, ok, ran;
} counts;

static int check_err(const char *err, const char *label) {
    CHECK(err[0] && !strchr(err, '\n'), "%s: bad error message '%s'", label, err);
    return 0;
}

/* graph small enough to run in the interpreter */
static int small(const ir_graph *g) {
    int64_t tot = 0;
    for (int v = 0; v < g->nvals; v++) tot += ir_numel(&g->vals[v].shape);
    return tot < 2000000 && ir_graph_flops(g) < 50000000;
}

static int try_model(const unsigned char *buf, size_t len, counts *k, int verbose, const char *label) {
    onnx_model *m = NULL;
    char err[IR_ERRLEN] = "";
    if (onnx_model_decode(&m, buf, len, "fuzz.onnx", NULL, err)) {
        if (verbose) printf("     %s: %s\n", label, err);
        k->parse_fail++;
        return check_err(err, label);
    }
    backbone_ext ext;
    int ch = 1 + (int)below(3), size = 8 + (int)below(12);
    onnx_input_info in = onnx_model_input(m);
    int seedrun = !strcmp(label, "seed");
    if (in.channels >= 1 && in.channels <= 3 && (seedrun || below(4))) ch = (int)in.channels;
    if (in.height >= 8 && in.height <= 64 && (seedrun || below(2))) size = (int)in.height;
    if (onnx_model_backbone(m, ch, size, &ext, err)) {
        if (verbose) printf("     %s: %s\n", label, err);
        k->load_fail++;
        onnx_model_free(m);
        return check_err(err, label);
    }
    /* the backbone inside a method-like graph: shared parameters over two calls, both modes */
    for (int training = 0; training < 2; training++) {
        ir_graph g;
        mbuild mb;
        ir_graph_init(&g);
        mb_init(&mb, &g, training);
        int x = ir_input(&g, "views.0", DT_F32, IR_SHAPE(2, ch, size, size));
        ir_scope_push(&g, "backbone");
        int y1 = ext.build(ext.ctx, &mb, x);
        int y2 = ext.build(ext.ctx, &mb, x);
        ir_scope_pop(&g);
        mb_finish(&mb);
        mb_free(&mb);
        if (y1 < 0 || y2 < 0) {
            if (verbose) printf("     %s: training=%d: %s\n", label, training, g.err);
            CHECK(check_err(g.err, label) == 0, "%s", label);
            k->build_fail++;
            ir_graph_free(&g);
            continue;
        }
        CHECK(g.vals[y1].shape.ndim == 2 && g.vals[y1].shape.d[1] == ext.feat_dim, "%s: output shape", label);
        ir_add_output(&g, y2);
        if (small(&g)) {
            interp it;
            CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 1, err) == 0, "%s: %s", label, err);
            float *xs = malloc((size_t)ir_numel(&g.vals[x].shape) * sizeof(float));
            test_fill_uniform(xs, ir_numel(&g.vals[x].shape), -1, 1, rnd());
            interp_set_f32(&it, x, xs, err);
            free(xs);
            if (interp_run(&it, err) == 0)
                k->ran++;
            else
                CHECK(check_err(err, label) == 0, "%s", label);
            interp_free(&it);
        }
        ir_graph_free(&g);
    }
    k->ok++;
    onnx_model_free(m);
    return 0;
}

/* ---- mutations ---- */

static const int64_t interesting[] = {-1, 0, 1, 2, 3, 4, 5, 7, 8, 16, 64, -7, 1 << 20, (int64_t)1 << 40,
                                      INT64_MAX, INT64_MIN, 2147483647, -2147483647 - 1};
static int64_t pick_int(int64_t near) {
    switch (below(4)) {
    case 0: return interesting[below(sizeof interesting / sizeof interesting[0])];
    case 1: return (int64_t)((uint64_t)near + below(5) - 2);
    case 2: return (int64_t)rnd();
    default: return (int64_t)below(24) - 4;
    }
}

static void set_str(char **slot, const char *s) {
    char *copy = strdup(s); /* first: s may be *slot */
    if (*slot && *slot != protobuf_c_empty_string) free(*slot);
    *slot = copy;
}

static const char *const op_names[] = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "MatMul", "Relu", "Neg", "Exp", "Log", "Sqrt", "GlobalAveragePool",
    "Identity", "Dropout", "Conv", "BatchNormalization", "MaxPool", "Flatten", "Gemm", "Reshape", "Transpose",
    "Concat", "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum", "ReduceMax", "Constant", "Shape", "Gather",
    "Unsqueeze", "Squeeze", "Slice", "Cast", "Erf", "LRN", "LayerNormalization", "Expand", "ConstantOfShape",
    "Equal", "Where", "Split", "Gelu"};

/* a random value name of the graph (node outputs, initializers, the input) or "" */
static const char *any_name(const Onnx__GraphProto *gp) {
    size_t total = gp->n_initializer + gp->n_input + 1;
    for (size_t i = 0; i < gp->n_node; i++) total += gp->node[i]->n_output;
    size_t k = below(total);
    if (k < gp->n_initializer) return gp->initializer[k]->name ? gp->initializer[k]->name : "";
    k -= gp->n_initializer;
    if (k < gp->n_input) return gp->input[k]->name ? gp->input[k]->name : "";
    k -= gp->n_input;
    for (size_t i = 0; i < gp->n_node; i++) {
        if (k < gp->node[i]->n_output) return gp->node[i]->output[k] ? gp->node[i]->output[k] : "";
        k -= gp->node[i]->n_output;
    }
    return "";
}

static void mutate_attr(Onnx__AttributeProto *a) {
    switch (below(5)) {
    case 0: a->i = pick_int(a->i), a->has_i = 1; break;
    case 1: a->f = (float)pick_int((int64_t)a->f) * (below(2) ? 0.25f : 1.0f), a->has_f = 1; break;
    case 2: { /* new ints of a random length */
        size_t n = below(10);
        int64_t *v = malloc((n ? n : 1) * sizeof *v);
        for (size_t j = 0; j < n; j++) v[j] = j < a->n_ints && below(2) ? a->ints[j] : pick_int(1);
        free(a->ints);
        a->ints = v, a->n_ints = n;
    } break;
    case 3:
        if (a->n_ints) a->ints[below(a->n_ints)] = pick_int(a->ints[0]);
        break;
    default: { /* another attribute name of some op */
        static const char *names[] = {"axis", "axes", "perm", "pads", "strides", "dilations", "group", "kernel_shape",
                                      "auto_pad", "ceil_mode", "transA", "transB", "alpha", "beta", "keepdims",
                                      "allowzero", "to", "epsilon", "momentum", "training_mode", "value_int",
                                      "value_ints", "start", "end", "storage_order", "spatial"};
        set_str(&a->name, names[below(sizeof names / sizeof names[0])]);
    }
    }
}

static void mutate_model(Onnx__ModelProto *mp) {
    Onnx__GraphProto *gp = mp->graph;
    if (!gp) return;
    switch (below(12)) {
    case 0: /* op type */
        if (gp->n_node) set_str(&gp->node[below(gp->n_node)]->op_type, op_names[below(sizeof op_names / sizeof op_names[0])]);
        break;
    case 1: /* an input renamed to another value (or dropped: "") */
        if (gp->n_node) {
            Onnx__NodeProto *n = gp->node[below(gp->n_node)];
            if (n->n_input) set_str(&n->input[below(n->n_input)], below(8) ? any_name(gp) : "");
        }
        break;
    case 2: /* an output renamed */
        if (gp->n_node) {
            Onnx__NodeProto *n = gp->node[below(gp->n_node)];
            set_str(&n->output[below(n->n_output)], below(2) ? any_name(gp) : "fresh");
        }
        break;
    case 3:
    case 4: /* attributes */
        if (gp->n_node) {
            Onnx__NodeProto *n = gp->node[below(gp->n_node)];
            if (n->n_attribute) mutate_attr(n->attribute[below(n->n_attribute)]);
        }
        break;
    case 5: /* initializer dims / type / data */
        if (gp->n_initializer) {
            Onnx__TensorProto *t = gp->initializer[below(gp->n_initializer)];
            switch (below(4)) {
            case 0:
                if (t->n_dims) t->dims[below(t->n_dims)] = pick_int(t->dims[0]);
                break;
            case 1: t->data_type = (int32_t)below(17); break;
            case 2:
                if (t->has_raw_data && t->raw_data.len) t->raw_data.len = below(t->raw_data.len);
                break;
            default: /* rank change: dims shortened (the array keeps its allocation) */
                if (t->n_dims) t->n_dims = below(t->n_dims);
            }
        }
        break;
    case 6: /* drop a node */
        if (gp->n_node > 1) {
            size_t k = below(gp->n_node);
            onnx__node_proto__free_unpacked(gp->node[k], NULL);
            memmove(gp->node + k, gp->node + k + 1, (gp->n_node - k - 1) * sizeof *gp->node);
            gp->n_node--;
        }
        break;
    case 7: /* swap two nodes (order) */
        if (gp->n_node > 1) {
            size_t a = below(gp->n_node), b = below(gp->n_node);
            Onnx__NodeProto *t = gp->node[a];
            gp->node[a] = gp->node[b], gp->node[b] = t;
        }
        break;
    case 8: /* graph input shape */
        if (gp->n_input && gp->input[0]->type && gp->input[0]->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
            gp->input[0]->type->tensor_type && gp->input[0]->type->tensor_type->shape) {
            Onnx__TensorShapeProto *s = gp->input[0]->type->tensor_type->shape;
            if (s->n_dim) {
                Onnx__TensorShapeProto__Dimension *d = s->dim[below(s->n_dim)];
                if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) free(d->dim_param);
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = pick_int(3);
            }
        }
        break;
    case 9: /* the graph output */
        if (gp->n_output) set_str(&gp->output[0]->name, any_name(gp));
        break;
    case 10: /* opset */
        if (mp->n_opset_import) mp->opset_import[0]->version = below(2) ? (int64_t)(9 + below(14)) : pick_int(13);
        break;
    default: /* drop an attribute */
        if (gp->n_node) {
            Onnx__NodeProto *n = gp->node[below(gp->n_node)];
            if (n->n_attribute) {
                size_t k = below(n->n_attribute);
                onnx__attribute_proto__free_unpacked(n->attribute[k], NULL);
                n->attribute[k] = n->attribute[--n->n_attribute];
            }
        }
    }
}

static unsigned char *mutate_bytes(const unsigned char *src, size_t len, size_t *out) {
    size_t cap = len + 64;
    unsigned char *b = malloc(cap);
    memcpy(b, src, len);
    size_t n = len;
    int rounds = 1 + (int)below(4);
    for (int r = 0; r < rounds && n; r++) {
        switch (below(5)) {
        case 0: b[below(n)] ^= (unsigned char)(1u << below(8)); break;
        case 1: b[below(n)] = (unsigned char)rnd(); break;
        case 2: n = below(n + 1); break; /* truncate */
        case 3: { /* delete a chunk */
            size_t at = below(n), k = below(n - at + 1);
            if (k > 16) k = 16;
            memmove(b + at, b + at + k, n - at - k);
            n -= k;
        } break;
        default: /* insert bytes */
            if (n + 8 <= cap) {
                size_t at = below(n + 1), k = 1 + below(8);
                memmove(b + at + k, b + at, n - at);
                for (size_t j = 0; j < k; j++) b[at + j] = (unsigned char)rnd();
                n += k;
            }
        }
    }
    *out = n;
    return b;
}

int main(void) {
    double budget = getenv("SSLC_FUZZ_SECONDS") ? atof(getenv("SSLC_FUZZ_SECONDS")) : 20.0;
    uint64_t seed0 = getenv("SSLC_FUZZ_SEED") ? strtoull(getenv("SSLC_FUZZ_SEED"), NULL, 10) : 1;
    fuzz_rs = seed0 * 0x9E3779B97F4A7C15ull + 1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_onnx_fuzz_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    if (export_seed(g_convnet, "convnet", 0) || export_seed(g_resnet, "resnet18", 1) || export_seed(g_ops, "ops", 0) ||
        export_seed(g_vit, "vit", 0) || handmade_seed())
        return 1;
    if (getenv("SSLC_FUZZ_SEED_FILES")) {
        char *list = strdup(getenv("SSLC_FUZZ_SEED_FILES")), *save = NULL;
        for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
            CHECK(nseeds < (int)(sizeof seeds / sizeof seeds[0]), "too many seed files");
            const char *base = strrchr(p, '/');
            if (add_seed_file(p, base ? base + 1 : p)) return 1;
        }
        free(list);
    }
    counts k = {0};
    for (int s = 0; s < nseeds; s++) { /* every seed imports, builds and runs unchanged */
        counts one = {0};
        if (try_model(seeds[s].buf, seeds[s].len, &one, 1, "seed")) return 1;
        CHECK(one.ok == 1 && one.ran == 2, "seed %s does not import and run", seeds[s].name);
        printf("ok   seed %-10s %zu bytes imports, builds in both modes and runs\n", seeds[s].name, seeds[s].len);
    }
    double t0 = now();
    long iters = 0;
    while (now() - t0 < budget) {
        const seed *sd = &seeds[below((size_t)nseeds)];
        unsigned char *buf = NULL;
        size_t len = 0;
        if (below(3) == 0) {
            buf = mutate_bytes(sd->buf, sd->len, &len);
        } else {
            Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, sd->len, sd->buf);
            CHECK(mp, "seed %s does not unpack", sd->name);
            int nm = 1 + (int)below(4);
            for (int j = 0; j < nm; j++) mutate_model(mp);
            len = onnx__model_proto__get_packed_size(mp);
            buf = malloc(len ? len : 1);
            onnx__model_proto__pack(mp, buf);
            onnx__model_proto__free_unpacked(mp, NULL);
            if (below(8) == 0) {
                size_t l2;
                unsigned char *b2 = mutate_bytes(buf, len, &l2);
                free(buf);
                buf = b2, len = l2;
            }
        }
        int rc = try_model(buf, len, &k, 0, "mutant");
        free(buf);
        if (rc) {
            fprintf(stderr, "FAIL at iteration %ld (SSLC_FUZZ_SEED=%llu)\n", iters, (unsigned long long)seed0);
            return 1;
        }
        iters++;
    }
    printf("ok   %ld mutants in %.0f s (SSLC_FUZZ_SEED=%llu): %ld refused by the reader, %ld by the trial build, %ld refused "
           "while building, %ld imported (%ld interpreter runs)\n",
           iters, budget, (unsigned long long)seed0, k.parse_fail, k.load_fail, k.build_fail, k.ok, k.ran);
    for (int s = 0; s < nseeds; s++) free(seeds[s].buf);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) return 1;
    return 0;
}
