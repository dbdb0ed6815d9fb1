/* The stand-in's cuDNN: descriptors hold what was set; the three convolutions run the op table's
 * float32 reference kernels of Conv, ConvGradInput and ConvGradWeight (ir/ops/conv.c) on a
 * one-node graph built from the descriptors (its shape inference checks them), so they give the
 * reference's bytes; AddTensor adds a bias as the reference Conv does (c[i] = c[i] + a[ch]).
 * Only alpha = 1, beta = 0 (AddTensor: any alpha, beta) are supported. The algorithm queries
 * answer algorithm 0; the workspace each convolution asks for is SSLC_FAKECUDA_CONV_WS bytes
 * (default 256), and each call overwrites it with garbage, so a workspace that overlaps live
 * data shows in the results. */
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "ir/builder.h"

struct cudnnContext {
    int magic;
    CUstream stream;
};
struct cudnnTensorStruct {
    int magic, set;
    int n, c, h, w;
};
struct cudnnFilterStruct {
    int magic, set;
    int k, c, h, w;
};
struct cudnnConvolutionStruct {
    int magic, set;
    int pad_h, pad_w, u, v, dil_h, dil_w, groups, math;
};
enum { DNN_MAGIC = 0xd22, TENSOR_MAGIC = 0x7e25, FILTER_MAGIC = 0xf117, CONV_MAGIC = 0xc0de };

FK_API const char *cudnnGetErrorString(cudnnStatus_t s) {
    switch (s) {
    case 0: return "CUDNN_STATUS_SUCCESS";
    case FK_DNN_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case FK_DNN_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case FK_DNN_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case FK_DNN_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case FK_DNN_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: return "CUDNN_STATUS_UNKNOWN (sslc CUDA stand-in)";
    }
}

static int handle_ok(const char *call, cudnnHandle_t h) {
    if (h && h->magic == DNN_MAGIC) return 1;
    fk_say(call, "not a cuDNN handle");
    return 0;
}

FK_API cudnnStatus_t cudnnCreate(cudnnHandle_t *h) {
    if (fk_need_context("cudnnCreate")) return FK_DNN_NOT_INITIALIZED;
    if (!h) return FK_DNN_BAD_PARAM;
    cudnnHandle_t n = calloc(1, sizeof *n);
    if (!n) return FK_DNN_INTERNAL_ERROR;
    n->magic = DNN_MAGIC;
    *h = n;
    return 0;
}
FK_API cudnnStatus_t cudnnDestroy(cudnnHandle_t h) {
    if (!handle_ok("cudnnDestroy", h)) return FK_DNN_BAD_PARAM;
    h->magic = 0;
    free(h);
    return 0;
}
FK_API cudnnStatus_t cudnnSetStream(cudnnHandle_t h, CUstream s) {
    if (!handle_ok("cudnnSetStream", h)) return FK_DNN_BAD_PARAM;
    if (!fk_stream_ok(s)) {
        fk_say("cudnnSetStream", "not a stream");
        return FK_DNN_BAD_PARAM;
    }
    h->stream = s;
    return 0;
}

/* ---- descriptors ---- */

#define DESC_CREATE(fn, type, magic_value)                                                                         \
    FK_API cudnnStatus_t fn(type *d) {                                                                             \
        if (!d) return FK_DNN_BAD_PARAM;                                                                           \
        type n = calloc(1, sizeof *n);                                                                             \
        if (!n) return FK_DNN_INTERNAL_ERROR;                                                                      \
        n->magic = magic_value;                                                                                    \
        *d = n;                                                                                                    \
        return 0;                                                                                                  \
    }
