/* passes/remat.c: which values it recomputes, what that saves, and that nothing else changes.
 *  - ResNet-18 (CIFAR stem, 32px, batch 128): BatchNorm+ReLU outputs are recomputed; backward
 *    readers of forward ReLU outputs are nearly all gone; the planned arena shrinks by a third;
 *  - ViT-tiny: GELU outputs are recomputed;
 *  - a graph without a loss flagged VF_FORWARD_LOSS comes out unchanged (a renamed one still splits);
 *  - ResNet-18 and ViT-tiny small enough for the reference interpreter: loss, gradients and
 *    updated parameters and state are bit-identical with and without the pass (the copies run
 *    the same ops on the same inputs). test_fusion runs every method through it as well. */
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "passes/fusion.h"
#include "passes/lower.h"
#include "passes/memplan.h"
#include "passes/pipeline.h"
#include "passes/schedule.h"
#include "runtime/init.h"
#include "runtime/interp.h"

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

/* the rewritten graph computes the same bits as the lowered one through the reference
 * interpreter (float32): the loss, every gradient, and every parameter and state after the
 * step; inputs drawn by name, parameters from their init recipes */
static int check_same_bits(const ir_graph *a, const ir_graph *b, const char *label) {
    char err[IR_ERRLEN];
    interp ia, ib;
    CHECK(interp_init(&ia, a, 0, err) == 0 && init_persistent(&ia, 5, err) == 0, "%s", err);
    CHECK(interp_init(&ib, b, 0, err) == 0 && init_persistent(&ib, 5, err) == 0, "%s", err);
    for (int v = 0; v < a->nvals; v++) {
        const ir_value *x = &a->vals[v];
        if (x->kind != VK_INPUT) continue;
        int w = ir_find_value(b, x->name);
        CHECK(w >= 0, "%s: input %s lost", label, x->name);
        int64_t n = ir_numel(&x->shape);
        float *buf = malloc((size_t)n * sizeof(float));
        uint64_t h = 1469598103934665603ull;
        for (const char *c = x->name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
        test_fill_uniform(buf, n, !strncmp(x->name, "opt.", 4) ? 0.001 : -1, !strncmp(x->name, "opt.", 4) ? 0.01 : 1, h);
        if (x->dtype == DT_F32) interp_set_f32(&ia, v, buf, err), interp_set_f32(&ib, w, buf, err);
        free(buf);
    }
    CHECK(interp_run(&ia, err) == 0 && interp_run(&ib, err) == 0, "%s: %s", label, err);
    int compared = 0;
    for (int i = 0; i <= a->noutputs + a->nvals; i++) {
        int v, w;
        if (i < a->noutputs) {
            v = a->outputs[i], w = b->outputs[i];
        } else {
            v = i - a->noutputs;
            if (v >= a->nvals || (a->vals[v].kind != VK_PARAM && a->vals[v].kind != VK_STATE) || a->vals[v].dtype != DT_F32) continue;
            w = ir_find_value(b, a->vals[v].name);
        }
        CHECK(w >= 0 && a->vals[v].dtype == b->vals[w].dtype, "%s: value %d has no twin", label, v);
        if (a->vals[v].dtype != DT_F32) continue;
        const float *x = interp_data(&ia, v), *y = interp_data(&ib, w);
        CHECK(x && y && !memcmp(x, y, (size_t)ir_numel(&a->vals[v].shape) * sizeof(float)), "%s: %s differs",
              label, a->vals[v].name ? a->vals[v].name : "an output");
        compared++;
    }
    interp_free(&ia), interp_free(&ib);
    printf("ok   %s: loss, gradients, parameters and state bit-identical to the lowered graph (%d tensors)\n", label,
           compared);
    return 0;
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

/* small enough for the interpreter, large enough that values pass REMAT_MIN_NUMEL */
static int check_bits(const char *backbone, int size, int64_t batch) {
    ir_graph g, lg, rg;
    char err[IR_ERRLEN], label[64];
    if (build(&g, backbone, size, batch)) return 1;
    CHECK(lower_graph(&g, &lg, err) == 0, "%s", err);
    remat_stats st;
    CHECK(remat_graph(&lg, &rg, &st, err) == 0, "%s", err);
    snprintf(label, sizeof label, "%s %dpx b%lld, %d values recomputed", backbone, size, (long long)batch, st.values);
    CHECK(st.values > 0, "%s: nothing to check", label);
    int rc = check_same_bits(&lg, &rg, label);
    ir_graph_free(&g), ir_graph_free(&lg), ir_graph_free(&rg);
    return rc;
}

static int check_no_loss(void) {
    ir_graph g, lg, rg;
    char err[IR_ERRLEN];
    if (build(&g, "resnet18", 16, 4)) return 1;
    CHECK(lower_graph(&g, &lg, err) == 0, "%s", err);
    int loss = ir_find_value(&lg, "loss");
    CHECK(loss >= 0 && ir_forward_loss(&lg) == loss, "lowering lost the loss or its VF_FORWARD_LOSS flag");
    /* the boundary is the flag autodiff set, not the name: renamed, the loss still splits */
    ir_set_name(&lg, loss, "not_the_loss");
    remat_stats st;
    CHECK(remat_graph(&lg, &rg, &st, err) == 0, "%s", err);
    CHECK(st.values > 0, "a renamed loss stopped remat");
    ir_graph_free(&rg);
    lg.vals[loss].flags &= ~VF_FORWARD_LOSS;
    CHECK(remat_graph(&lg, &rg, &st, err) == 0, "%s", err);
    CHECK(st.values == 0 && rg.nnodes == lg.nnodes && rg.noutputs == lg.noutputs && rg.nupdates == lg.nupdates,
          "a graph without a loss changed: %d values, %d -> %d nodes", st.values, lg.nnodes, rg.nnodes);
    printf("ok   the boundary is the flagged loss, whatever its name; without one the graph is copied unchanged (%d nodes)\n",
           rg.nnodes);
    ir_graph_free(&g), ir_graph_free(&lg), ir_graph_free(&rg);
    return 0;
}

int main(void) {
    int failed = check_resnet() + check_vit() + check_no_loss() + check_bits("resnet18", 16, 8) +
                 check_bits("vit-tiny", 16, 4);
    printf("%d passed, %d failed\n", 5 - failed, failed);
    return failed != 0;
}
