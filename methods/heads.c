/* Projector and predictor heads shared by methods. */
#include "moco.h"

/* ---- MoCo v3 (PySSL's Projector / Predictor in builders/mocov3.py) ---- */

/* one `Sequential(Linear(in, out), BatchNorm1d(out)[, ReLU])` named `name` */
static int mocov3_linear_bn(mbuild *mb, const char *name, int x, int64_t in, int64_t out, int relu) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    int y = mb_batchnorm(mb, "1", mb_linear(mb, "0", x, in, out, 1), out, 1);
    ir_scope_pop(g);
    return relu ? ir_relu(g, y) : y;
}

int mocov3_projector(mbuild *mb, const char *name, int x, int64_t in, int64_t hidden, int64_t out) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    x = mocov3_linear_bn(mb, "layer1", x, in, hidden, 1);
    x = mocov3_linear_bn(mb, "layer2", x, hidden, hidden, 1);
    x = mocov3_linear_bn(mb, "layer3", x, hidden, out, 0);
    ir_scope_pop(g);
    return x;
}

int mocov3_predictor(mbuild *mb, const char *name, int x, int64_t in, int64_t hidden, int64_t out) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    x = mocov3_linear_bn(mb, "layer1", x, in, hidden, 1);
    ir_scope_push(g, "layer2");
    x = mb_linear(mb, "0", x, hidden, out, 1);
    ir_scope_pop(g);
    ir_scope_pop(g);
    return x;
}
