/* oneDNN convolutions of the cpu backend (runtime/cpu_conv_dnnl.c) against the op table's
 * reference kernels (im2col + OpenBLAS), forward, backward data and backward weights, rel err
 * <= 1e-5: every distinct convolution of the ResNet-18/50 SimCLR training graphs with the CIFAR
 * stem (32x32) and the ImageNet stem (224x224), plus stride 2, groups 2 (and depthwise),
 * dilation 2, 1x1, uneven pads and bias; in every layout policy (plain, preferred weights,
 * preferred everything) with the direct algorithm, and with oneDNN's own choice of algorithm
 * (ResNet-18 at batch 32 makes it choose Winograd); and the tuned policy, the default, which
 * allows Winograd only on the shapes where it measured faster. */
#include <stdlib.h>
#include <string.h>

#include "frontend/driver.h"
#include "optest.h"
#include "runtime/cpu_conv_dnnl.h"

static int is_conv(int op) { return op == OP_Conv || op == OP_ConvGradInput || op == OP_ConvGradWeight; }

/* a ref_call of node n over fresh buffers: inputs uniform in [-1, 1], the output poisoned */
static ref_call make_call(const ir_graph *g, const ir_node *n, char *err, uint64_t seed) {
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    for (int k = 0; k < n->nin + 1; k++) {
        ref_tensor *t = k < n->nin ? &c.in[k] : &c.out[0];
        const ir_value *v = &g->vals[k < n->nin ? n->in[k] : n->out[0]];
        t->dtype = DT_F32, t->shape = v->shape, t->numel = ir_numel(&v->shape);
        t->data = malloc((size_t)t->numel * sizeof(float));
        if (k < n->nin)
            test_fill_uniform(t->data, t->numel, -1, 1, seed + (uint64_t)k);
        else
            for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = 1e6f;
    }
    return c;
}

static void free_call(ref_call *c) {
    for (int k = 0; k < c->nin; k++) free(c->in[k].data);
    free(c->out[0].data);
}

static void describe(const ir_graph *g, const ir_node *n, char *buf, size_t len) {
    const ir_attrval *st = ir_get(n, "strides"), *pd = ir_get(n, "pads"), *dl = ir_get(n, "dilations");
    const ir_shape *w = n->op == OP_ConvGradWeight ? &g->vals[n->out[0]].shape : &g->vals[n->in[1]].shape;
    const ir_shape *x = n->op == OP_Conv          ? &g->vals[n->in[0]].shape
                        : n->op == OP_ConvGradInput ? &g->vals[n->out[0]].shape
                                                    : &g->vals[n->in[1]].shape;
    snprintf(buf, len, "%-14s x %lldx%lldx%lldx%lld w %lldx%lldx%lldx%lld s%lld,%lld p%lld,%lld,%lld,%lld d%lld,%lld g%lld%s",
             ir_optable[n->op]->name, (long long)x->d[0], (long long)x->d[1], (long long)x->d[2], (long long)x->d[3],
             (long long)w->d[0], (long long)w->d[1], (long long)w->d[2], (long long)w->d[3],
             (long long)(st->n ? st->v[0] : 1), (long long)(st->n ? st->v[1] : 1), (long long)(pd->n ? pd->v[0] : 0),
             (long long)(pd->n ? pd->v[1] : 0), (long long)(pd->n ? pd->v[2] : 0), (long long)(pd->n ? pd->v[3] : 0),
             (long long)(dl->n ? dl->v[0] : 1), (long long)(dl->n ? dl->v[1] : 1), (long long)ir_get_i(n, "group"),
             n->op == OP_Conv && n->nin > 2 ? " bias" : "");
}

/* layout policy x algorithm: plain, preferred weights, preferred everything (direct), and
 * preferred everything with oneDNN's choice of algorithm (Winograd where it finds it worth it) */
#define NPOL 4
static const char *const policy[NPOL] = {"plain", "weights", "any", "any+auto"};
static int nchecked, nwino;
static double worst, worst_wino;