#define DESC_DESTROY(fn, type, magic_value)                                                                        \
    FK_API cudnnStatus_t fn(type d) {                                                                              \
        if (!d) return 0;                                                                                          \
        if (d->magic != magic_value) {                                                                             \
            fk_say(#fn, "not a descriptor of that kind");                                                          \
            return FK_DNN_BAD_PARAM;                                                                               \
        }                                                                                                          \
        d->magic = 0;                                                                                              \
        free(d);                                                                                                   \
        return 0;                                                                                                  \
    }
DESC_CREATE(cudnnCreateTensorDescriptor, cudnnTensorDescriptor_t, TENSOR_MAGIC)
DESC_DESTROY(cudnnDestroyTensorDescriptor, cudnnTensorDescriptor_t, TENSOR_MAGIC)
DESC_CREATE(cudnnCreateFilterDescriptor, cudnnFilterDescriptor_t, FILTER_MAGIC)
DESC_DESTROY(cudnnDestroyFilterDescriptor, cudnnFilterDescriptor_t, FILTER_MAGIC)
DESC_CREATE(cudnnCreateConvolutionDescriptor, cudnnConvolutionDescriptor_t, CONV_MAGIC)
DESC_DESTROY(cudnnDestroyConvolutionDescriptor, cudnnConvolutionDescriptor_t, CONV_MAGIC)

FK_API cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int dtype, int n, int c, int h,
                                                int w) {
    const char *call = "cudnnSetTensor4dDescriptor";
    if (!d || d->magic != TENSOR_MAGIC) {
        fk_say(call, "not a tensor descriptor");
        return FK_DNN_BAD_PARAM;
    }
    if (format != CUDNN_TENSOR_NCHW || dtype != CUDNN_DATA_FLOAT) {
        fk_say(call, "format %d, data type %d: the stand-in has NCHW float only", format, dtype);
        return FK_DNN_NOT_SUPPORTED;
    }
    if (n < 1 || c < 1 || h < 1 || w < 1) {
        fk_say(call, "dimensions %d x %d x %d x %d", n, c, h, w);
        return FK_DNN_BAD_PARAM;
    }
    *d = (struct cudnnTensorStruct){TENSOR_MAGIC, 1, n, c, h, w};
    return 0;
}

FK_API cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int dtype, int format, int k, int c, int h,
                                                int w) {
    const char *call = "cudnnSetFilter4dDescriptor";
    if (!d || d->magic != FILTER_MAGIC) {
        fk_say(call, "not a filter descriptor");
        return FK_DNN_BAD_PARAM;
    }
    if (format != CUDNN_TENSOR_NCHW || dtype != CUDNN_DATA_FLOAT) {
        fk_say(call, "format %d, data type %d: the stand-in has NCHW float only", format, dtype);
        return FK_DNN_NOT_SUPPORTED;
    }
    if (k < 1 || c < 1 || h < 1 || w < 1) {
        fk_say(call, "dimensions %d x %d x %d x %d", k, c, h, w);
        return FK_DNN_BAD_PARAM;
    }
    *d = (struct cudnnFilterStruct){FILTER_MAGIC, 1, k, c, h, w};
    return 0;
}

static int conv_ok(const char *call, cudnnConvolutionDescriptor_t d) {
    if (d && d->magic == CONV_MAGIC) return 1;
    fk_say(call, "not a convolution descriptor");
    return 0;
}

FK_API cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                                     int dil_h, int dil_w, int mode, int compute_type) {
    const char *call = "cudnnSetConvolution2dDescriptor";
    if (!conv_ok(call, d)) return FK_DNN_BAD_PARAM;
    if (mode != CUDNN_CROSS_CORRELATION || compute_type != CUDNN_DATA_FLOAT) {
        fk_say(call, "mode %d, compute type %d: the stand-in has CUDNN_CROSS_CORRELATION in float only", mode,
               compute_type);
        return FK_DNN_NOT_SUPPORTED;
    }
    if (pad_h < 0 || pad_w < 0 || u < 1 || v < 1 || dil_h < 1 || dil_w < 1) {
        fk_say(call, "pads %d,%d strides %d,%d dilations %d,%d", pad_h, pad_w, u, v, dil_h, dil_w);
        return FK_DNN_BAD_PARAM;
    }
    d->pad_h = pad_h, d->pad_w = pad_w, d->u = u, d->v = v, d->dil_h = dil_h, d->dil_w = dil_w;
    if (!d->groups) d->groups = 1;
    d->set = 1;
    return 0;
}
FK_API cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groups) {
    if (!conv_ok("cudnnSetConvolutionGroupCount", d)) return FK_DNN_BAD_PARAM;
    if (groups < 1) {
        fk_say("cudnnSetConvolutionGroupCount", "%d groups", groups);
        return FK_DNN_BAD_PARAM;
    }
    d->groups = groups;
    return 0;
}
FK_API cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int math) {
    if (!conv_ok("cudnnSetConvolutionMathType", d)) return FK_DNN_BAD_PARAM;
    if (math != CUDNN_DEFAULT_MATH && math != CUDNN_TENSOR_OP_MATH && math != 2 && math != CUDNN_FMA_MATH) {
        fk_say("cudnnSetConvolutionMathType", "unknown math type %d", math);
        return FK_DNN_BAD_PARAM;
    }
    d->math = math; /* recorded; the stand-in computes in float32 whatever the type */
    return 0;
}

