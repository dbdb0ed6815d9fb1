/* Collective ops: the tensors of a data-parallel job crossing ranks. Each takes `ranks` (the
 * job's size, fixed when the graph is built: AllGather's output shape depends on it) and runs
 * through the communicator of its call (ir/comm.h, ref_call.comm). Without one, a graph built
 * for one rank runs as the identity; one built for more ranks is refused.
 *
 * Gradient rules. Each rank differentiates its own loss; a collective's rule is the adjoint of
 * the collective, so the gradients that reach each rank's inputs are those of the sum of every
 * rank's loss (the data-parallel pass then averages the parameter gradients: the mean loss):
 *   AllReduce(sum)   -> AllReduce(sum) of the gradient;   AllReduce(mean) -> AllReduce(mean)
 *   AllGather        -> ReduceScatter(sum): rank r's slice, summed over every rank's gradient
 *                       (lightly issue 1528 took only the local gradient's slice)
 *   ReduceScatter    -> AllGather
 *   Broadcast(root)  -> Reduce(root): the sum of every rank's gradient at the root, zero elsewhere
 *   Reduce(root)     -> Broadcast(root)
 *
 * AllReduceStart / AllReduceWait split an AllReduce in two so that its communication overlaps
 * the steps scheduled between them (the data-parallel pass makes them for the gradient
 * buckets, after autodiff): the start copies x into its output and starts the sum over ranks
 * in place there; the wait reads that output (so the memory plan keeps the buffer alive and
 * untouched until the wait), completes the sum and applies the mean. They have no gradient
 * rule: they are made after differentiation, and an AllReduce is what a graph to differentiate
 * holds. */
#include "../comm.h"
#include "../opkit.h"

#ifdef SSLC_REF_F64
#define REAL_DT DT_F64
#else
#define REAL_DT DT_F32
#endif

/* the call's communicator if it matches the node's rank count; NULL with *one set for a
 * single-rank run without one; NULL with an error otherwise */
static const ir_comm *KN(comm_of)(const ref_call *c, const char *op, int *one) {
    int64_t ranks = ir_get_i(c->node, "ranks");
    *one = 0;
    if (!c->comm) {
        if (ranks == 1) {
            *one = 1;
            return NULL;
        }
        snprintf(c->err, IR_ERRLEN, "%s over %lld ranks needs a communicator: run the plan under mpirun -np %lld", op,
                 (long long)ranks, (long long)ranks);
        return NULL;
    }
    if (c->comm->size != ranks) {
        snprintf(c->err, IR_ERRLEN, "%s: the graph was built for %lld ranks, this job has %d", op, (long long)ranks,
                 c->comm->size);
        return NULL;
    }
    return c->comm;
}

static void KN(copy_in)(const ref_call *c) {
    if (c->out[0].data != c->in[0].data) memcpy(OUT(0), IN(0), (size_t)c->out[0].numel * sizeof(real));
}

/* y = sum (or mean) over ranks of x */
int KN(ref_all_reduce)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "AllReduce", &one);
    if (!m && !one) return -1;
    KN(copy_in)(c);
    if (one) return 0;
    if (m->ops->allreduce_sum(m->self, OUT(0), c->out[0].numel, REAL_DT, c->err)) return -1;
    if (ir_get_i(c->node, "mean")) {
        real *y = OUT(0);
        real inv = (real)1 / (real)m->size;
        for (int64_t i = 0; i < c->out[0].numel; i++) y[i] *= inv;
    }
    return 0;
}

/* y = concat over ranks of x along axis 0 */
int KN(ref_all_gather)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "AllGather", &one);
    if (!m && !one) return -1;
    if (one) {
        KN(copy_in)(c);
        return 0;
    }
    return m->ops->allgather(m->self, IN(0), OUT(0), c->in[0].numel, REAL_DT, c->err);
}

/* y = block `rank` (axis 0) of the sum over ranks of x */
int KN(ref_reduce_scatter)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "ReduceScatter", &one);
    if (!m && !one) return -1;
    if (one) {
        KN(copy_in)(c);
        return 0;
    }
    return m->ops->reduce_scatter_sum(m->self, IN(0), OUT(0), c->out[0].numel, REAL_DT, c->err);
}