/* node n of g through oneDNN (in every layout policy) and through the reference kernel */
static int check_node(const ir_graph *g, const ir_node *n, cpu_conv *const cc[NPOL], int verbose) {
    char err[IR_ERRLEN] = "", what[200];
    describe(g, n, what, sizeof what);
    ref_call c = make_call(g, n, err, 7 + (uint64_t)nchecked);
    int64_t no = c.out[0].numel;
    float *want = malloc((size_t)no * sizeof(float));
    int rc = ir_optable[n->op]->ref_f32(&c);
    CHECK(rc == 0, "%s: reference kernel: %s", what, err);
    memcpy(want, c.out[0].data, (size_t)no * sizeof(float));
    double e[NPOL] = {0};
    const char *impl[NPOL];
    for (int l = 0; l < NPOL; l++) {
        for (int64_t i = 0; i < no; i++) ((float *)c.out[0].data)[i] = 1e6f;
        int h = cpu_conv_prepare(cc[l], &c, err);
        CHECK(h >= 0, "%s: %s", what, err);
        CHECK(cpu_conv_exec(cc[l], h, &c) == 0, "%s: %s", what, err);
        /* twice: the second call reuses the primitive, its reorders and the pool */
        for (int64_t i = 0; i < no; i++) ((float *)c.out[0].data)[i] = -1e6f;
        CHECK(cpu_conv_exec(cc[l], h, &c) == 0, "%s: %s", what, err);
        e[l] = rel_err(c.out[0].data, want, no);
        impl[l] = cpu_conv_impl(cc[l], h);
        int wino = strstr(impl[l], "wino") != NULL;
        double *w = wino ? &worst_wino : &worst;
        if (e[l] > *w) *w = e[l];
        nwino += wino;
        CHECK(e[l] <= 1e-5, "%s: oneDNN (policy %s, %s) differs from the reference: rel err %.3g",
              what, policy[l], impl[l], e[l]);
    }
    if (verbose)
        printf("     %s  rel err %.1e %.1e %.1e %.1e  [%s | %s | %s | %s]\n", what, e[0], e[1], e[2], e[3], impl[0],
               impl[1], impl[2], impl[3]);
    free(want);
    free_call(&c);
    nchecked++;
    return 0;
}

/* configurations outside ResNets: one graph per case with Conv and both gradient ops */
typedef struct {
    int64_t N, C, H, W, M, KH, KW, sh, sw, phb, pwb, phe, pwe, dh, dw, G;
    int bias;
    const char *what;
} conv_case;

static const conv_case cases[] = {
    /*N  C  H  W   M KH KW sh sw phb pwb phe pwe dh dw G bias */
    {2, 8, 9, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, "stride 2"},
    {3, 8, 10, 7, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, "groups 2, bias"},
    {2, 8, 9, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 0, "groups 2, stride 2"},
    {2, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, 0, "depthwise"},
    {2, 6, 12, 11, 10, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 0, "dilation 2"},
    {2, 6, 12, 11, 10, 3, 3, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1, "dilation 2 on h, stride 2 on h"},
    {2, 16, 7, 7, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, "1x1"},
    {2, 16, 7, 8, 24, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, "1x1 stride 2, bias"},
    {2, 5, 9, 10, 7, 3, 2, 1, 2, 1, 0, 0, 2, 1, 1, 1, 1, "uneven pads, non-square kernel"},
    {2, 4, 8, 8, 6, 4, 4, 2, 2, 2, 1, 1, 2, 1, 1, 1, 0, "uneven pads, 4x4 stride 2"},
    {1, 3, 17, 17, 5, 5, 5, 3, 3, 0, 0, 0, 0, 1, 1, 1, 0, "5x5 stride 3, unpadded"},
};

static int check_case(const conv_case *k, cpu_conv *const cc[NPOL]) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_param(&g, "x", IR_SHAPE(k->N, k->C, k->H, k->W), ir_init_uniform(-1, 1), 0);
    int w = ir_param(&g, "w", IR_SHAPE(k->M, k->C / k->G, k->KH, k->KW), ir_init_uniform(-1, 1), 0);
    int b = k->bias ? ir_param(&g, "b", IR_SHAPE(k->M), ir_init_uniform(-1, 1), 0) : -1;
    int node = ir_node_new(&g, OP_Conv, (int[]){x, w, b}, k->bias ? 3 : 2);
    int64_t s[2] = {k->sh, k->sw}, p[4] = {k->phb, k->pwb, k->phe, k->pwe}, d[2] = {k->dh, k->dw};
    ir_set_ints(&g, node, "strides", s, 2);
    ir_set_ints(&g, node, "pads", p, 4);
    ir_set_ints(&g, node, "dilations", d, 2);
    ir_set_i(&g, node, "group", k->G);
    int y = ir_node_finish(&g, node);
    CHECK(y >= 0, "%s: %s", k->what, g.err);
    /* the gradient ops, built by the op's own gradient rule */
    int gy[1] = {ir_param(&g, "gy", g.vals[y].shape, ir_init_uniform(-1, 1), 0)}, want[3] = {1, 1, 0}, gx[3] = {-1, -1, -1};
    CHECK(ir_optable[OP_Conv]->grad(&g, node, gy, want, gx) == 0 && gx[0] >= 0 && gx[1] >= 0, "%s: grad: %s", k->what,
          g.err);
    for (int i = 0; i < g.nnodes; i++)
        if (is_conv(g.nodes[i].op) && check_node(&g, &g.nodes[i], cc, 1)) {
            fprintf(stderr, "FAIL case %s\n", k->what);
            return 1;
        }
    ir_graph_free(&g);
    return 0;
}

