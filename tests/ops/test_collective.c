/* Collectives on one rank (the two-rank behaviour is tests/mpi/test_collectives_mpi.c): with
 * ranks = 1 every collective is the identity, forward and backward; shapes for more ranks;
 * build-time errors; a graph built for two ranks refuses to run without a communicator; and
 * each gradient rule is the adjoint collective (AllGather -> ReduceScatter, ...). */
#include <stdlib.h>
#include <string.h>

#include "../optest.h"
#include "passes/autodiff.h"
#include "runtime/interp.h"

typedef struct {
    int op;
} coll_ctx;

static int apply(ir_graph *g, int op, int x, int ranks) {
    switch (op) {
    case OP_AllReduce: return ir_all_reduce(g, x, ranks, 0);
    case OP_AllGather: return ir_all_gather(g, x, ranks);
    case OP_ReduceScatter: return ir_reduce_scatter(g, x, ranks);
    case OP_Broadcast: return ir_broadcast(g, x, ranks, 0);
    case OP_AllReduceStart:
    case OP_AllReduceWait: return ir_all_reduce_wait(g, ir_all_reduce_start(g, x, ranks), ranks, 0);
    default: return -1;
    }
}

/* y = op(x) * x: a gradient test whose result depends on the collective being an identity */
static int build_coll(ir_graph *g, void *ctx) {
    const coll_ctx *c = ctx;
    int x = ir_param(g, "x", IR_SHAPE(4, 3), ir_init_uniform(-2, 2), 0);
    return ir_mul(g, apply(g, c->op, x, 1), x);
}

static int build_plain(ir_graph *g, void *ctx) {
    (void)ctx;
    int x = ir_param(g, "x", IR_SHAPE(4, 3), ir_init_uniform(-2, 2), 0);
    return ir_mul(g, x, x);
}

static int fwd_one(int op) {
    coll_ctx c = {op};
    float got[12], want[12];
    CHECK(run_forward_f32(build_coll, &c, got, 12) == 0, "%s: one-rank run failed", ir_optable[op]->name);
    CHECK(run_forward_f32(build_plain, NULL, want, 12) == 0, "plain run failed");
    CHECK(max_abs_diff(got, want, 12) == 0, "%s on one rank is not the identity", ir_optable[op]->name);
    return 0;
}

/* the grad node of op over `ranks` ranks is `want_op` with the same rank count */
static int grad_is(int op, int ranks, int want_op) {
    ir_graph g;
    ir_graph_init(&g);
    int64_t n0 = op == OP_ReduceScatter ? 2 * ranks : 2;
    int x = ir_param(&g, "x", IR_SHAPE(n0, 3), ir_init_uniform(-1, 1), 0);
    int y = apply(&g, op, x, ranks);
    int loss = ir_reduce_sum(&g, ir_mul(&g, y, y), NULL, 0, 0);
    int gx = -1;
    CHECK(loss >= 0 && autodiff(&g, loss, &x, 1, &gx) == 0 && gx >= 0, "%s: autodiff: %s", ir_optable[op]->name, g.err);
    int found = 0;
    for (int i = 0; i < g.nnodes; i++)
        if (g.nodes[i].op == want_op && ir_get_i(&g.nodes[i], "ranks") == ranks) found = 1;
    CHECK(found, "%s's gradient has no %s over %d ranks", ir_optable[op]->name, ir_optable[want_op]->name, ranks);
    CHECK(ir_shape_eq(&g.vals[gx].shape, &g.vals[x].shape), "%s: gradient shape differs", ir_optable[op]->name);
    ir_graph_free(&g);
    return 0;
}

static int shapes_and_errors(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(6, 5));
    int ag = ir_all_gather(&g, x, 3), rs = ir_reduce_scatter(&g, x, 3), ar = ir_all_reduce(&g, x, 3, 1);
    int bc = ir_broadcast(&g, x, 3, 2);
    CHECK(!g.failed, "%s", g.err);
    ir_shape s18 = IR_SHAPE(18, 5), s2 = IR_SHAPE(2, 5);
    CHECK(ir_shape_eq(&g.vals[ag].shape, &s18), "AllGather over 3 ranks: [18,5]");
    CHECK(ir_shape_eq(&g.vals[rs].shape, &s2), "ReduceScatter over 3 ranks: [2,5]");
    CHECK(ir_shape_eq(&g.vals[ar].shape, &g.vals[x].shape) && ir_shape_eq(&g.vals[bc].shape, &g.vals[x].shape),
          "AllReduce / Broadcast keep the shape");
    /* a graph built for 3 ranks refuses to run without a communicator, naming mpirun */
    ir_add_output(&g, ar);
    char err[IR_ERRLEN] = {0};
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0, "%s", err);
    float ones[30];
    for (int i = 0; i < 30; i++) ones[i] = 1;
    CHECK(interp_set_f32(&it, x, ones, err) == 0, "%s", err);
    CHECK(interp_run(&it, err) != 0 && strstr(err, "mpirun -np 3"), "ran over 3 ranks alone: '%s'", err);
    interp_free(&it);
    ir_graph_free(&g);

    struct {
        int op, ranks;
        ir_shape s;
        ir_dtype dt;
        const char *msg;
    } cases[] = {
        {OP_ReduceScatter, 4, IR_SHAPE(6, 5), DT_F32, "split evenly"},
        {OP_AllReduce, 0, IR_SHAPE(6), DT_F32, "at least 1"},
        {OP_AllGather, 2, IR_SHAPE(6), DT_I64, "float"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ir_graph_init(&g);
        int v = ir_input(&g, "x", cases[c].dt, cases[c].s);
        CHECK(apply(&g, cases[c].op, v, cases[c].ranks) < 0 && strstr(g.err, cases[c].msg), "case %zu: '%s' lacks '%s'",
              c, g.err, cases[c].msg);
        ir_graph_free(&g);
    }
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(2));
    CHECK(ir_broadcast(&g, x, 2, 2) < 0 && strstr(g.err, "root 2"), "root outside the job accepted: %s", g.err);
    ir_graph_free(&g);
    return 0;
}