/* ---- convolutions ---- */

enum { FWD, BWD_DATA, BWD_FILTER };
static const char *const conv_calls[] = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData",
                                         "cudnnConvolutionBackwardFilter"};

typedef struct {
    int kind;
    struct cudnnTensorStruct x, y;   /* x: input (dx for BWD_DATA); y: output (dy for the gradients) */
    struct cudnnFilterStruct w;      /* w (dw for BWD_FILTER) */
    struct cudnnConvolutionStruct c;
    const float *in0, *in1; /* FWD: x, w; BWD_DATA: dy, w; BWD_FILTER: dy, x */
    float *out;             /* FWD: y; BWD_DATA: dx; BWD_FILTER: dw */
    void *ws;
    size_t ws_bytes;
} conv_op;

static size_t conv_ws_bytes(void) {
    const char *s = getenv("SSLC_FAKECUDA_CONV_WS");
    if (!s || !*s) return 256;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *end ? 256 : (size_t)v;
}

static size_t tensor_bytes(const struct cudnnTensorStruct *t) {
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w * sizeof(float);
}
static size_t filter_bytes(const struct cudnnFilterStruct *f) {
    return (size_t)f->k * (size_t)f->c * (size_t)f->h * (size_t)f->w * sizeof(float);
}

/* The one-node graph of the op: builds it, checks the descriptors' shapes against each other
 * (shape inference) and fills the reference call; 0, or a status with a line. */
static int conv_graph(const conv_op *o, ir_graph *g, ref_call *rc, char *err) {
    const char *call = conv_calls[o->kind];
    ir_shape xs = IR_SHAPE(o->x.n, o->x.c, o->x.h, o->x.w), ys = IR_SHAPE(o->y.n, o->y.c, o->y.h, o->y.w);
    ir_shape ws = IR_SHAPE(o->w.k, o->w.c, o->w.h, o->w.w);
    static const int ops[] = {OP_Conv, OP_ConvGradInput, OP_ConvGradWeight};
    ir_graph_init(g);
    int a, b;
    if (o->kind == FWD) a = ir_input(g, "x", DT_F32, xs), b = ir_input(g, "w", DT_F32, ws);
    else if (o->kind == BWD_DATA) a = ir_input(g, "dy", DT_F32, ys), b = ir_input(g, "w", DT_F32, ws);
    else a = ir_input(g, "dy", DT_F32, ys), b = ir_input(g, "x", DT_F32, xs);
    int node = ir_node_new(g, ops[o->kind], (int[]){a, b}, 2);
    int64_t st[2] = {o->c.u, o->c.v}, pd[4] = {o->c.pad_h, o->c.pad_w, o->c.pad_h, o->c.pad_w},
            dl[2] = {o->c.dil_h, o->c.dil_w};
    if (node >= 0) {
        ir_set_ints(g, node, "strides", st, 2);
        ir_set_ints(g, node, "pads", pd, 4);
        ir_set_ints(g, node, "dilations", dl, 2);
        ir_set_i(g, node, "group", o->c.groups);
        if (o->kind == BWD_DATA) ir_set_ints(g, node, "input_shape", xs.d, 4);
        if (o->kind == BWD_FILTER) ir_set_ints(g, node, "weight_shape", ws.d, 4);
    }
    int out = node >= 0 ? ir_node_finish(g, node) : -1;
    if (out < 0 || g->failed) {
        fk_say(call, "the descriptors do not describe one convolution: %s", g->err);
        ir_graph_free(g);
        return FK_DNN_BAD_PARAM;
    }
    /* the forward output must be the y descriptor */
    if (o->kind == FWD && !ir_shape_eq(&g->vals[out].shape, &ys)) {
        char s1[96], s2[96];
        ir_shape_str(&g->vals[out].shape, s1, sizeof s1);
        ir_shape_str(&ys, s2, sizeof s2);
        fk_say(call, "the output descriptor is %s, the convolution gives %s", s2, s1);
        ir_graph_free(g);
        return FK_DNN_BAD_PARAM;
    }
    memset(rc, 0, sizeof *rc);
    rc->node = &g->nodes[node];
    rc->nin = 2, rc->nout = 1, rc->err = err;
    const void *in[2] = {o->in0, o->in1};
    for (int k = 0; k < 2; k++) {
        const ir_value *v = &g->vals[k == 0 ? a : b];
        rc->in[k] = (ref_tensor){(void *)in[k], DT_F32, v->shape, ir_numel(&v->shape)};
    }
    rc->out[0] = (ref_tensor){o->out, DT_F32, g->vals[out].shape, ir_numel(&g->vals[out].shape)};
    return 0;
}