/* every distinct convolution (op, shapes, attributes) of a SimCLR training graph */
static int check_backbone(const char *backbone, int size, int64_t batch, cpu_conv *const cc[NPOL]) {
    char err[IR_ERRLEN];
    ir_graph g;
    CHECK(test_simclr_graph(&g, backbone, size, batch, "projection_dim=16", err) == 0, "%s: %s", backbone, err);
    int before = nchecked, seen[3] = {0, 0, 0};
    for (int i = 0; i < g.nnodes; i++) {
        const ir_node *n = &g.nodes[i];
        if (!is_conv(n->op)) continue;
        seen[n->op == OP_Conv ? 0 : n->op == OP_ConvGradInput ? 1 : 2]++;
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) {
            const ir_node *m = &g.nodes[j];
            dup = m->op == n->op && m->nin == n->nin && !memcmp(m->attr, n->attr, sizeof m->attr);
            for (int k = 0; k < n->nin && dup; k++)
                dup = ir_shape_eq(&g.vals[m->in[k]].shape, &g.vals[n->in[k]].shape);
            dup = dup && ir_shape_eq(&g.vals[m->out[0]].shape, &g.vals[n->out[0]].shape);
        }
        if (!dup && check_node(&g, n, cc, 0)) {
            fprintf(stderr, "FAIL %s %dpx\n", backbone, size);
            return 1;
        }
    }
    CHECK(seen[0] && seen[1] && seen[2], "%s: the graph lacks convolution ops", backbone);
    printf("ok   %s %dpx: %d Conv, %d ConvGradInput, %d ConvGradWeight nodes, %d distinct, all match\n", backbone,
           size, seen[0], seen[1], seen[2], nchecked - before);
    ir_graph_free(&g);
    return 0;
}

/* The tuned policy (the default): Winograd never where cpu_conv_wino_pays says it loses, and
 * still somewhere it pays, on every distinct convolution of ResNet-18 at batch 32 */
