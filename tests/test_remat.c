/* passes/remat.c: which values it recomputes and what that saves. That the rewritten graph
 * computes the same loss, gradients and updates is test_fusion's lowering and 5-step checks
 * (they run on the lowered + rematerialized graph of every method).
 *  - ResNet-18 (CIFAR stem, 32px, batch 128): BatchNorm+ReLU outputs are recomputed; no value
 *    the forward pass makes is read after the loss except what remat keeps on purpose (the
 *    chain anchors); the planned arena shrinks by at least a third;
 *  - ViT-tiny: GELU outputs are recomputed;
 *  - a graph without a value named "loss" comes out unchanged. */
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "passes/fusion.h"
#include "passes/lower.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"
#include "passes/schedule.h"

static int build(ir_graph *g, const char *backbone, int size, int64_t batch) {
    char err[IR_ERRLEN];
    CHECK(test_simclr_graph(g, backbone, size, batch, NULL, err) == 0, "%s: %s", backbone, err);
    return 0;
}

/* the arena the back half plans for a lowered graph */
static int64_t arena_of(const ir_graph *lg) {
    char err[IR_ERRLEN];
    fused_plan fp;
    memplan mp;
    if (fuse(lg, &fp, err)) return -1;
    fuse_horizontal(&fp);
    int64_t a = -1;
    if (!schedule_steps_ex(lg, fp.steps, fp.nsteps, fp.root, NULL, err) &&
        !memplan_build_ex(lg, fp.steps, fp.nsteps, fp.root, &mp, err)) {
        a = mp.arena_bytes;
        memplan_free(&mp);
    }
    fused_plan_free(&fp);
    return a;
}

static int count_op(const ir_graph *g, int op) {
    int c = 0;
    for (int i = 0; i < g->nnodes; i++) c += g->nodes[i].op == op;
    return c;
}

static int check_resnet(void) {
    ir_graph g, lg, rg;
    char err[IR_ERRLEN];
    if (build(&g, "resnet18", 32, 128)) return 1; /* the bench configuration */
    CHECK(lower_graph(&g, &lg, err) == 0, "%s", err);
    remat_stats st;
    CHECK(remat_graph(&lg, &rg, &st, err) == 0, "%s", err);
    /* one ReLU output per BatchNorm+ReLU that is not a residual input, per view: most of them */
    int relus = count_op(&lg, OP_Relu);
    CHECK(st.values >= relus / 2, "%d values recomputed for %d ReLU outputs", st.values, relus);
    CHECK(rg.nnodes == lg.nnodes + st.nodes, "%d nodes, expected %d + %d", rg.nnodes, lg.nnodes, st.nodes);
    CHECK(count_op(&rg, OP_Relu) > relus, "no ReLU was copied into the backward pass");
    /* a recomputed value has no reader after the loss any more */
    int loss = ir_find_value(&rg, "loss");
    CHECK(loss >= 0, "the rewritten graph lost its loss");
    int L = rg.vals[loss].producer, late_reads = 0, before = 0;
    for (int i = L + 1; i < rg.nnodes; i++)
        for (int k = 0; k < rg.nodes[i].nin; k++) {
            int v = rg.nodes[i].in[k], p = rg.vals[v].producer;
            late_reads += p >= 0 && p < L && rg.nodes[p].op == OP_Relu;
        }
    int lloss = ir_find_value(&lg, "loss"), LL = lg.vals[lloss].producer;
    for (int i = LL + 1; i < lg.nnodes; i++)
        for (int k = 0; k < lg.nodes[i].nin; k++) {
            int v = lg.nodes[i].in[k], p = lg.vals[v].producer;
            before += p >= 0 && p < LL && lg.nodes[p].op == OP_Relu;
        }
    CHECK(late_reads < before, "backward reads of forward ReLU outputs: %d before, %d after", before, late_reads);
    int64_t a0 = arena_of(&lg), a1 = arena_of(&rg);
    CHECK(a0 > 0 && a1 > 0, "planning failed");
    CHECK(a1 * 3 <= a0 * 2, "arena %.1f MiB with remat, %.1f MiB without: not a third less", a1 / 1048576.0,
          a0 / 1048576.0);
    printf("ok   resnet18 32px b128: %d values (%.1f MiB) recomputed by %d nodes; backward reads of forward ReLU "
           "outputs %d -> %d; arena %.1f -> %.1f MiB\n",
           st.values, st.bytes / 1048576.0, st.nodes, before, late_reads, a0 / 1048576.0, a1 / 1048576.0);
    ir_graph_free(&g), ir_graph_free(&lg), ir_graph_free(&rg);
    return 0;
}

static int check_vit(void) {
    ir_graph g, lg, rg;
    char err[IR_ERRLEN];
    if (build(&g, "vit-tiny", 32, 32)) return 1;
    CHECK(lower_graph(&g, &lg, err) == 0, "%s", err);
    remat_stats st;
    CHECK(remat_graph(&lg, &rg, &st, err) == 0, "%s", err);
    int gelus = count_op(&lg, OP_Gelu);
    CHECK(count_op(&rg, OP_Gelu) > gelus, "no GELU recomputed (%d values recomputed)", st.values);
    int64_t a0 = arena_of(&lg), a1 = arena_of(&rg);
    CHECK(a1 > 0 && a1 <= a0, "arena %.1f MiB with remat, %.1f without", a1 / 1048576.0, a0 / 1048576.0);
    printf("ok   vit-tiny 32px b32: %d values recomputed (%d GELU copies); arena %.1f -> %.1f MiB\n", st.values,
           count_op(&rg, OP_Gelu) - gelus, a0 / 1048576.0, a1 / 1048576.0);
    ir_graph_free(&g), ir_graph_free(&lg), ir_graph_free(&rg);
    return 0;
}

static int check_no_loss(void) {
    ir_graph g, lg, rg;
    char err[IR_ERRLEN];
    if (build(&g, "resnet18", 16, 4)) return 1;
    CHECK(lower_graph(&g, &lg, err) == 0, "%s", err);
    int loss = ir_find_value(&lg, "loss");
    CHECK(loss >= 0, "no loss");
    ir_set_name(&lg, loss, "not_the_loss");
    remat_stats st;
    CHECK(remat_graph(&lg, &rg, &st, err) == 0, "%s", err);
    CHECK(st.values == 0 && rg.nnodes == lg.nnodes && rg.noutputs == lg.noutputs && rg.nupdates == lg.nupdates,
          "a graph without a loss changed: %d values, %d -> %d nodes", st.values, lg.nnodes, rg.nnodes);
    printf("ok   a graph without a loss is copied unchanged (%d nodes)\n", rg.nnodes);
    ir_graph_free(&g), ir_graph_free(&lg), ir_graph_free(&rg);
    return 0;
}

int main(void) {
    int failed = check_resnet() + check_vit() + check_no_loss();
    printf("%d passed, %d failed\n", 3 - failed, failed);
    return failed != 0;
}
