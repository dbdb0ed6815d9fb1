/* MaxPool, MaxPoolGrad, GlobalAveragePool: forward against direct loops, gradients against
 * finite differences in float64. */
#include "cnn_testutil.h"

typedef struct {
    int64_t N, C, H, W, KH, KW, sh, sw, phb, pwb, phe, pwe;
    double lo, hi; /* input range */
    int builder;   /* build through ir_maxpool (square kernel, symmetric stride/pad) */
} pool_case;

static int64_t p_oh(const pool_case *k) { return (k->H + k->phb + k->phe - k->KH) / k->sh + 1; }
static int64_t p_ow(const pool_case *k) { return (k->W + k->pwb + k->pwe - k->KW) / k->sw + 1; }

static void set_pool_attrs(ir_graph *g, int node, const pool_case *k) {
    int64_t ks[2] = {k->KH, k->KW}, s[2] = {k->sh, k->sw}, p[4] = {k->phb, k->pwb, k->phe, k->pwe};
    ir_set_ints(g, node, "kernel_shape", ks, 2);
    ir_set_ints(g, node, "strides", s, 2);
    ir_set_ints(g, node, "pads", p, 4);
}

static int x_param(ir_graph *g, const pool_case *k) {
    ir_init init = k->lo == k->hi ? ir_init_const(k->lo) : ir_init_uniform(k->lo, k->hi);
    return ir_param(g, "x", IR_SHAPE(k->N, k->C, k->H, k->W), init, 0);
}

static int build_maxpool(ir_graph *g, void *ctx) {
    const pool_case *k = ctx;
    int x = x_param(g, k);
    if (k->builder) return ir_maxpool(g, x, (int)k->KH, (int)k->sh, (int)k->phb);
    int node = ir_node_new(g, OP_MaxPool, &x, 1);
    set_pool_attrs(g, node, k);
    return ir_node_finish(g, node);
}

/* index (in x) of the first maximum of window (n, c, oh, ow), as PyTorch picks it */
static int64_t ref_argmax(const pool_case *k, const double *x, int64_t n, int64_t c, int64_t oh, int64_t ow) {
    int64_t best = -1;
    for (int64_t ki = 0; ki < k->KH; ki++)
        for (int64_t kj = 0; kj < k->KW; kj++) {
            int64_t ih = oh * k->sh - k->phb + ki, iw = ow * k->sw - k->pwb + kj;
            if (ih < 0 || ih >= k->H || iw < 0 || iw >= k->W) continue; /* padding never wins */
            int64_t i = ((n * k->C + c) * k->H + ih) * k->W + iw;
            if (best < 0 || x[i] > x[best]) best = i;
        }
    return best;
}

static int maxpool_fwd_case(const pool_case *k) {
    ir_graph g;
    ir_graph_init(&g);
    int y = build_maxpool(&g, (void *)k), x = ir_find_value(&g, "x");
    int vals[2] = {y, x};
    double *v[2];
    if (cnn_run(&g, 0, vals, 2, v)) return 1;
    int64_t OH = p_oh(k), OW = p_ow(k), ny = k->N * k->C * OH * OW;
    double *want = malloc((size_t)ny * sizeof(double));
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t c = 0; c < k->C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++)
                    want[((n * k->C + c) * OH + oh) * OW + ow] = v[1][ref_argmax(k, v[1], n, c, oh, ow)];
    int rc = cnn_compare("MaxPool", v[0], want, ny, 0);
    free(want);
    cnn_free(v, 2);
    return rc;
}

static int maxpool_grad_op_case(const pool_case *k) {
    ir_graph g;
    ir_graph_init(&g);
    int64_t OH = p_oh(k), OW = p_ow(k);
    int gy = ir_param(&g, "gy", IR_SHAPE(k->N, k->C, OH, OW), ir_init_uniform(-1, 1), 0), x = x_param(&g, k);
    int node = ir_node_new(&g, OP_MaxPoolGrad, (int[]){gy, x}, 2);
    set_pool_attrs(&g, node, k);
    int dx = ir_node_finish(&g, node);
    int vals[3] = {dx, gy, x};
    double *v[3];
    if (cnn_run(&g, 0, vals, 3, v)) return 1;
    int64_t nx = k->N * k->C * k->H * k->W;
    double *want = calloc((size_t)nx, sizeof(double));
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t c = 0; c < k->C; c++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++)
                    want[ref_argmax(k, v[2], n, c, oh, ow)] += v[1][((n * k->C + c) * OH + oh) * OW + ow];
    int rc = cnn_compare("MaxPoolGrad", v[0], want, nx, 1e-6);
    free(want);
    cnn_free(v, 3);
    return rc;
}