static int conv_check(const void *payload) {
    const conv_op *o = payload;
    const char *call = conv_calls[o->kind];
    size_t xb = tensor_bytes(&o->x), yb = tensor_bytes(&o->y), wb = filter_bytes(&o->w);
    size_t need = conv_ws_bytes();
    if (need && (o->ws_bytes < need || !o->ws)) {
        fk_say(call, "workspace of %zu bytes at %p, the algorithm needs %zu (its *WorkspaceSize)", o->ws_bytes, o->ws,
               need);
        return FK_DNN_BAD_PARAM;
    }
    const char *names[3][3] = {{"x", "w", "y"}, {"dy", "w", "dx"}, {"dy", "x", "dw"}};
    size_t sizes[3][3] = {{xb, wb, yb}, {yb, wb, xb}, {yb, xb, wb}};
    const void *ptrs[3] = {o->in0, o->in1, o->out};
    for (int k = 0; k < 3; k++)
        if (fk_check_dev(call, names[o->kind][k], ptrs[k], sizes[o->kind][k])) return FK_DNN_BAD_PARAM;
    if (fk_check_dev(call, "workspace", o->ws, o->ws_bytes)) return FK_DNN_BAD_PARAM;
    return 0;
}

static int conv_run(const void *payload) {
    const conv_op *o = payload;
    ir_graph g;
    ref_call rc;
    char err[IR_ERRLEN];
    int r = conv_graph(o, &g, &rc, err);
    if (r) return r;
    if (o->ws_bytes) memset(o->ws, 0xA7, o->ws_bytes);
    if (ir_optable[rc.node->op]->ref_f32(&rc)) {
        fk_say(conv_calls[o->kind], "%s", err);
        r = FK_DNN_EXECUTION_FAILED;
    }
    ir_graph_free(&g);
    return r;
}

static int scalars_ok(const char *call, const void *alpha, const void *beta) {
    if (!alpha || !beta) {
        fk_say(call, "NULL alpha or beta");
        return FK_DNN_BAD_PARAM;
    }
    float a = *(const float *)alpha, b = *(const float *)beta;
    if (a != 1.0f || b != 0.0f) {
        fk_say(call, "alpha %g, beta %g: the stand-in supports alpha = 1, beta = 0 only", a, b);
        return FK_DNN_NOT_SUPPORTED;
    }
    return 0;
}

static int descs_ok(const char *call, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                    cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y) {
    if (!x || x->magic != TENSOR_MAGIC || !x->set || !y || y->magic != TENSOR_MAGIC || !y->set || !w ||
        w->magic != FILTER_MAGIC || !w->set || !c || c->magic != CONV_MAGIC || !c->set) {
        fk_say(call, "a descriptor is not of its kind or was never set");
        return 0;
    }
    return 1;
}