static int check_tuned(void) {
    char err[IR_ERRLEN];
    int64_t s1[2] = {1, 1}, s2[2] = {2, 2}, d1[2] = {1, 1};
    int64_t stem[4] = {64, 3, 3, 3}, c16[4] = {16, 16, 3, 3}, c32[4] = {32, 32, 3, 3}, c64[4] = {64, 64, 3, 3};
    int64_t k1[4] = {64, 64, 1, 1}, dw[4] = {64, 1, 3, 3};
    CHECK(!cpu_conv_wino_pays(OP_Conv, stem, 1, s1, d1) && !cpu_conv_wino_pays(OP_ConvGradWeight, stem, 1, s1, d1),
          "tuned: Winograd allowed on a 3-channel stem");
    CHECK(!cpu_conv_wino_pays(OP_Conv, c16, 1, s1, d1), "tuned: Winograd allowed on 16 channels");
    CHECK(cpu_conv_wino_pays(OP_Conv, c32, 1, s1, d1) && cpu_conv_wino_pays(OP_ConvGradInput, c32, 1, s1, d1) &&
              !cpu_conv_wino_pays(OP_ConvGradWeight, c32, 1, s1, d1),
          "tuned: 32 channels: Winograd for the forward pass and the input gradient only");
    CHECK(cpu_conv_wino_pays(OP_ConvGradWeight, c64, 1, s1, d1), "tuned: 64 channels: Winograd for the weight gradient");
    CHECK(!cpu_conv_wino_pays(OP_Conv, c64, 1, s2, d1) && !cpu_conv_wino_pays(OP_Conv, k1, 1, s1, d1) &&
              !cpu_conv_wino_pays(OP_Conv, dw, 64, s1, d1),
          "tuned: Winograd allowed off 3x3 stride 1 ungrouped");
    ir_graph g;
    CHECK(test_simclr_graph(&g, "resnet18", 32, 32, "projection_dim=16", err) == 0, "resnet18: %s", err);
    cpu_conv *cc = cpu_conv_new(CONV_LAYOUT_ANY, CONV_ALGO_TUNED, err);
    CHECK(cc, "%s", err);
    int wino = 0, direct = 0;
    for (int i = 0; i < g.nnodes; i++) {
        const ir_node *n = &g.nodes[i];
        if (!is_conv(n->op)) continue;
        ref_call c = make_call(&g, n, err, 3);
        int h = cpu_conv_prepare(cc, &c, err);
        CHECK(h >= 0, "tuned: %s", err);
        const ir_shape *ws = n->op == OP_ConvGradWeight ? &g.vals[n->out[0]].shape : &g.vals[n->in[1]].shape;
        const ir_attrval *st = ir_get(n, "strides"), *dl = ir_get(n, "dilations");
        int64_t sv[2] = {st->n ? st->v[0] : 1, st->n ? st->v[1] : 1}, dv[2] = {dl->n ? dl->v[0] : 1, dl->n ? dl->v[1] : 1};
        int pays = cpu_conv_wino_pays(n->op, ws->d, ir_get_i(n, "group"), sv, dv);
        int is_wino = strstr(cpu_conv_impl(cc, h), "wino") != NULL;
        char what[200];
        describe(&g, n, what, sizeof what);
        CHECK(pays || !is_wino, "tuned: %s runs Winograd (%s) where it loses", what, cpu_conv_impl(cc, h));
        is_wino ? wino++ : direct++;
        free_call(&c);
    }
    CHECK(wino > 0 && direct > 0, "tuned: %d Winograd, %d direct primitives: expected both", wino, direct);
    printf("ok   tuned policy: %d Winograd and %d direct calls on ResNet-18 batch 32, none against the rule\n", wino,
           direct);
    cpu_conv_free(cc);
    ir_graph_free(&g);
    return 0;
}

int main(void) {
    char err[IR_ERRLEN];
    cpu_conv *cc[NPOL];
    for (int l = 0; l < NPOL; l++) {
        cc[l] = cpu_conv_new(l == 3 ? CONV_LAYOUT_ANY : (cpu_conv_layout)l, l == 3 ? CONV_ALGO_AUTO : CONV_ALGO_DIRECT,
                             err);
        CHECK(cc[l], "%s", err);
    }
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = check_case(&cases[i], cc);
        rc ? failed++ : passed++;
        if (!rc) printf("ok   %s\n", cases[i].what);
    }
    check_backbone("resnet18", 32, 2, cc) ? failed++ : passed++;
    check_backbone("resnet18", 32, 32, cc) ? failed++ : passed++; /* a batch where Winograd pays */
    check_backbone("resnet50", 32, 2, cc) ? failed++ : passed++;
    check_backbone("resnet18", 224, 2, cc) ? failed++ : passed++;
    check_backbone("resnet50", 224, 2, cc) ? failed++ : passed++;
    check_tuned() ? failed++ : passed++;
    printf("     %d convolutions checked, max rel err %.2e direct, %.2e Winograd (%d calls); %d/%d/%d/%d primitives "
           "(plain/weights/any/any+auto), pools %.1f/%.1f/%.1f/%.1f MiB\n",
           nchecked, worst, worst_wino, nwino, cpu_conv_count(cc[0]), cpu_conv_count(cc[1]), cpu_conv_count(cc[2]),
           cpu_conv_count(cc[3]), cpu_conv_pool_bytes(cc[0]) / 1048576.0, cpu_conv_pool_bytes(cc[1]) / 1048576.0,
           cpu_conv_pool_bytes(cc[2]) / 1048576.0, cpu_conv_pool_bytes(cc[3]) / 1048576.0);
    /* the auto policy must reach Winograd somewhere, or this test checks nothing new */
    CHECK(nwino > 0, "oneDNN chose Winograd for none of the convolutions");
    for (int l = 0; l < NPOL; l++) cpu_conv_free(cc[l]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
