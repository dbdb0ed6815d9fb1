/* LayerNormalization (ONNX / torch.nn.LayerNorm semantics) and LayerNormalizationGrad: every
 * output against direct loops in float32 and float64 storage, gradients of x, scale and bias
 * against finite differences in float64 for 2-D, 3-D and 4-D inputs and several axes, and
 * clear failures for bad shapes. */
#include "cnn_testutil.h"

typedef struct {
    int ndim;
    int64_t d[4];
    int axis; /* as given to the op (may be negative) */
    int scale, bias;
    double eps;
} ln_case;

static ir_shape ln_xshape(const ln_case *k) { return ir_shape_make(k->ndim, k->d); }
static int ln_axis(const ln_case *k) { return k->axis < 0 ? k->axis + k->ndim : k->axis; }
static ir_shape ln_nshape(const ln_case *k) {
    int a = ln_axis(k);
    return ir_shape_make(k->ndim - a, k->d + a);
}

/* outs[0..2]: Y, Mean, InvStdDev; outs[3..5]: x, scale, bias (-1 when absent) */
static int build_ln_all(ir_graph *g, const ln_case *k, int *outs) {
    int x = ir_param(g, "x", ln_xshape(k), ir_init_uniform(-1, 2), 0);
    int sc = k->scale ? ir_param(g, "scale", ln_nshape(k), ir_init_uniform(0.5, 1.5), VF_NO_DECAY) : -1;
    int bi = k->bias ? ir_param(g, "bias", ln_nshape(k), ir_init_uniform(-0.5, 0.5), VF_NO_DECAY) : -1;
    int y = ir_layernorm(g, x, sc, bi, k->axis, k->eps);
    if (y < 0) return -1;
    const ir_node *n = &g->nodes[g->vals[y].producer];
    for (int i = 0; i < 3; i++) outs[i] = n->out[i];
    outs[3] = x, outs[4] = sc, outs[5] = bi;
    return y;
}

static int build_ln(ir_graph *g, void *ctx) {
    int outs[6];
    return build_ln_all(g, ctx, outs);
}

static int ln_fwd_case(const ln_case *k, int f64) {
    ir_graph g;
    ir_graph_init(&g);
    int outs[6];
    if (build_ln_all(&g, k, outs) < 0) {
        fprintf(stderr, "FAIL build: %s\n", g.err);
        ir_graph_free(&g);
        return 1;
    }
    ir_shape xs = ln_xshape(k), ss = xs;
    for (int d = ln_axis(k); d < k->ndim; d++) ss.d[d] = 1;
    if (!ir_shape_eq(&g.vals[outs[1]].shape, &ss) || !ir_shape_eq(&g.vals[outs[2]].shape, &ss)) {
        fprintf(stderr, "FAIL LayerNormalization: statistics shape is not X's with normalized dims set to 1\n");
        ir_graph_free(&g);
        return 1;
    }
    int vals[6], nv = 0;
    for (int i = 0; i < 6; i++)
        if (outs[i] >= 0) vals[nv++] = outs[i];
    double *v[6];
    if (cnn_run(&g, f64, vals, nv, v)) return 1;
    const double *x = v[3], *sc = k->scale ? v[4] : NULL, *bi = k->bias ? v[k->scale ? 5 : 4] : NULL;
    ir_shape ns = ln_nshape(k);
    int64_t nx = ir_numel(&xs), C = ir_numel(&ns), R = nx / C;
    double *y = malloc((size_t)nx * sizeof(double)), *mo = malloc((size_t)R * sizeof(double)),
           *io = malloc((size_t)R * sizeof(double));
    for (int64_t r = 0; r < R; r++) {
        double mean = 0, var = 0;
        for (int64_t j = 0; j < C; j++) mean += x[r * C + j];
        mean /= (double)C;
        for (int64_t j = 0; j < C; j++) var += pow(x[r * C + j] - mean, 2);
        var /= (double)C;
        mo[r] = mean;
        io[r] = 1 / sqrt(var + k->eps);
        for (int64_t j = 0; j < C; j++)
            y[r * C + j] = (x[r * C + j] - mean) * io[r] * (sc ? sc[j] : 1) + (bi ? bi[j] : 0);
    }
    double tol = f64 ? 1e-12 : 1e-6;
    int rc = cnn_compare("LayerNormalization Y", v[0], y, nx, tol) ||
             cnn_compare("LayerNormalization Mean", v[1], mo, R, tol) ||
             cnn_compare("LayerNormalization InvStdDev", v[2], io, R, tol);
    free(y);
    free(mo);
    free(io);
    cnn_free(v, nv);
    return rc;
}

