/* Conv, ConvGradInput, ConvGradWeight: forward against direct loops, gradients against finite
 * differences in float64 (the gradient ops are exercised by the Conv gradchecks). */
#include "cnn_testutil.h"

typedef struct {
    int64_t N, C, H, W, M, KH, KW;
    int64_t sh, sw, phb, pwb, phe, pwe, dh, dw, G;
    int bias;
    int builder; /* build through ir_conv (symmetric stride/pad, no dilation) */
} conv_case;

static int64_t out_h(const conv_case *k) { return (k->H + k->phb + k->phe - k->dh * (k->KH - 1) - 1) / k->sh + 1; }
static int64_t out_w(const conv_case *k) { return (k->W + k->pwb + k->pwe - k->dw * (k->KW - 1) - 1) / k->sw + 1; }

static void set_conv_attrs(ir_graph *g, int node, const conv_case *k) {
    int64_t s[2] = {k->sh, k->sw}, p[4] = {k->phb, k->pwb, k->phe, k->pwe}, d[2] = {k->dh, k->dw};
    ir_set_ints(g, node, "strides", s, 2);
    ir_set_ints(g, node, "pads", p, 4);
    ir_set_ints(g, node, "dilations", d, 2);
    ir_set_i(g, node, "group", k->G);
}

static int x_param(ir_graph *g, const conv_case *k) {
    return ir_param(g, "x", IR_SHAPE(k->N, k->C, k->H, k->W), ir_init_uniform(-1, 1), 0);
}
static int w_param(ir_graph *g, const conv_case *k) {
    return ir_param(g, "w", IR_SHAPE(k->M, k->C / k->G, k->KH, k->KW), ir_init_uniform(-1, 1), 0);
}
static int gy_param(ir_graph *g, const conv_case *k) {
    return ir_param(g, "gy", IR_SHAPE(k->N, k->M, out_h(k), out_w(k)), ir_init_uniform(-1, 1), 0);
}

static int build_conv(ir_graph *g, void *ctx) {
    const conv_case *k = ctx;
    int x = x_param(g, k), w = w_param(g, k);
    int b = k->bias ? ir_param(g, "b", IR_SHAPE(k->M), ir_init_uniform(-1, 1), 0) : -1;
    if (k->builder) return ir_conv(g, x, w, b, (int)k->sh, (int)k->phb, (int)k->G);
    int node = ir_node_new(g, OP_Conv, (int[]){x, w, b}, k->bias ? 3 : 2);
    set_conv_attrs(g, node, k);
    return ir_node_finish(g, node);
}

/* for every (n, m, oh, ow, c, ki, kj) tap that reads a real input cell: f(y index, x index, w index) */
#define CONV_TAPS(k, BODY)                                                                                          \
    do {                                                                                                           \
        int64_t OH = out_h(k), OW = out_w(k), Cg = (k)->C / (k)->G, Mg = (k)->M / (k)->G;                           \
        for (int64_t n = 0; n < (k)->N; n++)                                                                       \
            for (int64_t m = 0; m < (k)->M; m++)                                                                   \
                for (int64_t oh = 0; oh < OH; oh++)                                                                \
                    for (int64_t ow = 0; ow < OW; ow++)                                                            \
                        for (int64_t c = 0; c < Cg; c++)                                                           \
                            for (int64_t ki = 0; ki < (k)->KH; ki++)                                               \
                                for (int64_t kj = 0; kj < (k)->KW; kj++) {                                         \
                                    int64_t ih = oh * (k)->sh - (k)->phb + ki * (k)->dh;                           \
                                    int64_t iw = ow * (k)->sw - (k)->pwb + kj * (k)->dw;                           \
                                    if (ih < 0 || ih >= (k)->H || iw < 0 || iw >= (k)->W) continue;                \
                                    int64_t yi = ((n * (k)->M + m) * OH + oh) * OW + ow;                           \
                                    int64_t xi = ((n * (k)->C + (m / Mg) * Cg + c) * (k)->H + ih) * (k)->W + iw;   \
                                    int64_t wi = ((m * Cg + c) * (k)->KH + ki) * (k)->KW + kj;                     \
                                    BODY;                                                                          \
                                }                                                                                  \
    } while (0)

static int conv_fwd_case(const conv_case *k) {
    ir_graph g;
    ir_graph_init(&g);
    int y = build_conv(&g, (void *)k);
    int x = ir_find_value(&g, "x"), w = ir_find_value(&g, "w"), b = ir_find_value(&g, "b");
    int vals[4] = {y, x, w, b};
    double *v[4];
    if (cnn_run(&g, 0, vals, k->bias ? 4 : 3, v)) return 1;
    int64_t ny = k->N * k->M * out_h(k) * out_w(k), P = out_h(k) * out_w(k);
    double *want = calloc((size_t)ny, sizeof(double));
    const double *xv = v[1], *wv = v[2];
    for (int64_t i = 0; i < ny && k->bias; i++) want[i] = v[3][(i / P) % k->M];
    CONV_TAPS(k, want[yi] += xv[xi] * wv[wi]);
    int rc = cnn_compare("Conv", v[0], want, ny, 1e-5);
    free(want);
    cnn_free(v, k->bias ? 4 : 3);
    return rc;
}

