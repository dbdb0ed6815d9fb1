/* BatchNormalization (PyTorch semantics) and BatchNormalizationGrad: every output, running
 * statistics included, against direct loops; gradients against finite differences in float64. */
#include "cnn_testutil.h"

typedef struct {
    int ndim;
    int64_t d[4];
    int affine, training;
    double eps, momentum;
} bn_case;

static ir_shape bn_xshape(const bn_case *k) { return ir_shape_make(k->ndim, k->d); }

/* builds the node; outs[0..4] receive its outputs, outs[5..] the x, scale, bias, mean, var values
 * (scale/bias -1 without affine) */
static int build_bn_all(ir_graph *g, const bn_case *k, int *outs) {
    int64_t C = k->d[1];
    int x = ir_param(g, "x", bn_xshape(k), ir_init_uniform(-1, 2), 0);
    int scale = k->affine ? ir_param(g, "scale", IR_SHAPE(C), ir_init_uniform(0.5, 1.5), VF_NO_DECAY) : -1;
    int bias = k->affine ? ir_param(g, "bias", IR_SHAPE(C), ir_init_uniform(-0.5, 0.5), VF_NO_DECAY) : -1;
    int rm = ir_state(g, "running_mean", DT_F32, IR_SHAPE(C), ir_init_uniform(-0.5, 0.5));
    int rv = ir_state(g, "running_var", DT_F32, IR_SHAPE(C), ir_init_uniform(0.5, 1.5));
    int nm = -2, nv = -2;
    int y = ir_batchnorm(g, x, scale, bias, rm, rv, k->eps, k->momentum, k->training, &nm, &nv);
    if (y < 0) return -1;
    const ir_node *n = &g->nodes[g->vals[y].producer];
    for (int i = 0; i < 5; i++) outs[i] = n->out[i];
    outs[5] = x, outs[6] = scale, outs[7] = bias, outs[8] = rm, outs[9] = rv;
    if (k->training && (nm != n->out[1] || nv != n->out[2])) return ir_fail(g, "ir_batchnorm: new stats not returned");
    if (!k->training && (nm != -1 || nv != -1)) return ir_fail(g, "ir_batchnorm: eval mode returned new stats");
    return y;
}

static int build_bn(ir_graph *g, void *ctx) {
    int outs[10];
    return build_bn_all(g, ctx, outs);
}

static int bn_fwd_case(const bn_case *k) {
    ir_graph g;
    ir_graph_init(&g);
    int outs[10];
    if (build_bn_all(&g, k, outs) < 0) {
        fprintf(stderr, "FAIL build: %s\n", g.err);
        ir_graph_free(&g);
        return 1;
    }
    int vals[10], nv = 0;
    for (int i = 0; i < 10; i++)
        if (outs[i] >= 0) vals[nv++] = outs[i];
    double *v[10];
    if (cnn_run(&g, 0, vals, nv, v)) return 1;
    /* v: y, new_mean, new_var, saved_mean, saved_invstd, x, [scale, bias,] rm, rv */
    const double *x = v[5], *sc = k->affine ? v[6] : NULL, *bi = k->affine ? v[7] : NULL;
    const double *rm = v[k->affine ? 8 : 6], *rv = v[k->affine ? 9 : 7];
    int64_t N = k->d[0], C = k->d[1], I = 1;
    for (int d = 2; d < k->ndim; d++) I *= k->d[d];
    int64_t M = N * I, nx = N * C * I;
    double *y = malloc((size_t)nx * sizeof(double)), st[4][16];
    for (int64_t c = 0; c < C; c++) {
        double mean = 0, var = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) mean += x[(n * C + c) * I + i];
        mean /= (double)M;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) var += pow(x[(n * C + c) * I + i] - mean, 2);
        double unbiased = var / (double)(M - 1);
        var /= (double)M;
        double m = k->training ? mean : rm[c], inv = 1 / sqrt((k->training ? var : rv[c]) + k->eps);
        st[0][c] = k->training ? (1 - k->momentum) * rm[c] + k->momentum * mean : rm[c];
        st[1][c] = k->training ? (1 - k->momentum) * rv[c] + k->momentum * unbiased : rv[c];
        st[2][c] = m;
        st[3][c] = inv;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) {
                int64_t j = (n * C + c) * I + i;
                y[j] = (x[j] - m) * inv * (sc ? sc[c] : 1) + (bi ? bi[c] : 0);
            }
    }
    static const char *const names[4] = {"new_running_mean", "new_running_var", "saved_mean", "saved_invstd"};
    int rc = cnn_compare("BatchNormalization Y", v[0], y, nx, 1e-5);
    for (int o = 0; o < 4 && !rc; o++) rc = cnn_compare(names[o], v[1 + o], st[o], C, 1e-5);
    free(y);
    cnn_free(v, nv);
    return rc;
}