/*                          ndim dims          axis scale bias eps */
static const ln_case k_2d = {2, {5, 6}, -1, 1, 1, 1e-5};
static const ln_case k_3d = {3, {2, 3, 8}, -1, 1, 1, 1e-6};
static const ln_case k_3d_ax1 = {3, {3, 2, 4}, 1, 1, 1, 1e-5};
static const ln_case k_4d_ax2 = {4, {2, 2, 3, 2}, -2, 1, 1, 1e-5};
static const ln_case k_2d_nobias = {2, {4, 7}, 1, 1, 0, 1e-5};
static const ln_case k_3d_noaff = {3, {2, 2, 5}, 2, 0, 0, 1e-3};
static const ln_case k_1d = {1, {9}, 0, 1, 1, 1e-5};

static int ln_f(void) {
    const ln_case *cases[] = {&k_2d, &k_3d, &k_3d_ax1, &k_4d_ax2, &k_2d_nobias, &k_3d_noaff, &k_1d};
    for (int i = 0; i < 7; i++)
        for (int f64 = 0; f64 < 2; f64++)
            CHECK(ln_fwd_case(cases[i], f64) == 0, "LayerNormalization forward case %d (%s)", i, f64 ? "f64" : "f32");
    /* a constant row normalizes to the bias (variance 0, finite thanks to eps) */
    {
        ir_graph g;
        ir_graph_init(&g);
        float ones[8] = {3, 3, 3, 3, 3, 3, 3, 3}, b[4] = {0.5f, -1, 2, 0};
        int x = ir_const(&g, DT_F32, IR_SHAPE(2, 4), ones);
        int bi = ir_const(&g, DT_F32, IR_SHAPE(4), b);
        int y = ir_layernorm(&g, x, -1, bi, -1, 1e-5);
        double *v[1];
        CHECK(y >= 0 && cnn_run(&g, 0, &y, 1, v) == 0, "constant rows");
        double want[8] = {0.5, -1, 2, 0, 0.5, -1, 2, 0};
        int rc = cnn_compare("LayerNormalization constant rows", v[0], want, 8, 0);
        cnn_free(v, 1);
        CHECK(rc == 0, "constant rows");
    }
    /* errors: scale of the wrong shape, axis out of range, integer input, eps <= 0 */
    struct {
        const char *what, *needle;
    } bad[] = {{"scale shape", "scale has shape"}, {"axis", "axis 3 out of range"},
               {"dtype", "float input"},          {"eps", "epsilon"},
               {"bias shape", "bias has shape"}};
    for (int i = 0; i < 5; i++) {
        ir_graph g;
        ir_graph_init(&g);
        int x = i == 2 ? ir_input(&g, "x", DT_I64, IR_SHAPE(2, 3, 4)) : ir_input(&g, "x", DT_F32, IR_SHAPE(2, 3, 4));
        int sc = ir_param(&g, "s", i == 0 ? IR_SHAPE(3, 4) : IR_SHAPE(4), ir_init_const(1), 0);
        int bi = ir_param(&g, "b", i == 4 ? IR_SHAPE(3) : IR_SHAPE(4), ir_init_const(0), 0);
        int y = ir_layernorm(&g, x, sc, bi, i == 1 ? 3 : -1, i == 3 ? 0 : 1e-5);
        int ok = y < 0 && g.failed && strstr(g.err, bad[i].needle);
        if (!ok) fprintf(stderr, "FAIL LayerNormalization bad %s: %s\n", bad[i].what, g.err);
        ir_graph_free(&g);
        if (!ok) return 1;
    }
    return 0;
}