static int all_reduce_f(void) { return fwd_one(OP_AllReduce) || shapes_and_errors(); }
static int all_gather_f(void) { return fwd_one(OP_AllGather) || grad_is(OP_AllGather, 2, OP_ReduceScatter); }
static int reduce_scatter_f(void) { return fwd_one(OP_ReduceScatter) || grad_is(OP_ReduceScatter, 2, OP_AllGather); }
static int broadcast_f(void) { return fwd_one(OP_Broadcast) || grad_is(OP_Broadcast, 2, OP_Reduce); }
/* Reduce is created by Broadcast's gradient rule (its one-rank run: broadcast_g's gradcheck) */
static int reduce_f(void) { return grad_is(OP_Broadcast, 3, OP_Reduce) || grad_is(OP_AllReduce, 2, OP_AllReduce); }

/* the split AllReduce: the identity on one rank, its shape kept over two; a wait on anything
 * but a start's output, or with another rank count, is refused; it has no gradient rule
 * (made after differentiation), and autodiff says so instead of dropping the gradient */
static int split_f(void) {
    if (fwd_one(OP_AllReduceStart)) return 1;
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(6, 2));
    int st = ir_all_reduce_start(&g, x, 2);
    int y = ir_all_reduce_wait(&g, st, 2, 1);
    CHECK(y >= 0 && g.vals[y].shape.ndim == 2 && g.vals[y].shape.d[0] == 6 && g.vals[st].shape.d[1] == 2,
          "split AllReduce shapes: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(6));
    CHECK(ir_all_reduce_wait(&g, ir_neg(&g, x), 2, 0) < 0 && strstr(g.err, "AllReduceStart's output"),
          "a wait on a plain value accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_F32, IR_SHAPE(6));
    CHECK(ir_all_reduce_wait(&g, ir_all_reduce_start(&g, x, 2), 3, 0) < 0 && strstr(g.err, "3 ranks"),
          "a wait over another rank count accepted: %s", g.err);
    ir_graph_free(&g);
    ir_graph_init(&g);
    x = ir_input(&g, "x", DT_I64, IR_SHAPE(6));
    CHECK(ir_all_reduce_start(&g, x, 2) < 0 && strstr(g.err, "float"), "an integer start accepted: %s", g.err);
    ir_graph_free(&g);
    return 0;
}

static int split_g(void) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(4), ir_init_uniform(-1, 1), 0);
    int y = apply(&g, OP_AllReduceStart, x, 2);
    int loss = ir_reduce_sum(&g, ir_mul(&g, y, y), NULL, 0, 0);
    int gx = -1;
    CHECK(loss >= 0 && autodiff(&g, loss, &x, 1, &gx) != 0 && strstr(g.err, "AllReduceWait has no gradient rule"),
          "autodiff through a split AllReduce: '%s'", g.err);
    ir_graph_free(&g);
    return 0;
}

static int grad_one(int op) {
    coll_ctx c = {op};
    char label[64];
    snprintf(label, sizeof label, "%s (1 rank)", ir_optable[op]->name);
    return gradcheck(label, build_coll, &c, 1e-6);
}
static int all_reduce_g(void) { return grad_one(OP_AllReduce); }
static int all_gather_g(void) { return grad_one(OP_AllGather); }
static int reduce_scatter_g(void) { return grad_one(OP_ReduceScatter); }
static int broadcast_g(void) { return grad_one(OP_Broadcast); }

OPTEST_FAMILY(collective) = {
    {"AllReduce", all_reduce_f, all_reduce_g},
    {"AllGather", all_gather_f, all_gather_g},
    {"ReduceScatter", reduce_scatter_f, reduce_scatter_g},
    {"Broadcast", broadcast_f, broadcast_g},
    {"Reduce", reduce_f, NULL},
    {"AllReduceStart", split_f, split_g},
    {"AllReduceWait", split_f, split_g},
    {NULL, NULL, NULL},
};
