#include <stdlib.h>

#include "../optest.h"
#include "passes/autodiff.h"
#include "runtime/init.h"
#include "runtime/interp.h"

/* A binary op on shapes [2,3,4] (x) and a broadcast operand, checked against plain C. */
typedef struct {
    int op;
    ir_shape sa, sb;
    double lo_a, hi_a, lo_b, hi_b;
    int ge; /* Where0 attribute */
} bin_ctx;

static int build_bin(ir_graph *g, void *vctx) {
    bin_ctx *c = vctx;
    int a = ir_param(g, "a", c->sa, ir_init_uniform(c->lo_a, c->hi_a), 0);
    int b = ir_param(g, "b", c->sb, ir_init_uniform(c->lo_b, c->hi_b), 0);
    int n = ir_node_new(g, c->op, (int[]){a, b}, 2);
    if (c->op == OP_Where0) ir_set_i(g, n, "ge", c->ge);
    return ir_node_finish(g, n);
}

static double ref_bin(int op, double a, double b, int ge) {
    switch (op) {
    case OP_Add: return a + b;
    case OP_Sub: return a - b;
    case OP_Mul: return a * b;
    case OP_Div: return a / b;
    case OP_Pow: return pow(a, b);
    case OP_Max: return a > b ? a : b;
    case OP_Where0: return (ge ? a >= 0 : a > 0) ? b : 0;
    case OP_GeluGrad: return a * (0.5 * (1 + erf(b / sqrt(2))) + b * exp(-0.5 * b * b) / sqrt(2 * M_PI));
    }
    return NAN;
}

/* a: [2,3,4], b: [3,1] broadcast; inputs are drawn by the same init recipe as in the graph,
 * so rebuild them from the interpreter run through a second graph that outputs a and b. */
static int fwd_bin(int op, double lo_a, double hi_a, double lo_b, double hi_b, int ge) {
    bin_ctx c = {op, IR_SHAPE(2, 3, 4), IR_SHAPE(3, 1), lo_a, hi_a, lo_b, hi_b, ge};
    float y[24], a[24], b[3];
    if (run_forward_f32(build_bin, &c, y, 24)) return 1;
    /* recover a and b: identical recipes and names draw identical values */
    ir_graph g;
    ir_graph_init(&g);
    int va = ir_param(&g, "a", c.sa, ir_init_uniform(lo_a, hi_a), 0);
    int vb = ir_param(&g, "b", c.sb, ir_init_uniform(lo_b, hi_b), 0);
    char err[IR_ERRLEN];
    init_value_f32(&g, va, 1234, a, err);
    init_value_f32(&g, vb, 1234, b, err);
    ir_graph_free(&g);
    for (int i = 0; i < 24; i++) {
        double want = ref_bin(op, a[i], b[(i / 4) % 3], ge);
        CHECK(fabs(y[i] - want) <= 1e-5 * (1 + fabs(want)), "%s[%d] = %g, want %g", ir_optable[op]->name, i, y[i], want);
    }
    return 0;
}

static int grad_bin(int op, double lo_a, double hi_a, double lo_b, double hi_b) {
    bin_ctx c1 = {op, IR_SHAPE(2, 3, 4), IR_SHAPE(3, 1), lo_a, hi_a, lo_b, hi_b, 0};
    bin_ctx c2 = {op, IR_SHAPE(4), IR_SHAPE(2, 3, 4), lo_a, hi_a, lo_b, hi_b, 0};
    return gradcheck(ir_optable[op]->name, build_bin, &c1, 1e-6) || gradcheck(ir_optable[op]->name, build_bin, &c2, 1e-6);
}

static int add_f(void) { return fwd_bin(OP_Add, -1, 1, -1, 1, 0); }
static int add_g(void) { return grad_bin(OP_Add, -1, 1, -1, 1); }
static int sub_f(void) { return fwd_bin(OP_Sub, -1, 1, -1, 1, 0); }
static int sub_g(void) { return grad_bin(OP_Sub, -1, 1, -1, 1); }
static int mul_f(void) { return fwd_bin(OP_Mul, -1, 1, -1, 1, 0); }
static int mul_g(void) { return grad_bin(OP_Mul, -1, 1, -1, 1); }
static int div_f(void) { return fwd_bin(OP_Div, -1, 1, 0.5, 2, 0); }
static int div_g(void) { return grad_bin(OP_Div, -1, 1, 0.5, 2); }
static int pow_f(void) { return fwd_bin(OP_Pow, 0.5, 2, -2, 2, 0); }
static int pow_g(void) { return grad_bin(OP_Pow, 0.5, 2, -2, 2); }
static int max_f(void) { return fwd_bin(OP_Max, -1, 1, -1, 1, 0); }
static int max_g(void) { return grad_bin(OP_Max, -1, 1, -1, 1); }
static int where0_f(void) { return fwd_bin(OP_Where0, -1, 1, -1, 1, 0) || fwd_bin(OP_Where0, -1, 1, -1, 1, 1); }
static int where0_g(void) { return grad_bin(OP_Where0, -1, 1, -1, 1); }
static int gelugrad_f(void) { return fwd_bin(OP_GeluGrad, -1, 1, -3, 3, 0); }

