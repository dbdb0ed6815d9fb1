/* Shared MLP heads (see heads.h), and the MoCo v3 heads (moco.h) built from them. */
#include "heads.h"

#include "moco.h"

#include <stdio.h>
#include <string.h>

void head_scope_enter(ir_graph *g, const char *path) {
    char part[128];
    const char *s = path;
    while (s && *s) {
        const char *dot = strchr(s, '.');
        size_t k = dot ? (size_t)(dot - s) : strlen(s);
        snprintf(part, sizeof part, "%.*s", (int)k, s);
        ir_scope_push(g, part);
        s = dot ? dot + 1 : NULL;
    }
}

void head_scope_leave(ir_graph *g, const char *path) {
    if (!path || !*path) return;
    ir_scope_pop(g);
    for (const char *s = path; *s; s++)
        if (*s == '.') ir_scope_pop(g);
}

/* module path "a.b.c": scope a.b, leaf module c */
static void split_path(const char *path, char *parent, size_t n, const char **leaf) {
    const char *dot = strrchr(path, '.');
    if (dot) {
        snprintf(parent, n, "%.*s", (int)(dot - path), path);
        *leaf = dot + 1;
    } else {
        parent[0] = 0;
        *leaf = path;
    }
}

static int linear_at(mbuild *mb, const char *path, int x, int64_t in, int64_t out, int bias) {
    char parent[128];
    const char *leaf;
    split_path(path, parent, sizeof parent, &leaf);
    head_scope_enter(mb->g, parent);
    int y = mb_linear(mb, leaf, x, in, out, bias);
    head_scope_leave(mb->g, parent);
    return y;
}

static int batchnorm_at(mbuild *mb, const char *path, int x, int64_t c, int affine) {
    char parent[128];
    const char *leaf;
    split_path(path, parent, sizeof parent, &leaf);
    head_scope_enter(mb->g, parent);
    int y = mb_batchnorm(mb, leaf, x, c, affine);
    head_scope_leave(mb->g, parent);
    return y;
}

int head_mlp(mbuild *mb, const char *scope, int x, int64_t in, const head_layer *layers, int n) {
    ir_graph *g = mb->g;
    head_scope_enter(g, scope);
    for (int i = 0; i < n; i++) {
        const head_layer *L = &layers[i];
        x = linear_at(mb, L->linear, x, in, L->out, L->bias);
        if (L->bn) x = batchnorm_at(mb, L->bn, x, L->out, L->bn_affine);
        if (L->relu) x = ir_relu(g, x);
        in = L->out;
    }
    head_scope_leave(g, scope);
    return x;
}

int head_linear_relu_linear(mbuild *mb, const char *scope, int x, int64_t in, int64_t hidden, int64_t out) {
    const head_layer L[2] = {{"layer1.0", hidden, 1, NULL, 0, 1}, {"layer1.2", out, 1, NULL, 0, 0}};
    return head_mlp(mb, scope, x, in, L, 2);
}

int head_linear_bn_relu_linear(mbuild *mb, const char *scope, int x, int64_t in, int64_t hidden, int64_t out,
                               const char *last) {
    const head_layer L[2] = {{"layer1.0", hidden, 1, "layer1.1", 1, 1}, {last, out, 1, NULL, 0, 0}};
    return head_mlp(mb, scope, x, in, L, 2);
}

int head_linear_bn_stack(mbuild *mb, const char *scope, int x, int64_t in, int64_t hidden, int64_t out, int n_layers,
                         int bias, int last_bn) {
    enum { MAXL = 8 };
    if (n_layers < 2 || n_layers > MAXL) return ir_fail(mb->g, "head_linear_bn_stack: %d layers", n_layers);
    char lin[MAXL][16], bn[MAXL][16];
    head_layer L[MAXL];
    for (int i = 0; i < n_layers; i++) {
        int last = i == n_layers - 1;
        snprintf(lin[i], sizeof lin[i], "layer%d.0", i + 1);
        snprintf(bn[i], sizeof bn[i], "layer%d.1", i + 1);
        L[i] = (head_layer){lin[i], last ? out : hidden, bias, (!last || last_bn) ? bn[i] : NULL, 1, !last};
    }
    return head_mlp(mb, scope, x, in, L, n_layers);
}

/* ---- MoCo v3 (PySSL's Projector / Predictor in builders/mocov3.py) ---- */

/* layer1..3 = Sequential(Linear, BatchNorm1d[, ReLU]): the SimCLRv2 projector shape */
int mocov3_projector(mbuild *mb, const char *name, int x, int64_t in, int64_t hidden, int64_t out) {
    return head_linear_bn_stack(mb, name, x, in, hidden, out, 3, 1, 1);
}

/* layer1 = Sequential(Linear, BatchNorm1d, ReLU), layer2 = Sequential(Linear): BYOL's MLP */
int mocov3_predictor(mbuild *mb, const char *name, int x, int64_t in, int64_t hidden, int64_t out) {
    return head_linear_bn_relu_linear(mb, name, x, in, hidden, out, "layer2.0");
}
