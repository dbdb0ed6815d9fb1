/* Times every distinct convolution of a SimCLR training graph: the op table's kernel (im2col +
 * OpenBLAS) against oneDNN in each layout policy (plain: NCHW/OIHW, no reorders; weights: the
 * primitive's weight layout; any: the primitive's layout for every tensor, reorders around the
 * call; there Winograd where SSLC_CONV_ALGO allows it: tuned, the default, auto or direct), weighted by how
 * often the graph runs each. Wall time and process CPU time (run with
 * OMP_WAIT_POLICY=passive so that waiting threads do not count).
 *
 * usage: build/conv_bench [resnet18|resnet50] [image size] [batch] [reps] [width] [channels]
 *   (the main job's model: build/conv_bench resnet18 28 256 3 0.5 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/driver.h"
#include "runtime/cpu_conv_dnnl.h"

static double clk(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, int64_t n, uint64_t s) {
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24)) * 2 - 1;
    }
}

int main(int argc, char **argv) {
    const char *bb = argc > 1 ? argv[1] : "resnet18";
    int size = argc > 2 ? atoi(argv[2]) : 32, reps = argc > 4 ? atoi(argv[4]) : 3;
    int64_t batch = argc > 3 ? atoll(argv[3]) : 32;
    double width = argc > 5 ? atof(argv[5]) : 1;
    int channels = argc > 6 ? atoi(argv[6]) : 3;
    if (width <= 0 || channels < 1) {
        fprintf(stderr, "conv_bench: width must be > 0 and channels >= 1 (usage: conv_bench [backbone] [size] [batch] [reps] [width] [channels])\n");
        return 1;
    }
    compile_args a;
    memset(&a, 0, sizeof a);
    a.method = method_find("simclr");
    snprintf(a.spec.backbone.name, sizeof a.spec.backbone.name, "%s", bb);
    a.spec.backbone.width = width, a.spec.backbone.image_size = size, a.spec.backbone.channels = channels;
    a.spec.backbone.cifar_stem = -1, a.spec.batch = batch;
    a.opt = opt_defaults(OPT_SGD), a.lr = 0.05;
    char err[IR_ERRLEN];
    ir_graph g;
    ir_graph_init(&g);
    if (driver_build_train(&a, &g, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    cpu_conv *cc[3];
    for (int l = 0; l < 3; l++)
        if (!(cc[l] = cpu_conv_new((cpu_conv_layout)l, CONV_ALGO_DEFAULT, err))) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    static const char *pol[4] = {"ref", "plain", "weights", "any"};
    double tot[3][4][2]; /* op x policy x (wall, cpu) */
    memset(tot, 0, sizeof tot);
    printf("%s width %g, %d channels, %dpx batch %lld, %d reps: seconds per call, wall (cpu) — ref | plain | weights | any\n",
           bb, width, channels, size, (long long)batch, reps);
    for (int i = 0; i < g.nnodes; i++) {
        const ir_node *n = &g.nodes[i];
        if (n->op != OP_Conv && n->op != OP_ConvGradInput && n->op != OP_ConvGradWeight) continue;
        int dup = 0, count = 0;
        for (int j = 0; j < g.nnodes; j++) {
            const ir_node *m = &g.nodes[j];
            int same = m->op == n->op && m->nin == n->nin && !memcmp(m->attr, n->attr, sizeof m->attr);
            for (int k = 0; k < n->nin && same; k++) same = ir_shape_eq(&g.vals[m->in[k]].shape, &g.vals[n->in[k]].shape);
            same = same && ir_shape_eq(&g.vals[m->out[0]].shape, &g.vals[n->out[0]].shape);
            if (same && j < i) dup = 1;
            count += same;
        }
        if (dup) continue;
        ref_call c;
        memset(&c, 0, sizeof c);
        c.node = n, c.nin = n->nin, c.nout = 1, c.err = err;
        for (int k = 0; k <= n->nin; k++) {
            ref_tensor *t = k < n->nin ? &c.in[k] : &c.out[0];
            const ir_value *v = &g.vals[k < n->nin ? n->in[k] : n->out[0]];
            t->dtype = DT_F32, t->shape = v->shape, t->numel = ir_numel(&v->shape);
            t->data = aligned_alloc(64, ((size_t)t->numel * 4 + 63) / 64 * 64);
            fill(t->data, t->numel, (uint64_t)k + 1);
        }
        int oi = n->op == OP_Conv ? 0 : n->op == OP_ConvGradInput ? 1 : 2;
        const ir_shape *xs = n->op == OP_Conv ? &g.vals[n->in[0]].shape
                             : n->op == OP_ConvGradInput ? &g.vals[n->out[0]].shape : &g.vals[n->in[1]].shape;
        const ir_shape *ws = n->op == OP_ConvGradWeight ? &g.vals[n->out[0]].shape : &g.vals[n->in[1]].shape;
        printf("%-14s x%3lldx%3lldx%3lld w%3lldx%lld s%lld x%d:", ir_optable[n->op]->name, (long long)xs->d[1],
               (long long)xs->d[2], (long long)xs->d[3], (long long)ws->d[0], (long long)ws->d[2],
               (long long)ir_get(n, "strides")->v[0], count);
        double best = 1e30;
        int bi = 0;
        for (int p = 0; p < 4; p++) {
            int h = p ? cpu_conv_prepare(cc[p - 1], &c, err) : 0;
            if (h < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            /* warm-up, then reps */
            int rc = p ? cpu_conv_exec(cc[p - 1], h, &c) : ir_optable[n->op]->ref_f32(&c);
            double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
            for (int r = 0; r < reps && !rc; r++) rc = p ? cpu_conv_exec(cc[p - 1], h, &c) : ir_optable[n->op]->ref_f32(&c);
            double w = (clk(CLOCK_MONOTONIC) - w0) / reps, cp = (clk(CLOCK_PROCESS_CPUTIME_ID) - c0) / reps;
            if (rc) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            tot[oi][p][0] += count * w, tot[oi][p][1] += count * cp;
            printf(" %7.4f (%7.4f)", w, cp);
            if (cp < best) best = cp, bi = p;
        }
        printf("  best %s  [%s]\n", pol[bi], cpu_conv_impl(cc[2], cpu_conv_prepare(cc[2], &c, err)));
        for (int k = 0; k <= n->nin; k++) free(k < n->nin ? c.in[k].data : c.out[0].data);
        fflush(stdout);
    }
    printf("per step (weighted by node count), wall (cpu):\n");
    static const char *opn[3] = {"Conv", "ConvGradInput", "ConvGradWeight"};
    for (int o = 0; o < 3; o++) {
        printf("  %-14s", opn[o]);
        for (int p = 0; p < 4; p++) printf(" %s %.3f (%.3f)", pol[p], tot[o][p][0], tot[o][p][1]);
        printf("\n");
    }
    for (int l = 0; l < 3; l++) cpu_conv_free(cc[l]);
    ir_graph_free(&g);
    return 0;
}