static cudnnStatus_t conv_submit(cudnnHandle_t h, int kind, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                 cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, const void *in0,
                                 const void *in1, void *out, int algo, void *ws, size_t ws_bytes, const void *alpha,
                                 const void *beta) {
    const char *call = conv_calls[kind];
    if (!handle_ok(call, h)) return FK_DNN_BAD_PARAM;
    if (!descs_ok(call, x, w, c, y)) return FK_DNN_BAD_PARAM;
    int r = scalars_ok(call, alpha, beta);
    if (r) return r;
    if (algo != 0) {
        fk_say(call, "algorithm %d (the stand-in offers algorithm 0)", algo);
        return FK_DNN_NOT_SUPPORTED;
    }
    conv_op o = {kind, *x, *y, *w, *c, in0, in1, out, ws, ws_bytes};
    /* the shapes agree (checked now, so the recording call fails rather than the replay) */
    ir_graph g;
    ref_call rc;
    char err[IR_ERRLEN];
    if ((r = conv_graph(&o, &g, &rc, err))) return r;
    ir_graph_free(&g);
    r = fk_submit(h->stream, call, conv_check, conv_run, &o, sizeof o);
    return r == 0 || r >= 1000 ? r : FK_DNN_EXECUTION_FAILED; /* a driver error: execution failed */
}

FK_API cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd,
                                             const void *x, cudnnFilterDescriptor_t wd, const void *w,
                                             cudnnConvolutionDescriptor_t c, int algo, void *ws, size_t ws_bytes,
                                             const void *beta, cudnnTensorDescriptor_t yd, void *y) {
    return conv_submit(h, FWD, xd, wd, c, yd, x, w, y, algo, ws, ws_bytes, alpha, beta);
}
FK_API cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, cudnnFilterDescriptor_t wd,
                                                  const void *w, cudnnTensorDescriptor_t dyd, const void *dy,
                                                  cudnnConvolutionDescriptor_t c, int algo, void *ws, size_t ws_bytes,
                                                  const void *beta, cudnnTensorDescriptor_t dxd, void *dx) {
    return conv_submit(h, BWD_DATA, dxd, wd, c, dyd, dy, w, dx, algo, ws, ws_bytes, alpha, beta);
}
FK_API cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd,
                                                    const void *x, cudnnTensorDescriptor_t dyd, const void *dy,
                                                    cudnnConvolutionDescriptor_t c, int algo, void *ws,
                                                    size_t ws_bytes, const void *beta, cudnnFilterDescriptor_t dwd,
                                                    void *dw) {
    return conv_submit(h, BWD_FILTER, xd, dwd, c, dyd, dy, x, dw, algo, ws, ws_bytes, alpha, beta);
}

/* ---- algorithm and workspace queries: algorithm 0, SSLC_FAKECUDA_CONV_WS bytes ---- */

static cudnnStatus_t algo_query(const char *call, cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y,
                                int req, int *got, cudnn_algo_perf *p) {
    if (!handle_ok(call, h) || !descs_ok(call, x, w, c, y)) return FK_DNN_BAD_PARAM;
    if (req < 1 || !got || !p) {
        fk_say(call, "requested %d results into %p", req, (void *)p);
        return FK_DNN_BAD_PARAM;
    }
    memset(p, 0, sizeof *p);
    p->algo = 0, p->status = 0, p->time = 0, p->memory = conv_ws_bytes(), p->determinism = 1, p->mathType = c->math;
    *got = 1;
    return 0;
}
static cudnnStatus_t ws_query(const char *call, cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                              cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t y, int algo, size_t *bytes) {
    if (!handle_ok(call, h) || !descs_ok(call, x, w, c, y) || !bytes) return FK_DNN_BAD_PARAM;
    if (algo != 0) {
        fk_say(call, "algorithm %d (the stand-in offers algorithm 0)", algo);
        return FK_DNN_NOT_SUPPORTED;
    }
    *bytes = conv_ws_bytes();
    return 0;
}

