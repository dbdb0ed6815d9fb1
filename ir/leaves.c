/* Leaf values: graph inputs, parameters, state and constants. */
#include <stdlib.h>
#include <string.h>

#include "builder.h"

ir_init ir_init_const(double v) { return (ir_init){.kind = INIT_CONST, .a = v, .src = -1}; }
ir_init ir_init_normal(double mean, double std) { return (ir_init){.kind = INIT_NORMAL, .a = mean, .b = std, .src = -1}; }
ir_init ir_init_uniform(double lo, double hi) { return (ir_init){.kind = INIT_UNIFORM, .a = lo, .b = hi, .src = -1}; }
ir_init ir_init_copy(int src) { return (ir_init){.kind = INIT_COPY, .src = src}; }
ir_init ir_init_normal_l2(double mean, double std) {
    return (ir_init){.kind = INIT_NORMAL_L2, .a = mean, .b = std, .src = -1};
}
ir_init ir_init_normal_l2_rows(double mean, double std) {
    return (ir_init){.kind = INIT_NORMAL_L2_ROWS, .a = mean, .b = std, .src = -1};
}

int ir_input(ir_graph *g, const char *name, ir_dtype dt, ir_shape s) {
    if (g->failed) return -1;
    if (ir_find_value(g, name) >= 0) return ir_fail(g, "input '%s' defined twice", name);
    return ir_value_new(g, VK_INPUT, dt, s, name);
}

static int persistent(ir_graph *g, ir_kind kind, const char *leaf, ir_dtype dt, ir_shape s, ir_init init,
                      unsigned flags) {
    if (g->failed) return -1;
    char name[320];
    ir_scoped_name(g, leaf, name, sizeof name);
    if (ir_find_value(g, name) >= 0) return ir_fail(g, "%s '%s' defined twice", ir_kind_name(kind), name);
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] <= 0) return ir_fail(g, "%s '%s': dimension %d is %lld", ir_kind_name(kind), name, i, (long long)s.d[i]);
    int v = ir_value_new(g, kind, dt, s, name);
    g->vals[v].init = init;
    g->vals[v].flags = flags;
    return v;
}

int ir_param(ir_graph *g, const char *leaf, ir_shape s, ir_init init, unsigned flags) {
    return persistent(g, VK_PARAM, leaf, DT_F32, s, init, flags);
}

int ir_state(ir_graph *g, const char *leaf, ir_dtype dt, ir_shape s, ir_init init) {
    return persistent(g, VK_STATE, leaf, dt, s, init, 0);
}

int ir_const(ir_graph *g, ir_dtype dt, ir_shape s, const void *data) {
    if (g->failed) return -1;
    size_t bytes = (size_t)ir_numel(&s) * ir_dtype_size(dt);
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy) return ir_fail(g, "out of memory for a constant of %zu bytes", bytes);
    memcpy(copy, data, bytes);
    int v = ir_value_new(g, VK_CONST, dt, s, NULL);
    g->vals[v].data = copy;
    return v;
}

int ir_scalar(ir_graph *g, double v) {
    float f = (float)v;
    ir_shape s = {0};
    return ir_const(g, DT_F32, s, &f);
}