/* y = the root's x */
int KN(ref_broadcast)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "Broadcast", &one);
    if (!m && !one) return -1;
    KN(copy_in)(c);
    if (one) return 0;
    return m->ops->broadcast(m->self, OUT(0), c->out[0].numel, REAL_DT, (int)ir_get_i(c->node, "root"), c->err);
}

/* y = sum over ranks of x at the root, zeros on the other ranks */
int KN(ref_reduce)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "Reduce", &one);
    if (!m && !one) return -1;
    KN(copy_in)(c);
    if (one) return 0;
    if (m->ops->allreduce_sum(m->self, OUT(0), c->out[0].numel, REAL_DT, c->err)) return -1;
    if (m->rank != ir_get_i(c->node, "root")) memset(OUT(0), 0, (size_t)c->out[0].numel * sizeof(real));
    return 0;
}

/* starts y = sum over ranks of x, in y's storage (finished by the AllReduceWait reading y) */
int KN(ref_all_reduce_start)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "AllReduceStart", &one);
    if (!m && !one) return -1;
    KN(copy_in)(c);
    if (one) return 0;
    if (!m->ops->allreduce_start) return m->ops->allreduce_sum(m->self, OUT(0), c->out[0].numel, REAL_DT, c->err);
    return m->ops->allreduce_start(m->self, OUT(0), c->out[0].numel, REAL_DT, c->err);
}

/* y = the finished sum (or mean) of the AllReduceStart whose output is x */
int KN(ref_all_reduce_wait)(const ref_call *c) {
    int one;
    const ir_comm *m = KN(comm_of)(c, "AllReduceWait", &one);
    if (!m && !one) return -1;
    if (!one && m->ops->allreduce_wait && m->ops->allreduce_wait(m->self, c->in[0].data, c->err)) return -1;
    KN(copy_in)(c);
    if (!one && ir_get_i(c->node, "mean")) {
        real *y = OUT(0);
        real inv = (real)1 / (real)m->size;
        for (int64_t i = 0; i < c->out[0].numel; i++) y[i] *= inv;
    }
    return 0;
}

#ifndef SSLC_REF_F64
static int check_common(ir_graph *g, const ir_node *n, const char *op) {
    const ir_value *x = &g->vals[n->in[0]];
    int64_t ranks = ir_get_i(n, "ranks");
    if (ranks < 1) return ir_fail(g, "%s: ranks must be at least 1, got %lld", op, (long long)ranks);
    if (x->dtype != DT_F32 && x->dtype != DT_F64)
        return ir_fail(g, "%s: needs a float tensor, got %s", op, ir_dtype_name(x->dtype));
    return 0;
}

static int same_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od, const char *op) {
    if (check_common(g, n, op)) return -1;
    int64_t root = ir_get_i(n, "root");
    if (root < 0 || root >= ir_get_i(n, "ranks"))
        return ir_fail(g, "%s: root %lld is not a rank of %lld", op, (long long)root, (long long)ir_get_i(n, "ranks"));
    return ir_infer_same(g, n, os, od);
}

static int all_reduce_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    int64_t mean = ir_get_i(n, "mean");
    if (mean != 0 && mean != 1) return ir_fail(g, "AllReduce: mean must be 0 (sum) or 1, got %lld", (long long)mean);
    return same_infer(g, n, os, od, "AllReduce");
}
static int all_reduce_start_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    return check_common(g, n, "AllReduceStart") ? -1 : ir_infer_same(g, n, os, od);
}

/* the input must be an AllReduceStart's output with the same rank count: the wait finishes
 * that start's communication and nothing else */
static int all_reduce_wait_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    int64_t mean = ir_get_i(n, "mean");
    if (mean != 0 && mean != 1) return ir_fail(g, "AllReduceWait: mean must be 0 (sum) or 1, got %lld", (long long)mean);
    int x = n->in[0], start = -1;
    for (int i = 0; i < g->nnodes && start < 0; i++)
        if (&g->nodes[i] != n && g->nodes[i].nout == 1 && g->nodes[i].out[0] == x) start = i;
    if (start < 0 || g->nodes[start].op != OP_AllReduceStart)
        return ir_fail(g, "AllReduceWait: its input must be an AllReduceStart's output (the buffer it finishes)");
    if (ir_get_i(&g->nodes[start], "ranks") != ir_get_i(n, "ranks"))
        return ir_fail(g, "AllReduceWait: %lld ranks, its AllReduceStart %lld", (long long)ir_get_i(n, "ranks"),
                       (long long)ir_get_i(&g->nodes[start], "ranks"));
    return check_common(g, n, "AllReduceWait") ? -1 : ir_infer_same(g, n, os, od);
}