/* ConvGradInput(gY, W) and ConvGradWeight(gY, X) against scatter loops over the same taps */
static int conv_grad_op_case(const conv_case *k, int op) {
    ir_graph g;
    ir_graph_init(&g);
    int gy = gy_param(&g, k), other = op == OP_ConvGradInput ? w_param(&g, k) : x_param(&g, k);
    int node = ir_node_new(&g, op, (int[]){gy, other}, 2);
    set_conv_attrs(&g, node, k);
    ir_shape s = op == OP_ConvGradInput ? IR_SHAPE(k->N, k->C, k->H, k->W) : IR_SHAPE(k->M, k->C / k->G, k->KH, k->KW);
    ir_set_ints(&g, node, op == OP_ConvGradInput ? "input_shape" : "weight_shape", s.d, 4);
    int out = ir_node_finish(&g, node);
    int vals[3] = {out, gy, other};
    double *v[3];
    if (cnn_run(&g, 0, vals, 3, v)) return 1;
    int64_t n = ir_numel(&s);
    double *want = calloc((size_t)n, sizeof(double));
    const double *gyv = v[1], *ov = v[2];
    if (op == OP_ConvGradInput)
        CONV_TAPS(k, want[xi] += gyv[yi] * ov[wi]);
    else
        CONV_TAPS(k, want[wi] += gyv[yi] * ov[xi]);
    int rc = cnn_compare(ir_optable[op]->name, v[0], want, n, 1e-5);
    free(want);
    cnn_free(v, 3);
    return rc;
}

/*                         N  C  H  W  M KH KW sh sw phb pwb phe pwe dh dw G bias builder */
static const conv_case k_bias_s1p1 = {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const conv_case k_nobias_s2 = {2, 3, 7, 8, 4, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 1};
static const conv_case k_group2 = {2, 4, 5, 5, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1, 1};
static const conv_case k_group2_s2 = {1, 4, 6, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 0, 1};
static const conv_case k_depthwise = {2, 3, 5, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1};
static const conv_case k_asym = {2, 2, 6, 7, 3, 2, 3, 1, 2, 1, 0, 0, 2, 2, 1, 1, 1, 0};
static const conv_case k_1x1_s2 = {3, 4, 5, 5, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 1};
/* big enough that the batch is split into column chunks of 2 + 1 samples */
static const conv_case k_chunked = {3, 64, 56, 56, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
/* one sample per chunk */
static const conv_case k_big1 = {2, 64, 64, 64, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};

static const conv_case *const fwd_cases[] = {&k_bias_s1p1, &k_nobias_s2, &k_group2, &k_group2_s2, &k_depthwise,
                                             &k_asym, &k_1x1_s2, &k_chunked, &k_big1};
#define NFWD (int)(sizeof fwd_cases / sizeof fwd_cases[0])

static int conv_f(void) {
    for (int i = 0; i < NFWD; i++)
        CHECK(conv_fwd_case(fwd_cases[i]) == 0, "Conv forward case %d", i);
    return 0;
}
static int conv_grad_input_f(void) {
    for (int i = 0; i < NFWD; i++)
        CHECK(conv_grad_op_case(fwd_cases[i], OP_ConvGradInput) == 0, "ConvGradInput case %d", i);
    return 0;
}
static int conv_grad_weight_f(void) {
    for (int i = 0; i < NFWD; i++)
        CHECK(conv_grad_op_case(fwd_cases[i], OP_ConvGradWeight) == 0, "ConvGradWeight case %d", i);
    return 0;
}

/* Shape errors are reported, not crashed on. */
static int conv_bad_shapes(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(1, 3, 5, 5));
    int w = ir_param(&g, "w", IR_SHAPE(4, 2, 3, 3), ir_init_uniform(-1, 1), 0);
    CHECK(ir_conv(&g, x, w, -1, 1, 0, 1) < 0 && g.failed && strstr(g.err, "Conv"), "bad channel count accepted");
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(1, 3, 2, 2));
    w = ir_param(&g, "w", IR_SHAPE(4, 3, 3, 3), ir_init_uniform(-1, 1), 0);
    CHECK(ir_conv(&g, x, w, -1, 1, 0, 1) < 0 && g.failed, "kernel larger than input accepted");
    ir_graph_free(&g);
    return 0;
}

/* small cases for finite differences (a few hundred elements) */
static const conv_case g_bias_s1p1 = {2, 3, 5, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const conv_case g_s2_nonsquare = {2, 2, 6, 5, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 1};
static const conv_case g_group2 = {2, 4, 4, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1};
static const conv_case g_asym = {2, 2, 5, 6, 2, 2, 3, 2, 1, 0, 1, 1, 0, 2, 1, 1, 1, 0};

static int conv_g(void) {
    return gradcheck("Conv bias stride1 pad1", build_conv, (void *)&g_bias_s1p1, 1e-6) ||
           gradcheck("Conv stride2 non-square", build_conv, (void *)&g_s2_nonsquare, 1e-6) ||
           gradcheck("Conv groups2", build_conv, (void *)&g_group2, 1e-6) ||
           gradcheck("Conv asym pads dilation", build_conv, (void *)&g_asym, 1e-6) || conv_bad_shapes();
}

OPTEST_FAMILY(conv) = {{"Conv", conv_f, conv_g},
                       {"ConvGradInput", conv_grad_input_f, NULL},
                       {"ConvGradWeight", conv_grad_weight_f, NULL},
                       {NULL, NULL, NULL}};