typedef struct {
    int op;
    double lo, hi;
} un_ctx;
static int build_un(ir_graph *g, void *vctx) {
    un_ctx *c = vctx;
    int x = ir_param(g, "x", IR_SHAPE(3, 5), ir_init_uniform(c->lo, c->hi), 0);
    return ir_simple(g, c->op, &x, 1);
}
static double ref_un(int op, double x) {
    switch (op) {
    case OP_Neg: return -x;
    case OP_Exp: return exp(x);
    case OP_Log: return log(x);
    case OP_Sqrt: return sqrt(x);
    case OP_Relu: return x > 0 ? x : 0;
    case OP_Gelu: return 0.5 * x * (1 + erf(x / sqrt(2)));
    case OP_Identity:
    case OP_StopGradient: return x;
    }
    return NAN;
}
static int fwd_un(int op, double lo, double hi) {
    un_ctx c = {op, lo, hi};
    float y[15], x[15];
    if (run_forward_f32(build_un, &c, y, 15)) return 1;
    ir_graph g;
    ir_graph_init(&g);
    int vx = ir_param(&g, "x", IR_SHAPE(3, 5), ir_init_uniform(lo, hi), 0);
    char err[IR_ERRLEN];
    init_value_f32(&g, vx, 1234, x, err);
    ir_graph_free(&g);
    for (int i = 0; i < 15; i++) {
        double want = ref_un(op, x[i]);
        CHECK(fabs(y[i] - want) <= 1e-5 * (1 + fabs(want)), "%s(%g) = %g, want %g", ir_optable[op]->name, x[i], y[i], want);
    }
    return 0;
}
static int grad_un(int op, double lo, double hi) {
    un_ctx c = {op, lo, hi};
    return gradcheck(ir_optable[op]->name, build_un, &c, 1e-6);
}
static int neg_f(void) { return fwd_un(OP_Neg, -2, 2); }
static int neg_g(void) { return grad_un(OP_Neg, -2, 2); }
static int exp_f(void) { return fwd_un(OP_Exp, -2, 2); }
static int exp_g(void) { return grad_un(OP_Exp, -2, 2); }
static int log_f(void) { return fwd_un(OP_Log, 0.2, 3); }
static int log_g(void) { return grad_un(OP_Log, 0.2, 3); }
static int sqrt_f(void) { return fwd_un(OP_Sqrt, 0.2, 3); }
static int sqrt_g(void) { return grad_un(OP_Sqrt, 0.2, 3); }
static int relu_f(void) { return fwd_un(OP_Relu, -2, 2); }
static int relu_g(void) { return grad_un(OP_Relu, -2, 2); }
static int gelu_f(void) { return fwd_un(OP_Gelu, -3, 3); }
static int gelu_g(void) { return grad_un(OP_Gelu, -3, 3); }
static int id_f(void) { return fwd_un(OP_Identity, -2, 2); }
static int id_g(void) { return grad_un(OP_Identity, -2, 2); }
static int sg_f(void) { return fwd_un(OP_StopGradient, -2, 2); }

/* StopGradient: d/dx [x*x + sg(exp(x))] must be exactly 2x. */
static int sg_g(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(4), ir_init_uniform(-1, 1), 0);
    int loss = ir_reduce_sum(&g, ir_add(&g, ir_mul(&g, x, x), ir_stop_gradient(&g, ir_exp(&g, x))), NULL, 0, 0);
    int gx = -1;
    CHECK(autodiff(&g, loss, &x, 1, &gx) == 0 && gx >= 0, "autodiff: %s", g.err);
    for (int i = 0; i < g.nnodes; i++)
        CHECK(g.nodes[i].op != OP_Exp || i < 3, "backward pass differentiated through StopGradient");
    ir_add_output(&g, gx);
    interp it;
    char err[IR_ERRLEN];
    double xv[4], gv[4];
    CHECK(interp_init(&it, &g, 1, err) == 0 && init_persistent(&it, 5, err) == 0 && interp_run(&it, err) == 0, "%s", err);
    interp_get_f64(&it, x, xv, err);
    interp_get_f64(&it, gx, gv, err);
    interp_free(&it);
    ir_graph_free(&g);
    for (int i = 0; i < 4; i++) CHECK(fabs(gv[i] - 2 * xv[i]) < 1e-12, "grad %g, want %g", gv[i], 2 * xv[i]);
    return 0;
}

OPTEST_FAMILY(elementwise) = {
    {"Add", add_f, add_g},       {"Sub", sub_f, sub_g},       {"Mul", mul_f, mul_g},
    {"Div", div_f, div_g},       {"Pow", pow_f, pow_g},       {"Max", max_f, max_g},
    {"Where0", where0_f, where0_g}, {"GeluGrad", gelugrad_f, NULL}, {"Neg", neg_f, neg_g},
    {"Exp", exp_f, exp_g},       {"Log", log_f, log_g},       {"Sqrt", sqrt_f, sqrt_g},
    {"Relu", relu_f, relu_g},    {"Gelu", gelu_f, gelu_g},    {"Identity", id_f, id_g},
    {"StopGradient", sg_f, sg_g}, {NULL, NULL, NULL}};
