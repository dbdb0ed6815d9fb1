/* simplify: each rule on a unit graph, then a full SimCLR training graph; every rewrite must
 * compute the same outputs and post-update parameters/state (reference interpreter). */
#include <stdlib.h>
#include <string.h>

#include "graphcheck.h"
#include "passes/lower.h"
#include "passes/simplify.h"

/* x [3,4] input, p [3,4] param, s [3,4] state; builders return the output value */
typedef int (*unit_fn)(ir_graph *g, int x, int p, int s);

static int ones(ir_graph *g, int ndim, const int64_t *d, float v) {
    ir_shape sh = ir_shape_make(ndim, d);
    int64_t n = ir_numel(&sh);
    float *b = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) b[i] = v;
    int c = ir_const(g, DT_F32, sh, b);
    free(b);
    return c;
}

static int u_dce(ir_graph *g, int x, int p, int s) {
    (void)s;
    ir_neg(g, ir_exp(g, x)); /* dead */
    return ir_relu(g, ir_mul(g, x, p));
}
static int u_cse(ir_graph *g, int x, int p, int s) {
    (void)s;
    int c = ir_add(g, ir_mul(g, x, p), ir_mul(g, x, p));
    int d = ir_mul(g, c, ir_scalar(g, 2.0)), e = ir_mul(g, c, ir_scalar(g, 2.0)); /* equal constants */
    return ir_add(g, d, e);
}
static int u_fold(ir_graph *g, int x, int p, int s) {
    (void)p, (void)s;
    float k[12];
    for (int i = 0; i < 12; i++) k[i] = 0.1f * (float)i - 0.3f;
    int kc = ir_const(g, DT_F32, IR_SHAPE(3, 4), k);
    int t = ir_mul(g, ir_add(g, ir_exp(g, kc), kc), ir_scalar(g, 2.0));
    t = ir_reshape(g, ir_reshape(g, t, IR_SHAPE(12)), IR_SHAPE(3, 4));
    return ir_add(g, x, t);
}
static int u_mul1(ir_graph *g, int x, int p, int s) {
    (void)s;
    int a = ir_mul(g, ir_mul(g, x, p), ir_scalar(g, 1.0));
    return ir_relu(g, ir_mul(g, ones(g, 2, (int64_t[]){1, 4}, 1.0f), a)); /* 1*x, broadcast const */
}
static int u_add0(ir_graph *g, int x, int p, int s) {
    (void)s;
    int a = ir_add(g, ir_mul(g, x, p), ir_scalar(g, 0.0));
    a = ir_add(g, ones(g, 1, (int64_t[]){4}, 0.0f), a);
    a = ir_sub(g, a, ir_scalar(g, 0.0));
    return ir_relu(g, ir_div(g, a, ir_scalar(g, 1.0)));
}
static int u_identity(ir_graph *g, int x, int p, int s) {
    (void)s;
    return ir_relu(g, ir_identity(g, ir_identity(g, ir_mul(g, x, p))));
}
static int u_reshape_same(ir_graph *g, int x, int p, int s) {
    (void)s;
    return ir_relu(g, ir_reshape(g, ir_mul(g, x, p), IR_SHAPE(3, 4)));
}
static int u_reshape2(ir_graph *g, int x, int p, int s) {
    (void)s;
    int a = ir_mul(g, x, p);
    int r = ir_reshape(g, ir_reshape(g, a, IR_SHAPE(12)), IR_SHAPE(2, 6));          /* -> one Reshape */
    int back = ir_flatten(g, ir_reshape(g, ir_reshape(g, a, IR_SHAPE(4, 3)), IR_SHAPE(3, 2, 2)), 1); /* -> [3,4] = a */
    return ir_add(g, ir_reshape(g, ir_relu(g, r), IR_SHAPE(3, 4)), back);
}
static int u_stopgrad(ir_graph *g, int x, int p, int s) {
    (void)s;
    return ir_relu(g, ir_stop_gradient(g, ir_mul(g, x, p)));
}
static int u_negneg(ir_graph *g, int x, int p, int s) {
    (void)s;
    return ir_relu(g, ir_neg(g, ir_neg(g, ir_neg(g, ir_neg(g, ir_mul(g, x, p))))));
}
/* must not be rewritten: constants that broadcast x to a larger shape, or are not all 1/0 */
static int u_keep(ir_graph *g, int x, int p, int s) {
    (void)p, (void)s;
    int row = ir_reduce_sum(g, x, (int64_t[]){0}, 1, 0);                 /* [4] */
    int a = ir_mul(g, row, ones(g, 2, (int64_t[]){3, 4}, 1.0f));           /* [3,4]: kept */
    int b = ir_add(g, row, ones(g, 2, (int64_t[]){2, 4}, 0.0f));           /* [2,4]: kept */
    int c = ir_mul(g, x, ones(g, 2, (int64_t[]){3, 4}, 2.0f));             /* not ones: kept */
    int d = ir_sub(g, ir_scalar(g, 0.0), x);                               /* 0 - x: kept */
    return ir_add(g, ir_add(g, a, c), ir_add(g, d, ir_reduce_sum(g, b, NULL, 0, 0)));
}
/* output is an Identity of a named value: an Identity keeps the output's name */
static int u_names(ir_graph *g, int x, int p, int s) {
    (void)x, (void)s;
    int y = ir_identity(g, p);
    ir_set_name(g, y, "grad.p");
    return y;
}

