/* Helpers for pass tests: run graphs through the reference interpreter with deterministic
 * inputs, compare two graphs (by output position and persistent value names), and compare the
 * arena executor against the interpreter bit for bit. Header-only (static), included by tests. */
#ifndef SSLC_GRAPHCHECK_H
#define SSLC_GRAPHCHECK_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/driver.h"
#include "optest.h"
#include "passes/memplan.h"
#include "runtime/arena_exec.h"
#include "runtime/init.h"
#include "runtime/interp.h"
#include "runtime/rng.h"

static uint64_t gc_name_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Feeds every graph input: per-step scalars (opt.*, sched.*) a fixed 0.05, float tensors
 * uniform [-1, 1) from (name, step), integer tensors 0. */
static int gc_fill_inputs(interp *it, int step, char *err) {
    const ir_graph *g = it->g;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *x = &g->vals[v];
        if (x->kind != VK_INPUT) continue;
        int64_t n = ir_numel(&x->shape);
        if (x->dtype != DT_F32) {
            memset(interp_data(it, v), 0, (size_t)n * ir_dtype_size(it->t[v].dtype));
            continue;
        }
        float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!buf) return -1;
        if (x->name && (strncmp(x->name, "opt.", 4) == 0 || strncmp(x->name, "sched.", 6) == 0))
            for (int64_t i = 0; i < n; i++) buf[i] = 0.05f;
        else
            test_fill_uniform(buf, n, -1, 1, gc_name_hash(x->name) + (uint64_t)step * 7919);
        int rc = interp_set_f32(it, v, buf, err);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}

static int64_t gc_bytes(const ir_graph *g, int v) {
    return ir_numel(&g->vals[v].shape) * (int64_t)ir_dtype_size(g->vals[v].dtype);
}

/* exact: equal bytes; otherwise f32 elements equal as numbers (both NaN counts as equal,
 * +0 == -0). Returns the number of differing elements (first one reported). */
static int64_t gc_compare(const ir_graph *g, int v, const void *a, const void *b, int exact, const char *what) {
    int64_t n = ir_numel(&g->vals[v].shape), bad = 0;
    if (g->vals[v].dtype == DT_F32) {
        const float *x = a, *y = b;
        for (int64_t i = 0; i < n; i++) {
            int same = exact ? memcmp(&x[i], &y[i], 4) == 0 : (x[i] == y[i] || (isnan(x[i]) && isnan(y[i])));
            if (!same && bad++ == 0)
                fprintf(stderr, "  %s %s[%lld]: %.9g vs %.9g\n", what, g->vals[v].name ? g->vals[v].name : "?",
                        (long long)i, x[i], y[i]);
        }
    } else if (memcmp(a, b, (size_t)gc_bytes(g, v)) != 0) {
        fprintf(stderr, "  %s %s: integer contents differ\n", what, g->vals[v].name ? g->vals[v].name : "?");
        bad = 1;
    }
    return bad;
}

/* Runs A and B for `steps` steps from the same parameters (init by name) and inputs; compares
 * graph outputs (by position, same names) after each step and every parameter and state
 * value (by name) after the updates. Returns 0 if all equal (numerically, see gc_compare). */
__attribute__((unused)) static int gc_equiv(const ir_graph *A, const ir_graph *B, int steps, uint64_t seed, const char *label) {
    char err[IR_ERRLEN];
    interp ia, ib;
    CHECK(A->noutputs == B->noutputs, "%s: %d outputs vs %d", label, A->noutputs, B->noutputs);
    CHECK(interp_init(&ia, A, 0, err) == 0 && init_persistent(&ia, seed, err) == 0, "%s: %s", label, err);
    CHECK(interp_init(&ib, B, 0, err) == 0 && init_persistent(&ib, seed, err) == 0, "%s: %s", label, err);
    int64_t bad = 0;
    for (int s = 0; s < steps; s++) {
        CHECK(gc_fill_inputs(&ia, s, err) == 0 && gc_fill_inputs(&ib, s, err) == 0, "%s: inputs", label);
        CHECK(interp_run(&ia, err) == 0, "%s: original graph: %s", label, err);
        CHECK(interp_run(&ib, err) == 0, "%s: simplified graph: %s", label, err);
        for (int i = 0; i < A->noutputs; i++) {
            int a = A->outputs[i], b = B->outputs[i];
            const char *na = A->vals[a].name, *nb = B->vals[b].name;
            CHECK((!na && !nb) || (na && nb && strcmp(na, nb) == 0), "%s: output %d named '%s' vs '%s'", label, i,
                  na ? na : "", nb ? nb : "");
            CHECK(ir_shape_eq(&A->vals[a].shape, &B->vals[b].shape) && A->vals[a].dtype == B->vals[b].dtype,
                  "%s: output %d type differs", label, i);
            bad += gc_compare(A, a, interp_data(&ia, a), interp_data(&ib, b), 0, "output");
        }
        for (int a = 0; a < A->nvals; a++) {
            ir_kind k = A->vals[a].kind;
            if (k != VK_PARAM && k != VK_STATE && k != VK_INPUT) continue;
            int b = ir_find_value(B, A->vals[a].name);
            CHECK(b >= 0 && B->vals[b].kind == k, "%s: %s '%s' missing after the pass", label, ir_kind_name(k),
                  A->vals[a].name);
            bad += gc_compare(A, a, interp_data(&ia, a), interp_data(&ib, b), 0, "persistent");
        }
    }
    interp_free(&ia);
    interp_free(&ib);
    CHECK(bad == 0, "%s: %lld elements differ", label, (long long)bad);
    return 0;
}