static int ln_g(void) {
    return gradcheck("LayerNormalization 2D", build_ln, (void *)&k_2d, 1e-6) ||
           gradcheck("LayerNormalization 3D", build_ln, (void *)&k_3d, 1e-6) ||
           gradcheck("LayerNormalization 3D axis 1", build_ln, (void *)&k_3d_ax1, 1e-6) ||
           gradcheck("LayerNormalization 4D axis -2", build_ln, (void *)&k_4d_ax2, 1e-6) ||
           gradcheck("LayerNormalization 2D no bias", build_ln, (void *)&k_2d_nobias, 1e-6) ||
           gradcheck("LayerNormalization 3D no affine", build_ln, (void *)&k_3d_noaff, 1e-6);
}

/* LayerNormalizationGrad on arbitrary statistics against the closed form */
static int ln_grad_op_case(int ndim, const int64_t *d, int axis, int f64) {
    ir_graph g;
    ir_graph_init(&g);
    ir_shape xs = ir_shape_make(ndim, d), ns, ss = xs;
    int a = axis < 0 ? axis + ndim : axis;
    ns = ir_shape_make(ndim - a, d + a);
    for (int k = a; k < ndim; k++) ss.d[k] = 1;
    int64_t nx = ir_numel(&xs), C = ir_numel(&ns), R = nx / C;
    int gy = ir_param(&g, "gy", xs, ir_init_uniform(-1, 1), 0);
    int x = ir_param(&g, "x", xs, ir_init_uniform(-1, 2), 0);
    int sc = ir_param(&g, "scale", ns, ir_init_uniform(0.5, 1.5), 0);
    int mi = ir_param(&g, "mean", ss, ir_init_uniform(0, 1), 0);
    int ii = ir_param(&g, "invstd", ss, ir_init_uniform(0.5, 2), 0);
    int node = ir_node_new(&g, OP_LayerNormalizationGrad, (int[]){gy, x, sc, mi, ii}, 5);
    ir_set_i(&g, node, "axis", axis);
    if (ir_node_finish(&g, node) < 0) {
        fprintf(stderr, "FAIL build: %s\n", g.err);
        ir_graph_free(&g);
        return 1;
    }
    int vals[8] = {g.nodes[node].out[0], g.nodes[node].out[1], g.nodes[node].out[2], gy, x, sc, mi, ii};
    double *v[8];
    if (cnn_run(&g, f64, vals, 8, v)) return 1;
    double *dx = malloc((size_t)nx * sizeof(double)), *dsc = calloc((size_t)C, sizeof(double)),
           *dbi = calloc((size_t)C, sizeof(double));
    for (int64_t r = 0; r < R; r++) {
        double mg = 0, mgx = 0;
        for (int64_t j = 0; j < C; j++) {
            int64_t i = r * C + j;
            double xhat = (v[4][i] - v[6][r]) * v[7][r];
            mg += v[3][i] * v[5][j] / (double)C;
            mgx += v[3][i] * v[5][j] * xhat / (double)C;
            dsc[j] += v[3][i] * xhat;
            dbi[j] += v[3][i];
        }
        for (int64_t j = 0; j < C; j++) {
            int64_t i = r * C + j;
            double xhat = (v[4][i] - v[6][r]) * v[7][r];
            dx[i] = v[7][r] * (v[3][i] * v[5][j] - mg - xhat * mgx);
        }
    }
    double tol = f64 ? 1e-12 : 1e-6;
    int rc = cnn_compare("LayerNormalizationGrad dX", v[0], dx, nx, tol) ||
             cnn_compare("LayerNormalizationGrad dScale", v[1], dsc, C, tol) ||
             cnn_compare("LayerNormalizationGrad dB", v[2], dbi, C, tol);
    free(dx);
    free(dsc);
    free(dbi);
    cnn_free(v, 8);
    return rc;
}

static int ln_grad_f(void) {
    for (int f64 = 0; f64 < 2; f64++) {
        CHECK(ln_grad_op_case(2, (int64_t[]){5, 6}, -1, f64) == 0, "LayerNormalizationGrad 2D");
        CHECK(ln_grad_op_case(3, (int64_t[]){2, 3, 4}, 1, f64) == 0, "LayerNormalizationGrad 3D axis 1");
        CHECK(ln_grad_op_case(4, (int64_t[]){2, 3, 2, 2}, -1, f64) == 0, "LayerNormalizationGrad 4D");
    }
    return 0;
}

OPTEST_FAMILY(norm) = {{"LayerNormalization", ln_f, ln_g},
                       {"LayerNormalizationGrad", ln_grad_f, NULL},
                       {NULL, NULL, NULL}};