static int broadcast_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    return same_infer(g, n, os, od, "Broadcast");
}
static int reduce_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    return same_infer(g, n, os, od, "Reduce");
}

static int all_gather_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (check_common(g, n, "AllGather")) return -1;
    const ir_value *x = &g->vals[n->in[0]];
    if (x->shape.ndim < 1) return ir_fail(g, "AllGather: needs at least one dimension (gathered along axis 0)");
    os[0] = x->shape;
    os[0].d[0] *= ir_get_i(n, "ranks");
    od[0] = x->dtype;
    return 0;
}

static int reduce_scatter_infer(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    if (check_common(g, n, "ReduceScatter")) return -1;
    const ir_value *x = &g->vals[n->in[0]];
    int64_t ranks = ir_get_i(n, "ranks");
    if (x->shape.ndim < 1 || x->shape.d[0] % ranks)
        return ir_fail(g, "ReduceScatter: axis 0 (%lld) must split evenly over %lld ranks",
                       (long long)(x->shape.ndim ? x->shape.d[0] : 0), (long long)ranks);
    os[0] = x->shape;
    os[0].d[0] /= ranks;
    od[0] = x->dtype;
    return 0;
}

static int collective(ir_graph *g, int op, int x, int ranks, const char *attr, int64_t v) {
    if (g->failed) return -1;
    int node = ir_node_new(g, op, &x, 1);
    ir_set_i(g, node, "ranks", ranks);
    if (attr) ir_set_i(g, node, attr, v);
    return ir_node_finish(g, node);
}

int ir_all_reduce(ir_graph *g, int x, int ranks, int mean) { return collective(g, OP_AllReduce, x, ranks, "mean", mean); }
int ir_all_gather(ir_graph *g, int x, int ranks) { return collective(g, OP_AllGather, x, ranks, NULL, 0); }
int ir_reduce_scatter(ir_graph *g, int x, int ranks) { return collective(g, OP_ReduceScatter, x, ranks, NULL, 0); }
int ir_broadcast(ir_graph *g, int x, int ranks, int root) { return collective(g, OP_Broadcast, x, ranks, "root", root); }
static int ir_reduce_to(ir_graph *g, int x, int ranks, int root) {
    return collective(g, OP_Reduce, x, ranks, "root", root);
}

int ir_all_reduce_start(ir_graph *g, int x, int ranks) { return collective(g, OP_AllReduceStart, x, ranks, NULL, 0); }
int ir_all_reduce_wait(ir_graph *g, int started, int ranks, int mean) {
    return collective(g, OP_AllReduceWait, started, ranks, "mean", mean);
}

static int ranks_of(const ir_graph *g, int node) { return (int)ir_get_i(&g->nodes[node], "ranks"); }

static int all_reduce_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    if (want[0]) gx[0] = ir_all_reduce(g, gy[0], ranks_of(g, node), (int)ir_get_i(&g->nodes[node], "mean"));
    return 0;
}

/* Sets SSLC_BREAK_ALLGATHER_GRAD=1 to differentiate AllGather the way lightly issue 1528 did
 * (each rank keeps only its own slice of its own gradient, no sum over ranks): the test hook
 * that proves the cross-rank equivalence check catches that bug class. */
static int all_gather_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    if (!want[0]) return 0;
    const char *broken = getenv("SSLC_BREAK_ALLGATHER_GRAD");
    int ranks = ranks_of(g, node);
    if (broken && broken[0] == '1') {
        /* rank r's block of its own gradient: sum over k of [r == k] * block k, where the
         * indicator [r == k] is Reduce(1, root k) / ranks (the graph does not know its rank) */
        int64_t n = g->vals[g->nodes[node].in[0]].shape.d[0];
        float one = 1.0f;
        int ones = ir_const(g, DT_F32, IR_SHAPE(1), &one);
        int acc = -1;
        for (int k = 0; k < ranks; k++) {
            int ind = ir_mul_scalar(g, ir_reduce_to(g, ones, ranks, k), 1.0 / ranks);
            int blk = ir_mul(g, ir_slice(g, gy[0], 0, k * n, (k + 1) * n), ind);
            acc = acc < 0 ? blk : ir_add(g, acc, blk);
        }
        gx[0] = acc;
        return 0;
    }
    gx[0] = ir_reduce_scatter(g, gy[0], ranks);
    return 0;
}