/*                           N  C  H  W KH KW sh sw phb pwb phe pwe lo  hi  builder */
static const pool_case k_3s2p1 = {2, 3, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, -1, 1, 1};
static const pool_case k_2s2 = {2, 2, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0, -1, 1, 1};
/* all inputs negative: a padded cell (0) must never be the maximum */
static const pool_case k_negative = {1, 2, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, -2, -1, 1};
static const pool_case k_asym = {2, 2, 5, 7, 2, 3, 1, 2, 1, 0, 0, 2, -1, 1, 0};
/* every value ties: the first cell of each window wins */
static const pool_case k_ties = {1, 2, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 1};
static const pool_case *const fwd_cases[] = {&k_3s2p1, &k_2s2, &k_negative, &k_asym, &k_ties};
#define NFWD (int)(sizeof fwd_cases / sizeof fwd_cases[0])

static int maxpool_f(void) {
    for (int i = 0; i < NFWD; i++) CHECK(maxpool_fwd_case(fwd_cases[i]) == 0, "MaxPool forward case %d", i);
    ir_graph g; /* a window of padding only is rejected */
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(1, 1, 4, 4));
    CHECK(ir_maxpool(&g, x, 2, 2, 2) < 0 && g.failed && strstr(g.err, "MaxPool"), "pad >= kernel accepted");
    ir_graph_free(&g);
    return 0;
}
static int maxpool_grad_f(void) {
    for (int i = 0; i < NFWD; i++) CHECK(maxpool_grad_op_case(fwd_cases[i]) == 0, "MaxPoolGrad case %d", i);
    return 0;
}

static const pool_case g_3s2p1 = {2, 2, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, -1, 1, 1};
static const pool_case g_overlap = {2, 2, 5, 5, 2, 3, 1, 1, 1, 0, 0, 2, -1, 1, 0};
static int maxpool_g(void) {
    return gradcheck("MaxPool k3 s2 p1", build_maxpool, (void *)&g_3s2p1, 1e-6) ||
           gradcheck("MaxPool overlapping asym pads", build_maxpool, (void *)&g_overlap, 1e-6);
}

/* GlobalAveragePool over [2,3,4,5] */
static int build_gap(ir_graph *g, void *ctx) {
    (void)ctx;
    int x = ir_param(g, "x", IR_SHAPE(2, 3, 4, 5), ir_init_uniform(-1, 1), 0);
    return ir_global_avg_pool(g, x);
}
static int gap_f(void) {
    ir_graph g;
    ir_graph_init(&g);
    int y = build_gap(&g, NULL), x = ir_find_value(&g, "x");
    ir_shape ys = IR_SHAPE(2, 3, 1, 1);
    CHECK(y >= 0 && ir_shape_eq(&g.vals[y].shape, &ys), "GlobalAveragePool shape");
    int vals[2] = {y, x};
    double *v[2], want[6] = {0};
    if (cnn_run(&g, 0, vals, 2, v)) return 1;
    for (int p = 0; p < 6; p++) {
        for (int i = 0; i < 20; i++) want[p] += v[1][p * 20 + i];
        want[p] /= 20;
    }
    int rc = cnn_compare("GlobalAveragePool", v[0], want, 6, 1e-6);
    cnn_free(v, 2);
    return rc;
}
static int gap_g(void) { return gradcheck("GlobalAveragePool", build_gap, NULL, 1e-6); }

OPTEST_FAMILY(pool) = {{"MaxPool", maxpool_f, maxpool_g},
                       {"MaxPoolGrad", maxpool_grad_f, NULL},
                       {"GlobalAveragePool", gap_f, gap_g},
                       {NULL, NULL, NULL}};