FK_API cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                            cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                            cudnnTensorDescriptor_t y, int req, int *got,
                                                            cudnn_algo_perf *p) {
    return algo_query("cudnnGetConvolutionForwardAlgorithm_v7", h, x, w, c, y, req, got, p);
}
FK_API cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                             cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                             cudnnTensorDescriptor_t y, int algo, size_t *bytes) {
    return ws_query("cudnnGetConvolutionForwardWorkspaceSize", h, x, w, c, y, algo, bytes);
}
FK_API cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                                 cudnnTensorDescriptor_t dy,
                                                                 cudnnConvolutionDescriptor_t c,
                                                                 cudnnTensorDescriptor_t dx, int req, int *got,
                                                                 cudnn_algo_perf *p) {
    return algo_query("cudnnGetConvolutionBackwardDataAlgorithm_v7", h, dx, w, c, dy, req, got, p);
}
FK_API cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                                  cudnnTensorDescriptor_t dy,
                                                                  cudnnConvolutionDescriptor_t c,
                                                                  cudnnTensorDescriptor_t dx, int algo, size_t *bytes) {
    return ws_query("cudnnGetConvolutionBackwardDataWorkspaceSize", h, dx, w, c, dy, algo, bytes);
}
FK_API cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                                   cudnnTensorDescriptor_t dy,
                                                                   cudnnConvolutionDescriptor_t c,
                                                                   cudnnFilterDescriptor_t dw, int req, int *got,
                                                                   cudnn_algo_perf *p) {
    return algo_query("cudnnGetConvolutionBackwardFilterAlgorithm_v7", h, x, dw, c, dy, req, got, p);
}
FK_API cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                                    cudnnTensorDescriptor_t dy,
                                                                    cudnnConvolutionDescriptor_t c,
                                                                    cudnnFilterDescriptor_t dw, int algo,
                                                                    size_t *bytes) {
    return ws_query("cudnnGetConvolutionBackwardFilterWorkspaceSize", h, x, dw, c, dy, algo, bytes);
}

/* ---- AddTensor: c = alpha a + beta c, a broadcast over every dimension where it has 1 ---- */

typedef struct {
    struct cudnnTensorStruct ad, cd;
    const float *a;
    float *c;
    float alpha, beta;
} add_op;

static int add_check(const void *payload) {
    const add_op *o = payload;
    if (fk_check_dev("cudnnAddTensor", "a", o->a, tensor_bytes(&o->ad)) ||
        fk_check_dev("cudnnAddTensor", "c", o->c, tensor_bytes(&o->cd)))
        return FK_DNN_BAD_PARAM;
    return 0;
}

static int add_run(const void *payload) {
    const add_op *o = payload;
    const int ad[4] = {o->ad.n, o->ad.c, o->ad.h, o->ad.w}, cd[4] = {o->cd.n, o->cd.c, o->cd.h, o->cd.w};
    int64_t ast[4], s = 1;
    for (int d = 3; d >= 0; d--) ast[d] = ad[d] == 1 ? 0 : s, s *= ad[d];
    int64_t i = 0;
    for (int n = 0; n < cd[0]; n++)
        for (int ch = 0; ch < cd[1]; ch++)
            for (int y = 0; y < cd[2]; y++)
                for (int x = 0; x < cd[3]; x++, i++) {
                    float av = o->a[n * ast[0] + ch * ast[1] + y * ast[2] + x * ast[3]];
                    if (o->alpha == 1.0f && o->beta == 1.0f)
                        o->c[i] = o->c[i] + av; /* as the reference Conv adds its bias */
                    else
                        o->c[i] = o->alpha * av + (o->beta != 0.0f ? o->beta * o->c[i] : 0.0f);
                }
    return 0;
}

FK_API cudnnStatus_t cudnnAddTensor(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t ad, const void *a,
                                    const void *beta, cudnnTensorDescriptor_t cd, void *c) {
    const char *call = "cudnnAddTensor";
    if (!handle_ok(call, h)) return FK_DNN_BAD_PARAM;
    if (!ad || ad->magic != TENSOR_MAGIC || !ad->set || !cd || cd->magic != TENSOR_MAGIC || !cd->set || !alpha ||
        !beta) {
        fk_say(call, "a descriptor is not a tensor descriptor or was never set, or alpha/beta is NULL");
        return FK_DNN_BAD_PARAM;
    }
    const int an[4] = {ad->n, ad->c, ad->h, ad->w}, cn[4] = {cd->n, cd->c, cd->h, cd->w};
    for (int d = 0; d < 4; d++)
        if (an[d] != 1 && an[d] != cn[d]) {
            fk_say(call, "a [%d,%d,%d,%d] does not broadcast to c [%d,%d,%d,%d]", an[0], an[1], an[2], an[3], cn[0],
                   cn[1], cn[2], cn[3]);
            return FK_DNN_BAD_PARAM;
        }
    add_op o = {*ad, *cd, a, c, *(const float *)alpha, *(const float *)beta};
    int r = fk_submit(h->stream, call, add_check, add_run, &o, sizeof o);
    return r == 0 || r >= 1000 ? r : FK_DNN_EXECUTION_FAILED;
}