static int split_all_reduce_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    (void)gy, (void)want, (void)gx;
    return ir_fail(g, "%s has no gradient rule: split AllReduces are made after differentiation (differentiate an "
                      "AllReduce)",
                   ir_optable[g->nodes[node].op]->name);
}

static int reduce_scatter_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    if (want[0]) gx[0] = ir_all_gather(g, gy[0], ranks_of(g, node));
    return 0;
}

static int broadcast_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    if (want[0]) gx[0] = ir_reduce_to(g, gy[0], ranks_of(g, node), (int)ir_get_i(&g->nodes[node], "root"));
    return 0;
}

static int reduce_grad(ir_graph *g, int node, const int *gy, const int *want, int *gx) {
    if (want[0]) gx[0] = ir_broadcast(g, gy[0], ranks_of(g, node), (int)ir_get_i(&g->nodes[node], "root"));
    return 0;
}

static int64_t no_flops(const ir_graph *g, const ir_node *n) {
    (void)g, (void)n;
    return 0; /* communication, not arithmetic (sslc inspect counts its bytes) */
}

REF_PROTO(ref_all_reduce);
REF_PROTO(ref_all_gather);
REF_PROTO(ref_reduce_scatter);
REF_PROTO(ref_broadcast);
REF_PROTO(ref_reduce);
REF_PROTO(ref_all_reduce_start);
REF_PROTO(ref_all_reduce_wait);
const ir_opdef op_AllReduce = {.name = "AllReduce", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_COLLECTIVE, .nattrs = 3,
                               .attrs = {{"ranks", AT_INT, 1}, {"mean", AT_INT, 0}, {"root", AT_INT, 0}},
                               .infer = all_reduce_infer, REF(ref_all_reduce), .grad = all_reduce_grad,
                               .flops = no_flops};
const ir_opdef op_AllGather = {.name = "AllGather", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_COLLECTIVE, .nattrs = 1,
                               .attrs = {{"ranks", AT_INT, 1}}, .infer = all_gather_infer, REF(ref_all_gather),
                               .grad = all_gather_grad, .flops = no_flops};
const ir_opdef op_ReduceScatter = {.name = "ReduceScatter", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_COLLECTIVE, .nattrs = 1,
                                   .attrs = {{"ranks", AT_INT, 1}}, .infer = reduce_scatter_infer,
                                   REF(ref_reduce_scatter), .grad = reduce_scatter_grad, .flops = no_flops};
const ir_opdef op_Broadcast = {.name = "Broadcast", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_COLLECTIVE, .nattrs = 2,
                               .attrs = {{"ranks", AT_INT, 1}, {"root", AT_INT, 0}}, .infer = broadcast_infer,
                               REF(ref_broadcast), .grad = broadcast_grad, .flops = no_flops};
const ir_opdef op_Reduce = {.name = "Reduce", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_GRAD_ONLY | OPF_COLLECTIVE,
                            .nattrs = 2, .attrs = {{"ranks", AT_INT, 1}, {"root", AT_INT, 0}}, .infer = reduce_infer,
                            REF(ref_reduce), .grad = reduce_grad, .flops = no_flops};
const ir_opdef op_AllReduceStart = {.name = "AllReduceStart", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_COLLECTIVE, .nattrs = 1,
                                    .attrs = {{"ranks", AT_INT, 1}},
                                    .infer = all_reduce_start_infer, REF(ref_all_reduce_start),
                                    .grad = split_all_reduce_grad, .flops = no_flops};
const ir_opdef op_AllReduceWait = {.name = "AllReduceWait", .min_in = 1, .max_in = 1, .nout = 1, .flags = OPF_COLLECTIVE, .nattrs = 2,
                                   .attrs = {{"ranks", AT_INT, 1}, {"mean", AT_INT, 0}},
                                   .infer = all_reduce_wait_infer, REF(ref_all_reduce_wait),
                                   .grad = split_all_reduce_grad, .flops = no_flops};
#endif