/*                          ndim dims          affine train eps   momentum */
static const bn_case k_train4 = {4, {3, 4, 3, 2}, 1, 1, 1e-5, 0.1};
static const bn_case k_train2 = {2, {6, 3}, 0, 1, 1e-5, 0.1};
static const bn_case k_train4_na = {4, {2, 3, 2, 3}, 0, 1, 1e-3, 0.3};
static const bn_case k_train2_aff = {2, {5, 4}, 1, 1, 1e-5, 0.1};
static const bn_case k_eval4 = {4, {3, 4, 3, 2}, 1, 0, 1e-5, 0.1};
static const bn_case k_eval2 = {2, {6, 3}, 0, 0, 1e-3, 0.1};
static const bn_case k_eval4_na = {4, {2, 3, 2, 2}, 0, 0, 1e-5, 0.1};

static int bn_f(void) {
    const bn_case *cases[] = {&k_train4, &k_train2, &k_train4_na, &k_train2_aff, &k_eval4, &k_eval2, &k_eval4_na};
    for (int i = 0; i < 7; i++) CHECK(bn_fwd_case(cases[i]) == 0, "BatchNormalization forward case %d", i);
    /* training with one value per channel is an error, as in PyTorch */
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(1, 3));
    int rm = ir_state(&g, "rm", DT_F32, IR_SHAPE(3), ir_init_const(0));
    int rv = ir_state(&g, "rv", DT_F32, IR_SHAPE(3), ir_init_const(1));
    CHECK(ir_batchnorm(&g, x, -1, -1, rm, rv, 1e-5, 0.1, 1, NULL, NULL) < 0 && g.failed, "batch of 1 accepted");
    ir_graph_free(&g);
    return 0;
}

static int bn_g(void) {
    return gradcheck("BatchNormalization train 4D affine", build_bn, (void *)&k_train4, 1e-6) ||
           gradcheck("BatchNormalization train 2D", build_bn, (void *)&k_train2, 1e-6) ||
           gradcheck("BatchNormalization train 2D affine", build_bn, (void *)&k_train2_aff, 1e-6) ||
           gradcheck("BatchNormalization train 4D eps1e-3", build_bn, (void *)&k_train4_na, 1e-6) ||
           gradcheck("BatchNormalization eval 4D affine", build_bn, (void *)&k_eval4, 1e-6) ||
           gradcheck("BatchNormalization eval 2D", build_bn, (void *)&k_eval2, 1e-6);
}

/* BatchNormalizationGrad on arbitrary saved statistics against the closed form */
static int bn_grad_op_case(int ndim, const int64_t *d) {
    ir_graph g;
    ir_graph_init(&g);
    ir_shape xs = ir_shape_make(ndim, d);
    int64_t N = d[0], C = d[1], I = ir_numel(&xs) / (N * C), M = N * I;
    int gy = ir_param(&g, "gy", xs, ir_init_uniform(-1, 1), 0);
    int x = ir_param(&g, "x", xs, ir_init_uniform(-1, 2), 0);
    int sc = ir_param(&g, "scale", IR_SHAPE(C), ir_init_uniform(0.5, 1.5), 0);
    int sm = ir_param(&g, "saved_mean", IR_SHAPE(C), ir_init_uniform(0, 1), 0);
    int si = ir_param(&g, "saved_invstd", IR_SHAPE(C), ir_init_uniform(0.5, 2), 0);
    int node = ir_node_new(&g, OP_BatchNormalizationGrad, (int[]){gy, x, sc, sm, si}, 5);
    if (ir_node_finish(&g, node) < 0) {
        fprintf(stderr, "FAIL build: %s\n", g.err);
        ir_graph_free(&g);
        return 1;
    }
    int vals[8] = {g.nodes[node].out[0], g.nodes[node].out[1], g.nodes[node].out[2], gy, x, sc, sm, si};
    double *v[8];
    if (cnn_run(&g, 0, vals, 8, v)) return 1;
    int64_t nx = ir_numel(&xs);
    double *dx = malloc((size_t)nx * sizeof(double)), dsc[16] = {0}, dbi[16] = {0};
    for (int64_t c = 0; c < C; c++) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) {
                int64_t j = (n * C + c) * I + i;
                dbi[c] += v[3][j];
                dsc[c] += v[3][j] * (v[4][j] - v[6][c]) * v[7][c];
            }
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < I; i++) {
                int64_t j = (n * C + c) * I + i;
                double xhat = (v[4][j] - v[6][c]) * v[7][c];
                dx[j] = v[5][c] * v[7][c] / (double)M * ((double)M * v[3][j] - dbi[c] - xhat * dsc[c]);
            }
    }
    int rc = cnn_compare("BatchNormalizationGrad dX", v[0], dx, nx, 1e-5) ||
             cnn_compare("BatchNormalizationGrad dscale", v[1], dsc, C, 1e-5) ||
             cnn_compare("BatchNormalizationGrad dbias", v[2], dbi, C, 1e-5);
    free(dx);
    cnn_free(v, 8);
    return rc;
}

static int bn_grad_f(void) {
    CHECK(bn_grad_op_case(4, (int64_t[]){3, 4, 2, 3}) == 0, "BatchNormalizationGrad 4D");
    CHECK(bn_grad_op_case(2, (int64_t[]){7, 3}) == 0, "BatchNormalizationGrad 2D");
    return 0;
}

OPTEST_FAMILY(batchnorm) = {{"BatchNormalization", bn_f, bn_g},
                            {"BatchNormalizationGrad", bn_grad_f, NULL},
                            {NULL, NULL, NULL}};