typedef struct {
    const char *name;
    unit_fn fn;
    int nodes_out;
    int update_from_out; /* the state update takes the output (else s <- Identity(s*1)) */
    int keep_stop;
} unit_case;

static int run_unit(const unit_case *uc) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(3, 4));
    int p = ir_param(&g, "p", IR_SHAPE(3, 4), ir_init_normal(0, 1), 0);
    int s = ir_state(&g, "s", DT_F32, IR_SHAPE(3, 4), ir_init_uniform(-1, 1));
    int y = uc->fn(&g, x, p, s);
    if (!g.vals[y].name) ir_set_name(&g, y, "out");
    ir_add_output(&g, y);
    ir_add_update(&g, s, uc->update_from_out ? y : ir_identity(&g, ir_mul(&g, s, ir_scalar(&g, 1.0))));
    CHECK(!g.failed, "%s: build: %s", uc->name, g.err);
    ir_graph h;
    simplify_stats st;
    char err[IR_ERRLEN];
    simplify_opts o = simplify_defaults();
    o.keep_stop_gradient = uc->keep_stop;
    CHECK(simplify_ex(&g, &h, &o, &st, err) == 0, "%s: %s", uc->name, err);
    if (st.nodes_out != uc->nodes_out) { /* (s <- Identity(s*1) simplifies to s <- s: no node) */
        ir_dump(&h, stderr);
        CHECK(0, "%s: %d nodes after simplify, want %d", uc->name, st.nodes_out, uc->nodes_out);
    }
    CHECK(ir_find_value(&h, g.vals[y].name) == h.outputs[0], "%s: output lost its name", uc->name);
    if (gc_equiv(&g, &h, 2, 3, uc->name)) return 1;
    /* idempotent */
    ir_graph h2;
    simplify_stats st2;
    CHECK(simplify_ex(&h, &h2, &o, &st2, err) == 0 && st2.nodes_out == st.nodes_out, "%s: second pass %d -> %d",
          uc->name, st.nodes_out, st2.nodes_out);
    printf("ok   %-14s %2d -> %d nodes (dead %d, cse %d, folded %d, identities %d, consts merged %d)\n", uc->name,
           st.nodes_in, st.nodes_out, st.dead, st.cse, st.folded, st.identities, st.consts_merged);
    ir_graph_free(&h2);
    ir_graph_free(&h);
    ir_graph_free(&g);
    return 0;
}