/* Runs the planned steps in the arena executor (arena poisoned with NaN before each step) and
 * the graph in the interpreter for `steps` steps; outputs and all persistent values must be
 * bit-identical. */
__attribute__((unused)) static int gc_arena_vs_interp(const ir_graph *g, const exec_step *st, int nst, const memplan *mp, int steps,
                              uint64_t seed, const char *label) {
    char err[IR_ERRLEN];
    interp it;
    arena_exec ax;
    CHECK(interp_init(&it, g, 0, err) == 0 && init_persistent(&it, seed, err) == 0, "%s: %s", label, err);
    CHECK(arena_exec_init(&ax, g, st, nst, NULL, mp, NULL, err) == 0, "%s: %s", label, err);
    ax.poison = 1;
    for (int v = 0; v < g->nvals; v++)
        if (g->vals[v].kind != VK_INTER && g->vals[v].kind != VK_INPUT)
            memcpy(arena_exec_data(&ax, v), interp_data(&it, v), (size_t)gc_bytes(g, v));
    int64_t bad = 0;
    for (int s = 0; s < steps; s++) {
        CHECK(gc_fill_inputs(&it, s, err) == 0, "%s: inputs", label);
        for (int v = 0; v < g->nvals; v++)
            if (g->vals[v].kind == VK_INPUT) memcpy(arena_exec_data(&ax, v), interp_data(&it, v), (size_t)gc_bytes(g, v));
        CHECK(interp_run(&it, err) == 0, "%s: interpreter: %s", label, err);
        CHECK(arena_exec_run(&ax, err) == 0, "%s: arena executor: %s", label, err);
        for (int i = 0; i < g->noutputs; i++) {
            int v = g->outputs[i];
            bad += gc_compare(g, v, arena_exec_data(&ax, v), interp_data(&it, v), 1, "output");
        }
        for (int v = 0; v < g->nvals; v++)
            if (g->vals[v].kind == VK_PARAM || g->vals[v].kind == VK_STATE)
                bad += gc_compare(g, v, arena_exec_data(&ax, v), interp_data(&it, v), 1, "persistent");
    }
    arena_exec_free(&ax);
    interp_free(&it);
    CHECK(bad == 0, "%s: %lld elements differ between arena executor and interpreter", label, (long long)bad);
    return 0;
}

static method_spec gc_spec(const char *backbone, double width, int size, int channels, int64_t batch) {
    method_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.backbone.name, sizeof s.backbone.name, "%s", backbone);
    s.backbone.width = width;
    s.backbone.image_size = size;
    s.backbone.channels = channels;
    s.backbone.cifar_stem = -1;
    s.batch = batch;
    return s;
}

/* SimCLR training graph (forward, gradients, SGD) */
__attribute__((unused)) static int gc_train(ir_graph *g, const char *backbone, double width, int size, int64_t batch,
                                            char *err) {
    compile_args a;
    memset(&a, 0, sizeof a);
    a.method = method_find("simclr");
    a.spec = gc_spec(backbone, width, size, 3, batch);
    a.opt = opt_defaults(OPT_SGD);
    a.lr = 0.1;
    snprintf(a.augment, sizeof a.augment, "none");
    a.seed = 1;
    ir_graph_init(g);
    return driver_build_train(&a, g, err);
}

__attribute__((unused)) static int gc_simclr_train(ir_graph *g, double width, int size, int64_t batch, char *err) {
    return gc_train(g, "resnet18", width, size, batch, err);
}

#endif