static int test_units(void) {
    static const unit_case cases[] = {
        {"dce", u_dce, 2, 1, 0},
        {"cse", u_cse, 4, 1, 0},
        {"fold", u_fold, 1, 1, 0},
        {"x*1", u_mul1, 2, 1, 0},
        {"x+0 x-0 x/1", u_add0, 2, 1, 0},
        {"identity", u_identity, 2, 1, 0},
        {"reshape-same", u_reshape_same, 2, 1, 0},
        {"reshape2", u_reshape2, 5, 1, 0},
        {"stopgradient", u_stopgrad, 2, 1, 0},
        {"stopgrad-kept", u_stopgrad, 3, 1, 1},
        {"neg-neg", u_negneg, 2, 1, 0},
        {"no-rewrite", u_keep, 9, 1, 0},
        {"names", u_names, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (run_unit(&cases[i])) return 1;
    return 0;
}

/* constants are merged by content, DCE keeps update sources, and errors are reported */
static int test_misc(void) {
    ir_graph g, h;
    char err[IR_ERRLEN];
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(2));
    int s = ir_state(&g, "s", DT_F32, IR_SHAPE(2), ir_init_const(1));
    int n = ir_state(&g, "n", DT_I64, IR_SHAPE(), ir_init_const(0));
    ir_add_update(&g, s, ir_add(&g, s, ir_exp(&g, x))); /* only an update source */
    ir_add_update(&g, n, ir_increment(&g, n));
    int c = ir_exp(&g, ir_scalar(&g, 0.5));
    ir_add_output(&g, ir_mul(&g, x, c));
    ir_add_output(&g, ir_mul(&g, x, c)); /* CSE'd duplicate output */
    simplify_stats st;
    CHECK(simplify(&g, &h, &st, err) == 0, "%s", err);
    CHECK(h.nupdates == 2 && h.noutputs == 2 && h.outputs[0] == h.outputs[1], "updates/outputs not preserved");
    CHECK(st.nodes_out == 4 && st.folded == 1 && st.cse == 1, "misc: %d nodes, folded %d, cse %d", st.nodes_out,
          st.folded, st.cse);
    if (gc_equiv(&g, &h, 3, 1, "misc")) return 1;
    ir_graph_free(&h);
    g.failed = 1;
    CHECK(simplify(&g, &h, &st, err) < 0 && strstr(err, "build error"), "failed graph accepted");
    ir_graph_free(&g);
    printf("ok   misc (update-only sources, duplicate outputs, integer state)\n");
    return 0;
}

static int test_simclr(void) {
    ir_graph g, h;
    char err[IR_ERRLEN];
    CHECK(gc_simclr_train(&g, 0.25, 16, 4, err) == 0, "%s", err);
    simplify_stats st;
    CHECK(simplify(&g, &h, &st, err) == 0, "%s", err);
    CHECK(st.nodes_out < st.nodes_in, "simplify removed nothing from SimCLR");
    if (gc_equiv(&g, &h, 2, 7, "simclr")) return 1;
    printf("ok   simclr resnet18 w0.25 16px b4 SGD: %d -> %d nodes, %d -> %d values (dead %d, cse %d, folded %d, "
           "identities %d, consts merged %d, name keepers %d)\n",
           st.nodes_in, st.nodes_out, st.vals_in, st.vals_out, st.dead, st.cse, st.folded, st.identities,
           st.consts_merged, st.name_keepers);
    /* after lowering (BatchNorm, softmax... as elementwise ops and reductions) there is more to find */
    ir_graph lg, ls;
    CHECK(lower_graph(&h, &lg, err) == 0, "%s", err);
    CHECK(simplify(&lg, &ls, &st, err) == 0, "%s", err);
    if (gc_equiv(&lg, &ls, 2, 7, "simclr lowered")) return 1;
    printf("ok   simclr lowered: %d -> %d nodes (dead %d, cse %d, folded %d, identities %d)\n", st.nodes_in,
           st.nodes_out, st.dead, st.cse, st.folded, st.identities);
    ir_graph_free(&ls);
    ir_graph_free(&lg);
    ir_graph_free(&h);
    ir_graph_free(&g);
    return 0;
}

int main(void) {
    int failed = 0, passed = 0;
    int (*tests[])(void) = {test_units, test_misc, test_simclr};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i]() ? failed++ : passed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
