/* Method graphs: torchvision/PySSL names, BatchNorm state threading, and an end-to-end
 * float64 finite-difference check of the whole SimCLR loss on a small ConvNet. */
#include <stdlib.h>
#include <string.h>

#include "frontend/driver.h"
#include "methods/method.h"
#include "optest.h"
#include "passes/autodiff.h"
#include "runtime/init.h"
#include "runtime/interp.h"
#include "runtime/planfile.h"
#include "runtime/rng.h"

static method_spec spec_of(const char *backbone, double width, int size, int channels, int64_t batch) {
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

static int count_kind(const ir_graph *g, ir_kind k) {
    int n = 0;
    for (int v = 0; v < g->nvals; v++) n += g->vals[v].kind == k;
    return n;
}

static int test_resnet_names(void) {
    static const char *resnets[] = {"resnet18", "resnet34", "resnet50"};
    /* torchvision: resnet18 has 62 parameter tensors, resnet34 110, resnet50 161 (fc removed:
     * 60, 108, 159); BN buffers: 3 per BN layer (20, 36, 53 BN layers) */
    static const int nparams[] = {60, 108, 159}, nbn[] = {20, 36, 53};
    for (int r = 0; r < 3; r++) {
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of(resnets[r], 0.125, 32, 3, 2);
        char err[IR_ERRLEN];
        int loss = method_build(method_find("simclr"), &s, &g, err);
        CHECK(loss >= 0, "%s: %s", resnets[r], err);
        CHECK(count_kind(&g, VK_PARAM) == nparams[r] + 4, "%s: %d params, want %d", resnets[r], count_kind(&g, VK_PARAM),
              nparams[r] + 4);
        CHECK(count_kind(&g, VK_STATE) == 3 * nbn[r], "%s: %d state tensors, want %d", resnets[r],
              count_kind(&g, VK_STATE), 3 * nbn[r]);
        CHECK(g.nupdates == 3 * nbn[r], "%s: %d updates", resnets[r], g.nupdates);
        static const char *names[] = {"backbone.conv1.weight", "backbone.bn1.running_var", "backbone.layer1.0.conv1.weight",
                                      "backbone.layer2.0.downsample.0.weight", "backbone.layer2.0.downsample.1.num_batches_tracked",
                                      "backbone.layer4.1.bn2.bias", "projector.layer1.0.weight", "projector.layer1.2.bias"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            CHECK(ir_find_value(&g, names[i]) >= 0, "%s: no value named %s", resnets[r], names[i]);
        if (r == 2) CHECK(ir_find_value(&g, "backbone.layer1.0.conv3.weight") >= 0, "resnet50 lacks conv3");
        /* the ImageNet stem at 96x96: 7x7 conv */
        ir_graph_free(&g);
    }
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("resnet18", 1, 96, 1, 2);
    char err[IR_ERRLEN];
    CHECK(method_build(method_find("simclr"), &s, &g, err) >= 0, "%s", err);
    int w = ir_find_value(&g, "backbone.conv1.weight");
    CHECK(g.vals[w].shape.d[2] == 7 && g.vals[w].shape.d[1] == 1, "ImageNet stem expected for 96x96, 1 channel");
    ir_graph_free(&g);
    printf("ok   resnet names\n");
    return 0;
}

/* numel and tensor count of the parameters whose name starts with prefix */
static int64_t param_numel(const ir_graph *g, const char *prefix, int *count) {
    int64_t n = 0;
    *count = 0;
    for (int v = 0; v < g->nvals; v++)
        if (g->vals[v].kind == VK_PARAM && strncmp(g->vals[v].name, prefix, strlen(prefix)) == 0) {
            n += ir_numel(&g->vals[v].shape);
            (*count)++;
        }
    return n;
}

static int shape_is(const ir_graph *g, const char *name, ir_shape s) {
    int v = ir_find_value(g, name);
    return v >= 0 && ir_shape_eq(&g->vals[v].shape, &s);
}

/* ViT-Tiny/Small: timm's state_dict names, shapes and parameter counts (timm's
 * vit_tiny_patch16_224 has 5,717,416 parameters and vit_small_patch16_224 22,050,664, of which
 * the 1000-class head takes 193,000 and 385,000), timm's init, and option errors. */
static int test_vit(void) {
    static const char *models[] = {"vit-tiny", "vit-small"};
    static const int64_t timm_count[] = {5717416 - 193000, 22050664 - 385000}, dims[] = {192, 384};
    char err[IR_ERRLEN];
    for (int m = 0; m < 2; m++) {
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of(models[m], 1, 224, 3, 2); /* patch size auto: 16 above 64 pixels */
        CHECK(method_build(method_find("simclr"), &s, &g, err) >= 0, "%s: %s", models[m], err);
        int nt;
        int64_t n = param_numel(&g, "backbone.", &nt);
        CHECK(n == timm_count[m], "%s: %lld backbone parameters, timm has %lld", models[m], (long long)n,
              (long long)timm_count[m]);
        CHECK(nt == 4 + 12 * 12 + 2, "%s: %d backbone parameter tensors, want 150", models[m], nt);
        int64_t D = dims[m];
        CHECK(shape_is(&g, "backbone.cls_token", IR_SHAPE(1, 1, D)) &&
                  shape_is(&g, "backbone.pos_embed", IR_SHAPE(1, 197, D)) &&
                  shape_is(&g, "backbone.patch_embed.proj.weight", IR_SHAPE(D, 3, 16, 16)) &&
                  shape_is(&g, "backbone.patch_embed.proj.bias", IR_SHAPE(D)) &&
                  shape_is(&g, "backbone.blocks.0.attn.qkv.weight", IR_SHAPE(3 * D, D)) &&
                  shape_is(&g, "backbone.blocks.11.attn.qkv.bias", IR_SHAPE(3 * D)) &&
                  shape_is(&g, "backbone.blocks.5.attn.proj.weight", IR_SHAPE(D, D)) &&
                  shape_is(&g, "backbone.blocks.3.norm1.weight", IR_SHAPE(D)) &&
                  shape_is(&g, "backbone.blocks.3.norm2.bias", IR_SHAPE(D)) &&
                  shape_is(&g, "backbone.blocks.7.mlp.fc1.weight", IR_SHAPE(4 * D, D)) &&
                  shape_is(&g, "backbone.blocks.7.mlp.fc2.weight", IR_SHAPE(D, 4 * D)) &&
                  shape_is(&g, "backbone.norm.weight", IR_SHAPE(D)) &&
                  shape_is(&g, "projector.layer1.0.weight", IR_SHAPE(D, D)),
              "%s: a timm parameter is missing or has the wrong shape", models[m]);
        CHECK(ir_find_value(&g, "backbone.blocks.12.norm1.weight") < 0, "%s: 13 blocks", models[m]);
        CHECK(count_kind(&g, VK_STATE) == 0 && g.nupdates == 0, "%s: a ViT has no buffers", models[m]);
        /* timm's init and no_weight_decay() */
        const ir_value *v = &g.vals[ir_find_value(&g, "backbone.pos_embed")];
        CHECK(v->init.kind == INIT_TRUNC_NORMAL && v->init.b == 0.02 && (v->flags & VF_NO_DECAY), "pos_embed init");
        v = &g.vals[ir_find_value(&g, "backbone.cls_token")];
        CHECK(v->init.kind == INIT_NORMAL && v->init.b == 1e-6 && (v->flags & VF_NO_DECAY), "cls_token init");
        v = &g.vals[ir_find_value(&g, "backbone.blocks.2.mlp.fc1.weight")];
        CHECK(v->init.kind == INIT_TRUNC_NORMAL && v->init.b == 0.02 && !(v->flags & VF_NO_DECAY), "fc1 init");
        v = &g.vals[ir_find_value(&g, "backbone.blocks.2.attn.qkv.bias")];
        CHECK(v->init.kind == INIT_CONST && v->init.a == 0 && (v->flags & VF_NO_DECAY), "qkv bias init");
        v = &g.vals[ir_find_value(&g, "backbone.blocks.2.norm1.weight")];
        CHECK(v->init.kind == INIT_CONST && v->init.a == 1 && (v->flags & VF_NO_DECAY), "norm1 weight init");
        ir_graph_free(&g);
    }
    /* small: 32x32 (patch 4 by default), --width 0.125, --depth 2, 1 channel */
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("vit-tiny", 0.125, 32, 1, 2);
    s.backbone.depth = 2;
    CHECK(method_build(method_find("simclr"), &s, &g, err) >= 0, "%s", err);
    int nt;
    int64_t D = 24, n = param_numel(&g, "backbone.", &nt), want = D + 65 * D + (16 * D + D) + 2 * (12 * D * D + 13 * D) + 2 * D;
    CHECK(n == want && nt == 4 + 2 * 12 + 2, "small vit-tiny: %lld parameters in %d tensors, want %lld in 30",
          (long long)n, nt, (long long)want);
    CHECK(shape_is(&g, "backbone.patch_embed.proj.weight", IR_SHAPE(D, 1, 4, 4)) &&
              ir_find_value(&g, "backbone.blocks.2.norm1.weight") < 0,
          "small vit-tiny: patch 4, 2 blocks expected");
    ir_graph_free(&g);
    /* errors */
    struct {
        const char *bb;
        double width;
        int size, patch, depth;
        const char *needle;
    } bad[] = {{"vit-tiny", 1, 32, 5, 0, "does not divide --image-size 32"},
               {"vit-small", 1, 72, 0, 0, "--patch-size 16 does not divide --image-size 72"},
               {"vit-tiny", 0.1, 32, 0, 0, "attention heads do not divide"},
               {"vit-small", 1.0 / 384, 32, 0, 0, "attention heads do not divide"},
               {"resnet18", 1, 32, 4, 0, "--patch-size applies to the ViT backbones"},
               {"convnet", 1, 32, 0, 3, "--depth applies to the ViT backbones"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ir_graph_init(&g);
        s = spec_of(bad[i].bb, bad[i].width, bad[i].size, 3, 2);
        s.backbone.patch_size = bad[i].patch;
        s.backbone.depth = bad[i].depth;
        int r = method_build(method_find("simclr"), &s, &g, err);
        ir_graph_free(&g);
        CHECK(r < 0 && strstr(err, bad[i].needle) && !strchr(err, '\n'), "bad ViT option %zu: %s", i,
              r < 0 ? err : "accepted");
    }
    printf("ok   vit names, counts, init and options\n");
    return 0;
}

static int test_bad_options(void) {
    char err[IR_ERRLEN];
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("resnet18", 1, 32, 3, 8);
    s.set[s.nset++] = "temperature=0";
    CHECK(method_build(method_find("simclr"), &s, &g, err) < 0 && strstr(err, "temperature"), "temperature 0: %s", err);
    s.nset = 0;
    s.set[s.nset++] = "tau=0.1";
    CHECK(method_build(method_find("simclr"), &s, &g, err) < 0 && strstr(err, "projection_dim"), "unknown option: %s", err);
    s.nset = 0;
    s.set[s.nset++] = "projection_dim=0";
    CHECK(method_build(method_find("simclr"), &s, &g, err) < 0, "projection_dim 0 accepted");
    s.nset = 0;
    snprintf(s.backbone.name, sizeof s.backbone.name, "vgg");
    CHECK(method_build(method_find("simclr"), &s, &g, err) < 0 && strstr(err, "resnet18"), "bad backbone: %s", err);
    /* every method runs over several ranks (tests/mpi/test_dp_equivalence.sh proves each) */
    s = spec_of("convnet", 0.25, 16, 3, 4);
    s.ranks = 2;
    for (int i = 0; i < method_count(); i++)
        CHECK(method_at(i)->data_parallel, "%s: data_parallel %d", method_at(i)->name, method_at(i)->data_parallel);
    /* MAE, the last to join, builds for 2 ranks (it refused them before) */
    {
        method_spec v = spec_of("vit-tiny", 0.125, 16, 3, 4);
        v.backbone.depth = 1;
        v.ranks = 2;
        CHECK(method_build(method_find("mae"), &v, &g, err) >= 0, "mae built for 2 ranks: %s", err);
        ir_graph_free(&g);
    }
    /* MoCo's shuffle-BN and bn_splits: refused in one line where they cannot mean anything */
    {
        static const struct {
            const char *set;
            int sync_bn;
            const char *want;
        } bad[] = {{"shuffle_bn=1", 1, "shuffle_bn=1 with --sync-bn: BatchNorm over the global batch leaves nothing to shuffle"},
                   {"bn_splits=2", 1, "bn_splits with --sync-bn"},
                   {"bn_splits=3", 0, "bn_splits must be in [1, 64] and divide the batch 4, got 3"},
                   {"bn_splits=0", 0, "bn_splits must be in [1, 64]"}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            method_spec v = spec_of("convnet", 0.25, 16, 3, 4);
            v.ranks = 2, v.sync_bn = bad[i].sync_bn;
            v.set[v.nset++] = "K=64";
            v.set[v.nset++] = bad[i].set;
            CHECK(method_build(method_find("mocov2"), &v, &g, err) < 0 && strstr(err, bad[i].want) && !strchr(err, '\n'),
                  "mocov2 %s%s: %s", bad[i].set, bad[i].sync_bn ? " --sync-bn" : "", err);
            ir_graph_free(&g);
        }
        /* and built: the key view permuted and put back with Gather, the permutation a host input */
        method_spec v = spec_of("convnet", 0.25, 16, 3, 4);
        v.ranks = 2;
        v.set[v.nset++] = "K=64";
        v.set[v.nset++] = "shuffle_bn=1";
        CHECK(method_build(method_find("moco"), &v, &g, err) >= 0, "moco shuffle_bn=1 on 2 ranks: %s", err);
        int perm = ir_find_value(&g, "aug.batchperm.key"), gathers = 0, allgathers = 0;
        CHECK(perm >= 0 && g.vals[perm].kind == VK_INPUT && g.vals[perm].shape.d[0] == 2 && g.vals[perm].shape.d[1] == 4,
              "moco shuffle_bn=1: aug.batchperm.key must be an i64 [2, batch] input");
        for (int n = 0; n < g.nnodes; n++) gathers += g.nodes[n].op == OP_Gather, allgathers += g.nodes[n].op == OP_AllGather;
        CHECK(gathers == 2 && allgathers == 3, "moco shuffle_bn=1: %d Gather (2: in, out), %d AllGather (3: images, keys, queue)",
              gathers, allgathers);
        ir_graph_free(&g);
    }
    method_def local = *method_find("simclr");
    local.data_parallel = 0;
    CHECK(method_build(&local, &s, &g, err) < 0 && strstr(err, "--ranks 2: simclr does not run over several ranks"),
          "a method without data_parallel built for 2 ranks: %s", err);
    ir_graph_free(&g);
    printf("ok   bad options\n");
    return 0;
}

/* BN running stats of a shared encoder are updated once per view, in order. */
static int test_bn_threading(void) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("convnet", 0.25, 8, 1, 4);
    char err[IR_ERRLEN];
    CHECK(method_build(method_find("simclr"), &s, &g, err) >= 0, "%s", err);
    int nbt = ir_find_value(&g, "backbone.features.1.num_batches_tracked");
    CHECK(nbt >= 0, "no num_batches_tracked");
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 1, err) == 0, "%s", err);
    float *x = malloc(4 * 64 * sizeof(float));
    test_fill_uniform(x, 4 * 64, -1, 1, 3);
    interp_set_f32(&it, ir_find_value(&g, "views.0"), x, err);
    interp_set_f32(&it, ir_find_value(&g, "views.1"), x, err);
    free(x);
    CHECK(interp_run(&it, err) == 0, "%s", err);
    CHECK(*(int64_t *)interp_data(&it, nbt) == 2, "num_batches_tracked = %lld after one step of two views",
          (long long)*(int64_t *)interp_data(&it, nbt));
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   BN state threading\n");
    return 0;
}

/* Feeds views.* (and labels: classes i % 3) with deterministic values, sched.* with `sched`
 * (NAN: the recorded base value). */
static int feed_inputs(interp *it, const ir_graph *g, double sched, char *err) {
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT) continue;
        int64_t n = ir_numel(&val->shape);
        if (!strncmp(val->name, "views.", 6)) {
            float *x = malloc((size_t)n * sizeof(float));
            test_fill_uniform(x, n, -1, 1, 20 + (uint64_t)atoi(val->name + 6));
            int rc = interp_set_f32(it, v, x, err);
            free(x);
            if (rc) return -1;
        } else if (!strcmp(val->name, "labels")) {
            int64_t *y = interp_data(it, v);
            for (int64_t i = 0; i < n; i++) y[i] = i % 3;
        } else if (!strncmp(val->name, "sched.", 6)) {
            float x = (float)(isnan(sched) ? val->init.a : sched);
            if (interp_set_f32(it, v, &x, err)) return -1;
        }
    }
    return 0;
}

/* End to end: d loss / d params of a whole method (ConvNet, two views) against central
 * differences in float64 on a sample of parameter elements. `sched` feeds the sched.* inputs
 * (BYOL: tau = 1 keeps the target fixed; otherwise its EMA would move with each FD run and
 * depend on the online parameters through a path autodiff rightly stops). */
static int method_fd(const method_spec *base, const char *method, const char **sets, int nsets, double sched,
                     double lo, double hi) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = *base;
    for (int i = 0; i < nsets; i++) s.set[s.nset++] = sets[i];
    char err[IR_ERRLEN];
    int loss = method_build(method_find(method), &s, &g, err);
    CHECK(loss >= 0, "%s: %s", method, err);
    int *params, np = ir_trainable_params(&g, &params);
    int *grads = calloc((size_t)np, sizeof(int));
    CHECK(autodiff(&g, loss, params, np, grads) == 0, "%s: %s", method, g.err);
    ir_add_output(&g, loss);
    for (int i = 0; i < np; i++) ir_add_output(&g, grads[i]);
    interp it;
    CHECK(interp_init(&it, &g, 1, err) == 0 && init_persistent(&it, 11, err) == 0, "%s", err);
    CHECK(feed_inputs(&it, &g, sched, err) == 0, "%s", err);
    CHECK(interp_run(&it, err) == 0, "%s", err);
    double l0;
    interp_get_f64(&it, loss, &l0, err);
    CHECK(l0 > lo && l0 < hi, "%s: initial loss %g outside (%g, %g)", method, l0, lo, hi);
    double **an = calloc((size_t)np, sizeof(double *));
    for (int i = 0; i < np; i++) {
        an[i] = calloc((size_t)ir_numel(&g.vals[params[i]].shape), sizeof(double));
        if (grads[i] >= 0) interp_get_f64(&it, grads[i], an[i], err);
    }
    sslc_rng r;
    rng_seed(&r, 5, 1);
    double worst = 0;
    int bad = 0;
    for (int i = 0; i < np && !bad; i++) {
        int64_t n = ir_numel(&g.vals[params[i]].shape);
        double *pv = interp_data(&it, params[i]);
        for (int t = 0; t < 3 && !bad; t++) {
            int64_t j = (int64_t)(rng_uniform(&r) * (double)n);
            double x0 = pv[j], lp, lm, h = 1e-6;
            pv[j] = x0 + h;
            interp_run(&it, err);
            interp_get_f64(&it, loss, &lp, err);
            pv[j] = x0 - h;
            interp_run(&it, err);
            interp_get_f64(&it, loss, &lm, err);
            pv[j] = x0;
            double fd = (lp - lm) / (2 * h), e = fabs(fd - an[i][j]) / (fabs(fd) + 1e-3);
            if (e > worst) worst = e;
            if (!(e < 1e-4)) {
                fprintf(stderr, "FAIL %s: %s[%lld]: fd %.9g autodiff %.9g\n", method, g.vals[params[i]].name,
                        (long long)j, fd, an[i][j]);
                bad = 1;
            }
        }
    }
    for (int i = 0; i < np; i++) free(an[i]);
    free(an);
    free(params);
    free(grads);
    interp_free(&it);
    ir_graph_free(&g);
    if (bad) return 1;
    printf("ok   %s end-to-end FD, %s (loss %.4f, worst rel err %.2e)\n", method, s.backbone.name, l0, worst);
    return 0;
}

/* at initialization the SimCLR loss is near ln(2N - 1) */
static int test_simclr_fd(void) {
    const char *sets[] = {"projection_dim=8"};
    method_spec s = spec_of("convnet", 0.125, 8, 1, 4);
    if (method_fd(&s, "simclr", sets, 1, NAN, 1.0, 3.0)) return 1;
    s = spec_of("vit-tiny", 0.0625, 8, 1, 4); /* embed 12, 3 heads, 2x2 patches of 4 */
    s.backbone.depth = 1;
    return method_fd(&s, "simclr", sets, 1, NAN, 1.0, 3.0);
}

static int test_new_methods_fd(void) {
    const char *bt[] = {"projection_dim=8", "hidden_dim=16", "lamda=0.05"};
    const char *by[] = {"projection_dim=8", "hidden_dim=16"};
    const char *v2[] = {"projection_dim=8"};
    const char *vr[] = {"projection_dim=8", "hidden_dim=16"};
    const char *sc[] = {"projection_dim=8"}, *raw[] = {"projection_dim=8", "normalize=false", "temperature=0.5"};
    /* loss ranges: Barlow Twins Σ(1 - c_ii)² + λΣc_ij² > 0; BYOL in [0, 4]; SupCon near ln(2N - 1)
     * for normalized features. SimSiam has no FD check: its stop-gradient acts on the other
     * view's projection of the same parameters, so its update is not the derivative of its loss
     * (BYOL's acts on the separate target, held fixed here); the PyTorch oracle covers it. */
    method_spec s = spec_of("convnet", 0.125, 8, 1, 4);
    return method_fd(&s, "barlow_twins", bt, 3, NAN, 0.0, 100.0) || method_fd(&s, "byol", by, 2, 1.0, 0.0, 4.0) ||
           method_fd(&s, "simclrv2", v2, 1, NAN, 1.0, 3.0) || method_fd(&s, "supcon", sc, 1, NAN, 0.5, 10.0) ||
           method_fd(&s, "supcon", raw, 3, NAN, 0.0, 100.0) || method_fd(&s, "vicreg", vr, 2, NAN, 0.0, 1000.0);
}

static int has(const ir_graph *g, const char *name, ir_kind kind) {
    int v = ir_find_value(g, name);
    return v >= 0 && g->vals[v].kind == kind;
}

typedef struct {
    const char *method;
    const char *sets[4];
    int nparams, nstate;
    const char *params[6], *state[6], *absent[3];
} method_expect;

/* Names and counts on a ConvNet (3 conv + 3 BN: 9 parameters, 9 BN buffers). */
static int test_method_names(void) {
    static const method_expect ex[] = {
        {"barlow_twins", {"projection_dim=8", "hidden_dim=16"}, 9 + 7, 9 + 6 + 3,
         {"projector.layer1.0.weight", "projector.layer2.1.bias", "projector.layer3.0.weight"},
         {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "projector.layer2.1.running_var"},
         {"projector.layer1.0.bias", "projector.layer3.0.bias", "bn.weight"}},
        {"byol", {"projection_dim=8", "hidden_dim=16"}, 9 + 6 + 6, (9 + 3 + 3) + (9 + 6) + (9 + 3),
         {"projector.layer1.0.bias", "projector.layer2.0.weight", "online_predictor.layer1.1.weight",
          "online_predictor.layer2.0.bias"},
         {"target_encoder.0.features.0.weight", "target_encoder.0.features.9.running_var",
          "target_encoder.1.layer1.1.weight", "target_encoder.1.layer2.0.bias", "online_predictor.layer1.1.running_mean"},
         {"online_encoder.0.features.0.weight", "encoder.0.features.0.weight", "target_encoder.2.layer1.0.weight"}},
        {"simsiam", {"projection_dim=8", "hidden_dim_proj=16", "hidden_dim_pred=4"}, 9 + 12 + 6, 9 + 9 + 3,
         {"projector.layer3.0.weight", "projector.layer3.1.weight", "predictor.layer1.1.bias", "predictor.layer2.weight"},
         {"projector.layer3.1.running_mean", "predictor.layer1.1.num_batches_tracked"},
         {"predictor.layer2.0.weight", "predictor.layer1.2.weight"}},
        {"simclrv2", {"projection_dim=8"}, 9 + 12, 9 + 9,
         {"projector.layer1.0.weight", "projector.layer3.0.bias", "projector.layer3.1.weight"},
         {"projector.layer3.1.running_var"},
         {"projector.layer4.0.weight"}},
        {"supcon", {"projection_dim=8"}, 9 + 4, 9, {"projector.layer1.0.weight", "projector.layer1.2.bias"}, {NULL},
         {"projector.layer1.1.weight"}},
        /* facebookresearch/vicreg's Projector: one Sequential, the last Linear without bias */
        {"vicreg", {"projection_dim=8", "hidden_dim=16"}, 9 + 2 + 2 + 2 + 2 + 1, 9 + 3 + 3,
         {"projector.0.weight", "projector.0.bias", "projector.1.weight", "projector.3.bias", "projector.4.bias",
          "projector.6.weight"},
         {"projector.1.running_mean", "projector.4.num_batches_tracked"},
         {"projector.6.bias", "projector.2.weight", "projector.layer1.0.weight"}},
        /* solo-learn's NNCLR: projector 0,1,3,4,6,7 (last BatchNorm affine), predictor 0,1,3, the
         * support set as state */
        {"nnclr", {"queue_size=8", "proj_hidden_dim=16", "proj_output_dim=8", "pred_hidden_dim=16"},
         9 + 2 * 6 + 2 * 3, 9 + 3 * 3 + 3 + 2,
         {"projector.0.weight", "projector.4.bias", "projector.6.bias", "projector.7.weight", "predictor.1.weight",
          "predictor.3.bias"},
         {"queue", "queue_ptr", "projector.7.running_var", "predictor.1.running_mean"},
         {"queue_y", "predictor.4.weight", "projector.8.weight"}},
    };
    for (size_t m = 0; m < sizeof ex / sizeof ex[0]; m++) {
        const method_expect *e = &ex[m];
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of("convnet", 0.25, 8, 3, 4);
        for (int i = 0; i < 4 && e->sets[i]; i++) s.set[s.nset++] = e->sets[i];
        char err[IR_ERRLEN];
        CHECK(method_build(method_find(e->method), &s, &g, err) >= 0, "%s: %s", e->method, err);
        CHECK(count_kind(&g, VK_PARAM) == e->nparams, "%s: %d params, want %d", e->method, count_kind(&g, VK_PARAM),
              e->nparams);
        CHECK(count_kind(&g, VK_STATE) == e->nstate, "%s: %d state tensors, want %d", e->method,
              count_kind(&g, VK_STATE), e->nstate);
        /* every state tensor changes each step (BN statistics; BYOL's EMA target too) */
        CHECK(g.nupdates == e->nstate, "%s: %d updates, want %d", e->method, g.nupdates, e->nstate);
        for (int i = 0; i < 6 && e->params[i]; i++)
            CHECK(has(&g, e->params[i], VK_PARAM), "%s: no parameter %s", e->method, e->params[i]);
        for (int i = 0; i < 6 && e->state[i]; i++)
            CHECK(has(&g, e->state[i], VK_STATE), "%s: no state %s", e->method, e->state[i]);
        for (int i = 0; i < 3 && e->absent[i]; i++)
            CHECK(ir_find_value(&g, e->absent[i]) < 0, "%s: unexpected %s", e->method, e->absent[i]);
        CHECK(has(&g, "backbone.features.0.weight", VK_PARAM) && has(&g, "views.1", VK_INPUT), "%s: backbone/views",
              e->method);
        int lab = ir_find_value(&g, "labels");
        if (!strcmp(e->method, "supcon"))
            CHECK(lab >= 0 && g.vals[lab].kind == VK_INPUT && g.vals[lab].dtype == DT_I64 &&
                      g.vals[lab].shape.ndim == 1 && g.vals[lab].shape.d[0] == 4,
                  "supcon: labels must be an i64 [batch] input");
        else
            CHECK(lab < 0, "%s has a labels input", e->method);
        if (!strcmp(e->method, "simsiam")) { /* DESIGN §3: last projector BN has projection_dim features */
            int w = ir_find_value(&g, "projector.layer3.1.weight");
            CHECK(g.vals[w].shape.d[0] == 8, "simsiam: last projector BN has %lld features",
                  (long long)g.vals[w].shape.d[0]);
        }
        if (!strcmp(e->method, "byol")) {
            int tau = ir_find_value(&g, "sched.tau");
            CHECK(tau >= 0 && g.vals[tau].kind == VK_INPUT && fabs(g.vals[tau].init.a - 0.996) < 1e-12,
                  "byol: sched.tau input with base 0.996");
            int t = ir_find_value(&g, "target_encoder.1.layer1.0.weight");
            CHECK(g.vals[t].init.kind == INIT_COPY && g.vals[t].init.src == ir_find_value(&g, "projector.layer1.0.weight"),
                  "byol: target initialized as a copy of the online projector");
        }
        ir_graph_free(&g);
    }
    printf("ok   method names (barlow_twins, byol, simsiam, simclrv2, supcon, vicreg, nnclr)\n");
    return 0;
}

/* BYOL's target after one step: params = τ t + (1 − τ) online (the pre-step online values),
 * BN buffers moved by two target forwards, online untouched by the EMA. */
static int test_byol_ema_step(void) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("convnet", 0.125, 8, 1, 4);
    s.set[s.nset++] = "projection_dim=4";
    s.set[s.nset++] = "hidden_dim=8";
    char err[IR_ERRLEN];
    CHECK(method_build(method_find("byol"), &s, &g, err) >= 0, "%s", err);
    interp it;
    CHECK(interp_init(&it, &g, 1, err) == 0 && init_persistent(&it, 3, err) == 0, "%s", err);
    int o = ir_find_value(&g, "projector.layer1.0.weight"), t = ir_find_value(&g, "target_encoder.1.layer1.0.weight");
    int nbt = ir_find_value(&g, "target_encoder.0.features.1.num_batches_tracked");
    int64_t n = ir_numel(&g.vals[o].shape);
    double *ov = interp_data(&it, o), *tv = interp_data(&it, t), *o0 = malloc((size_t)n * sizeof(double)),
           *t0 = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) tv[i] += 0.01 * (double)(i % 7 - 3); /* target != online */
    memcpy(o0, ov, (size_t)n * sizeof(double));
    memcpy(t0, tv, (size_t)n * sizeof(double));
    CHECK(feed_inputs(&it, &g, 0.75, err) == 0 && interp_run(&it, err) == 0, "%s", err);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(tv[i] - (0.75 * t0[i] + 0.25 * o0[i])));
    int same = !memcmp(ov, o0, (size_t)n * sizeof(double));
    free(o0), free(t0);
    CHECK(worst < 1e-12, "EMA of the target projector off by %g", worst);
    CHECK(same, "the online projector changed without an optimizer");
    CHECK(*(int64_t *)interp_data(&it, nbt) == 2, "target BN: num_batches_tracked %lld after one step",
          (long long)*(int64_t *)interp_data(&it, nbt));
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   byol EMA step\n");
    return 0;
}

/* NNCLR's support set: rows of unit norm at initialization (F.normalize(randn, dim=1)); one
 * step writes the first view's normalized projections into rows 0..N-1, leaves the rest and
 * advances the pointer to N */
static int test_nnclr_queue_step(void) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("convnet", 0.125, 8, 1, 4);
    const char *sets[] = {"queue_size=12", "proj_hidden_dim=8", "proj_output_dim=6", "pred_hidden_dim=8"};
    for (int i = 0; i < 4; i++) s.set[s.nset++] = sets[i];
    char err[IR_ERRLEN];
    CHECK(method_build(method_find("nnclr"), &s, &g, err) >= 0, "%s", err);
    interp it;
    CHECK(interp_init(&it, &g, 1, err) == 0 && init_persistent(&it, 5, err) == 0, "%s", err);
    int q = ir_find_value(&g, "queue"), p = ir_find_value(&g, "queue_ptr");
    CHECK(g.vals[q].init.kind == INIT_NORMAL_L2_ROWS, "nnclr: queue init kind %d", (int)g.vals[q].init.kind);
    double q0[72], *qv = interp_data(&it, q);
    memcpy(q0, qv, sizeof q0);
    for (int r = 0; r < 12; r++) {
        double ss = 0;
        for (int d = 0; d < 6; d++) ss += q0[r * 6 + d] * q0[r * 6 + d];
        CHECK(fabs(ss - 1) < 1e-6, "nnclr: initial queue row %d has squared norm %g", r, ss);
    }
    CHECK(feed_inputs(&it, &g, NAN, err) == 0 && interp_run(&it, err) == 0, "%s", err);
    for (int r = 0; r < 12; r++) {
        double ss = 0;
        int same = !memcmp(&qv[r * 6], &q0[r * 6], 6 * sizeof(double));
        for (int d = 0; d < 6; d++) ss += qv[r * 6 + d] * qv[r * 6 + d];
        CHECK(fabs(ss - 1) < 1e-6, "nnclr: queue row %d has squared norm %g after a step", r, ss);
        CHECK(r < 4 ? !same : same, "nnclr: queue row %d %s", r, r < 4 ? "not written" : "changed");
    }
    CHECK(*(int64_t *)interp_data(&it, p) == 4, "nnclr: queue_ptr %lld after one step of 4",
          (long long)*(int64_t *)interp_data(&it, p));
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   nnclr support set: unit rows at init, rows 0..3 written by a step, pointer 4\n");
    return 0;
}

static int test_new_bad_options(void) {
    static const struct {
        const char *method, *set, *want;
    } cases[] = {
        {"simclrv2", "temperature=0", "temperature must be > 0"},
        {"supcon", "temperature=-1", "temperature must be > 0"},
        {"supcon", "normalize=maybe", "boolean"},
        {"byol", "tau=1.5", "tau must be in [0, 1]"},
        {"byol", "hidden_dim=0", "hidden_dim must be in [1,"},
        {"barlow_twins", "lamda=-0.1", "lamda must be >= 0"},
        {"barlow_twins", "projection_dim=0", "projection_dim must be in [1,"},
        {"simsiam", "hidden_dim_pred=0", "hidden_dim_pred"},
        {"simsiam", "hidden_dim=8", "options: projection_dim, hidden_dim_proj, hidden_dim_pred"},
        {"byol", "temperature=0.1", "options: projection_dim, hidden_dim, tau, cosine_tau"},
        {"simclrv2", "projection_dim=1.5", "integer"},
        {"vicreg", "std_coeff=-1", "std_coeff must be >= 0"},
        {"vicreg", "hidden_dim=0", "hidden_dim must be in [1,"},
        {"vicreg", "lamda=1", "options: projection_dim, hidden_dim, sim_coeff, std_coeff, cov_coeff"},
        {"nnclr", "queue_size=6", "queue_size 6 must be divisible by the batch size 4"},
        {"nnclr", "temperature=0", "temperature must be > 0"},
        {"nnclr", "proj_output_dim=0", "proj_output_dim must be in [1,"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of("convnet", 0.25, 8, 3, 4);
        s.set[s.nset++] = cases[i].set;
        char err[IR_ERRLEN] = "";
        CHECK(method_build(method_find(cases[i].method), &s, &g, err) < 0 && strstr(err, cases[i].want) &&
                  !strchr(err, '\n'),
              "%s --set %s: got '%s', want '%s'", cases[i].method, cases[i].set, err, cases[i].want);
        ir_graph_free(&g);
    }
    printf("ok   bad options of the new methods\n");
    return 0;
}

static int count_prefix(const ir_graph *g, ir_kind k, const char *prefix) {
    int n = 0;
    for (int v = 0; v < g->nvals; v++)
        n += g->vals[v].kind == k && g->vals[v].name && !strncmp(g->vals[v].name, prefix, strlen(prefix));
    return n;
}

static int has_update(const ir_graph *g, int dst) {
    int n = 0;
    for (int u = 0; u < g->nupdates; u++) n += g->updates[u].dst == dst;
    return n;
}

static int test_multicrop(void) {
    static const int sizes[][2] = {{224, 96}, {32, 14}, {16, 7}, {14, 6}, {28, 12}, {96, 41}, {64, 27}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        CHECK(method_local_size(sizes[i][0]) == sizes[i][1], "local size of %d: %d, want %d", sizes[i][0],
              method_local_size(sizes[i][0]), sizes[i][1]);
    /* ViTs: 3/7 of the image rounded to whole patches (DINO's 96 of 224 with patch 16); others as above */
    static const struct {
        const char *name;
        int image, patch, want;
    } crops[] = {{"vit-small", 224, 16, 96}, {"vit-tiny", 32, 4, 12}, {"vit-tiny", 32, 8, 16}, {"vit-tiny", 32, 16, 16},
                 {"vit-small", 64, 0, 28},   {"vit-tiny", 8, 8, 0},   {"convnet", 32, 0, 14}, {"resnet18", 224, 0, 96}};
    for (size_t i = 0; i < sizeof crops / sizeof crops[0]; i++) {
        backbone_cfg b = {.width = 1, .image_size = crops[i].image, .channels = 3, .patch_size = crops[i].patch};
        snprintf(b.name, sizeof b.name, "%s", crops[i].name);
        CHECK(method_local_crop_size(&b) == crops[i].want, "%s local crop of %d (patch %d): %d, want %d", crops[i].name,
              crops[i].image, crops[i].patch, method_local_crop_size(&b), crops[i].want);
    }
    const char *methods[] = {"dino", "swav"};
    for (int m = 0; m < 2; m++) {
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of("convnet", 0.25, 16, 1, 4);
        s.set[s.nset++] = "num_crops=3";
        char err[IR_ERRLEN];
        CHECK(method_build(method_find(methods[m]), &s, &g, err) >= 0, "%s: %s", methods[m], err);
        for (int v = 0; v < 5; v++) {
            char name[16];
            snprintf(name, sizeof name, "views.%d", v);
            int x = ir_find_value(&g, name);
            int64_t hw = v < 2 ? 16 : 7;
            CHECK(x >= 0 && g.vals[x].kind == VK_INPUT, "%s: no input %s", methods[m], name);
            ir_shape want = IR_SHAPE(4, 1, hw, hw);
            CHECK(ir_shape_eq(&g.vals[x].shape, &want), "%s: %s has the wrong shape", methods[m], name);
        }
        CHECK(ir_find_value(&g, "views.5") < 0, "%s: too many views", methods[m]);
        /* one set of backbone parameters for both shapes; BN stats updated once per view */
        CHECK(count_prefix(&g, VK_PARAM, "backbone.") == 9, "%s: %d backbone params", methods[m],
              count_prefix(&g, VK_PARAM, "backbone."));
        ir_graph_free(&g);
        /* no crops: two views */
        ir_graph_init(&g);
        s.nset = 0;
        s.set[s.nset++] = "num_crops=0";
        CHECK(method_build(method_find(methods[m]), &s, &g, err) >= 0, "%s: %s", methods[m], err);
        CHECK(ir_find_value(&g, "views.1") >= 0 && ir_find_value(&g, "views.2") < 0, "%s num_crops=0", methods[m]);
        ir_graph_free(&g);
    }
    printf("ok   multi-crop views\n");
    return 0;
}

static int test_dino_graph(void) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("convnet", 0.25, 16, 3, 4);
    s.set[s.nset++] = "num_crops=2";
    s.set[s.nset++] = "projection_dim=10";
    s.set[s.nset++] = "hidden_dim=12";
    s.set[s.nset++] = "bottleneck_dim=6";
    s.set[s.nset++] = "lamda=0.99";
    char err[IR_ERRLEN];
    CHECK(method_build(method_find("dino"), &s, &g, err) >= 0, "%s", err);
    /* student: 9 backbone + 8 head tensors; teacher: the same as state, plus BN buffers, center */
    CHECK(count_prefix(&g, VK_PARAM, "backbone.") == 9 && count_prefix(&g, VK_PARAM, "head_student.") == 8,
          "student params");
    CHECK(count_kind(&g, VK_PARAM) == 17, "%d params", count_kind(&g, VK_PARAM));
    CHECK(count_prefix(&g, VK_STATE, "teacher.0.") == 9 + 9 && count_prefix(&g, VK_STATE, "head_teacher.") == 8,
          "teacher state");
    CHECK(count_kind(&g, VK_STATE) == 9 + 18 + 8 + 1, "%d state tensors", count_kind(&g, VK_STATE));
    static const char *names[] = {"head_student.layer1.0.weight", "head_student.layer2.0.bias",
                                  "head_student.layer3.0.weight", "head_student.last_layer.weight_v",
                                  "head_teacher.last_layer.weight_g", "teacher.0.features.9.running_var", "center"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(ir_find_value(&g, names[i]) >= 0, "no value named %s", names[i]);
    int wg = ir_find_value(&g, "head_student.last_layer.weight_g");
    CHECK(g.vals[wg].kind == VK_PARAM && (g.vals[wg].flags & VF_FROZEN), "weight_g must be a frozen parameter");
    ir_shape s10 = IR_SHAPE(10, 1), c10 = IR_SHAPE(1, 10);
    CHECK(ir_shape_eq(&g.vals[wg].shape, &s10), "weight_g shape");
    int c = ir_find_value(&g, "center");
    CHECK(ir_shape_eq(&g.vals[c].shape, &c10) && has_update(&g, c) == 1, "center: shape or update");
    int tw = ir_find_value(&g, "teacher.0.features.0.weight");
    CHECK(g.vals[tw].init.kind == INIT_COPY && g.vals[tw].init.src == ir_find_value(&g, "backbone.features.0.weight"),
          "teacher starts as a copy of the student");
    /* every teacher tensor and BN buffer is updated once per step */
    for (int v = 0; v < g.nvals; v++)
        if (g.vals[v].kind == VK_STATE)
            CHECK(has_update(&g, v) == 1, "state %s: %d updates", g.vals[v].name, has_update(&g, v));
    static const char *sched[] = {"sched.lamda", "sched.temp_t", "sched.m"};
    static const double base[] = {0.99, 0.5, 0.5};
    for (int i = 0; i < 3; i++) {
        int v = ir_find_value(&g, sched[i]);
        CHECK(v >= 0 && g.vals[v].kind == VK_INPUT && g.vals[v].init.a == base[i], "%s", sched[i]);
    }
    CHECK(ir_find_value(&g, "sched.last_layer_grad") < 0, "last-layer mask without freeze_last_layer");
    ir_graph_free(&g);
    ir_graph_init(&g);
    s.set[s.nset++] = "freeze_last_layer=1";
    CHECK(method_build(method_find("dino"), &s, &g, err) >= 0, "%s", err);
    CHECK(ir_find_value(&g, "sched.last_layer_grad") >= 0, "freeze_last_layer: no sched.last_layer_grad");
    ir_graph_free(&g);
    printf("ok   dino graph: names, teacher state, updates, schedule inputs\n");
    return 0;
}

static int find_update(const ir_graph *g, int dst) {
    for (int u = 0; u < g->nupdates; u++)
        if (g->updates[u].dst == dst) return g->updates[u].src;
    return -1;
}

static int test_swav_graph(void) {
    char err[IR_ERRLEN];
    struct {
        const char *queue_length, *use;
        int64_t rows;
    } q[] = {{"queue_length=20", "use_the_queue=true", 16}, {"queue_length=4", "use_the_queue=true", 0},
             {"queue_length=16", "use_the_queue=false", 0}, {"queue_length=8", "use_the_queue=true", 8}};
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of("convnet", 0.25, 16, 3, 8);
        s.set[s.nset++] = "num_crops=1";
        s.set[s.nset++] = "projection_dim=6";
        s.set[s.nset++] = "hidden_dim=10";
        s.set[s.nset++] = "num_prototypes=7";
        s.set[s.nset++] = q[k].queue_length;
        s.set[s.nset++] = q[k].use;
        CHECK(method_build(method_find("swav"), &s, &g, err) >= 0, "%s", err);
        int queue = ir_find_value(&g, "queue"), fill = ir_find_value(&g, "queue_fill");
        if (q[k].rows) {
            ir_shape want = IR_SHAPE(2, q[k].rows, 6);
            CHECK(queue >= 0 && ir_shape_eq(&g.vals[queue].shape, &want) && fill >= 0 && has_update(&g, queue) == 1 &&
                      has_update(&g, fill) == 1,
                  "%s: queue state", q[k].queue_length);
        } else
            CHECK(queue < 0 && fill < 0, "%s %s: unexpected queue", q[k].queue_length, q[k].use);
        int w = ir_find_value(&g, "prototypes.weight");
        ir_shape ws = IR_SHAPE(7, 6);
        CHECK(w >= 0 && g.vals[w].kind == VK_PARAM && ir_shape_eq(&g.vals[w].shape, &ws), "prototypes.weight");
        CHECK(ir_find_value(&g, "projector.layer1.1.running_mean") >= 0 && ir_find_value(&g, "projector.layer1.3.bias") >= 0,
              "projector names");
        if (q[k].rows == 16) {
            /* forward runs: the prototypes come back normalized, the queue fills by one batch per
             * step up to its length */
            CHECK(find_update(&g, w) >= 0, "prototypes have no start-of-step value");
            interp it;
            CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 3, err) == 0, "%s", err);
            for (int v = 0; v < 3; v++) {
                char name[16];
                snprintf(name, sizeof name, "views.%d", v);
                int x = ir_find_value(&g, name);
                int64_t n = ir_numel(&g.vals[x].shape);
                float *buf = malloc((size_t)n * sizeof(float));
                test_fill_uniform(buf, n, -1, 1, 40 + (uint64_t)v);
                interp_set_f32(&it, x, buf, err);
                free(buf);
            }
            static const float want_fill[] = {8, 16, 16};
            for (int step = 0; step < 3; step++) {
                CHECK(interp_run(&it, err) == 0, "%s", err);
                float f, pw[42], qv[2 * 16 * 6];
                interp_get_f32(&it, fill, &f, err);
                CHECK(f == want_fill[step], "step %d: queue_fill %g, want %g", step + 1, f, want_fill[step]);
                interp_get_f32(&it, w, pw, err);
                for (int r = 0; r < 7; r++) {
                    double n2 = 0;
                    for (int j = 0; j < 6; j++) n2 += (double)pw[r * 6 + j] * pw[r * 6 + j];
                    CHECK(fabs(n2 - 1) < 1e-5, "prototype %d has squared norm %g", r, n2);
                }
                interp_get_f32(&it, queue, qv, err);
                for (int i = 0; i < 2; i++)
                    for (int r = 0; r < 16; r++) {
                        double n2 = 0;
                        for (int j = 0; j < 6; j++) n2 += (double)qv[(i * 16 + r) * 6 + j] * qv[(i * 16 + r) * 6 + j];
                        int filled = r < 8 * (step + 1);
                        CHECK(filled ? fabs(n2 - 1) < 1e-5 : n2 == 0, "step %d queue %d row %d: squared norm %g",
                              step + 1, i, r, n2);
                    }
            }
            interp_free(&it);
            /* the train step: the optimizer takes over the prototypes' update */
            ir_graph t;
            ir_graph_init(&t);
            compile_args a;
            memset(&a, 0, sizeof a);
            a.method = method_find("swav");
            a.spec = s;
            a.opt = opt_defaults(OPT_SGD);
            CHECK(driver_build_train(&a, &t, err) == 0, "%s", err);
            int tw = ir_find_value(&t, "prototypes.weight");
            CHECK(has_update(&t, tw) == 1 && ir_find_value(&t, "opt.momentum_buffer.prototypes.weight") >= 0 &&
                      ir_find_value(&t, "grad.prototypes.weight") >= 0,
                  "train step: prototypes update");
            CHECK(count_prefix(&t, VK_STATE, "opt.momentum_buffer.backbone.") == 9, "backbone optimizer slots");
            ir_graph_free(&t);
        }
        ir_graph_free(&g);
    }
    /* hidden_dim = 0: PySSL's hidden_dim=None, a single Linear */
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("convnet", 0.25, 16, 3, 8);
    s.set[s.nset++] = "hidden_dim=0";
    s.set[s.nset++] = "freeze_prototypes_niters=5";
    CHECK(method_build(method_find("swav"), &s, &g, err) >= 0, "%s", err);
    CHECK(ir_find_value(&g, "projector.layer1.weight") >= 0 && ir_find_value(&g, "projector.layer1.0.weight") < 0,
          "hidden_dim=0 projector");
    int mask = ir_find_value(&g, "sched.prototypes_grad");
    CHECK(mask >= 0 && g.vals[mask].init.a == 1.0, "freeze_prototypes_niters: sched.prototypes_grad");
    ir_graph_free(&g);
    printf("ok   swav graph: names, queue rounding and fill, normalized prototypes, optimizer hand-over\n");
    return 0;
}

static int test_bad_multicrop_options(void) {
    struct {
        const char *method, *set, *want;
        int size;
    } cases[] = {
        {"dino", "num_crops=-1", "num_crops", 16},
        {"dino", "num_crops=15", "num_crops", 16},
        {"swav", "num_crops=2.5", "integer", 16},
        {"swav", "num_crops=2", "4x4", 8},
        {"dino", "temp_t=0", "temp_t", 16},
        {"dino", "temp_s=-1", "temp_s", 16},
        {"dino", "m=1.5", "center momentum", 16},
        {"dino", "lamda=-0.1", "lamda", 16},
        {"dino", "bottleneck_dim=0", "bottleneck_dim", 16},
        {"dino", "warmup_teacher_temp_epochs=-1", "warmup_teacher_temp_epochs", 16},
        {"dino", "tau=0.1", "options: projection_dim", 16},
        {"swav", "epsilon=0", "epsilon", 16},
        {"swav", "sinkhorn_iterations=0", "sinkhorn_iterations", 16},
        {"swav", "num_prototypes=0", "num_prototypes", 16},
        {"swav", "queue_length=-8", "queue_length", 16},
        {"swav", "hidden_dim=-1", "hidden_dim", 16},
        {"swav", "temperature=0", "temperature", 16},
        {"swav", "use_the_queue=maybe", "boolean", 16},
        {"swav", "freeze_prototypes_niters=-1", "freeze_prototypes_niters", 16},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ir_graph g;
        ir_graph_init(&g);
        method_spec s = spec_of("convnet", 0.25, cases[k].size, 3, 4);
        s.set[s.nset++] = cases[k].set;
        char err[IR_ERRLEN] = {0};
        int r = method_build(method_find(cases[k].method), &s, &g, err);
        CHECK(r < 0 && strstr(err, cases[k].want) && !strchr(err, '\n'), "%s %s: rc %d, err '%s' (want '%s')",
              cases[k].method, cases[k].set, r, err, cases[k].want);
        ir_graph_free(&g);
    }
    printf("ok   dino/swav bad options\n");
    return 0;
}

/* ---- MoCo family ---- */

static int build_method(const char *name, ir_graph *g, method_spec *s, char *err) {
    ir_graph_init(g);
    return method_build(method_find(name), s, g, err);
}

static int has_state(const ir_graph *g, const char *name, ir_kind kind) {
    int v = ir_find_value(g, name);
    return v >= 0 && g->vals[v].kind == kind;
}

/* the value `name` is a state initialized as a copy of `src` */
static int copy_of(const ir_graph *g, const char *name, const char *src) {
    int v = ir_find_value(g, name), s = ir_find_value(g, src);
    return v >= 0 && s >= 0 && g->vals[v].kind == VK_STATE && g->vals[v].init.kind == INIT_COPY && g->vals[v].init.src == s;
}

/* names, kinds and updates: query encoder trainable, key encoder = EMA states copied from it,
 * every state updated each step, the queue and its pointer as PySSL names and lays them out */
static int test_moco_graphs(void) {
    static const char *methods[] = {"moco", "mocov2", "mocov3"};
    static const char *proj_w[] = {"projector.weight", "projector.layer1.0.weight", "projector.layer1.0.weight"};
    static const char *key_proj_w[] = {"encoder_k.1.weight", "encoder_k.1.layer1.0.weight", "encoder_k.1.layer1.0.weight"};
    for (int m = 0; m < 3; m++) {
        ir_graph g;
        char err[IR_ERRLEN];
        method_spec s = spec_of("convnet", 0.25, 8, 1, 4);
        s.set[s.nset++] = "projection_dim=8";
        s.set[s.nset++] = m == 2 ? "hidden_dim=16" : "K=12";
        CHECK(build_method(methods[m], &g, &s, err) >= 0, "%s: %s", methods[m], err);
        CHECK(has_state(&g, "backbone.features.0.weight", VK_PARAM) && has_state(&g, proj_w[m], VK_PARAM),
              "%s: query encoder parameters", methods[m]);
        CHECK(copy_of(&g, "encoder_k.0.features.0.weight", "backbone.features.0.weight") &&
                  copy_of(&g, key_proj_w[m], proj_w[m]) &&
                  copy_of(&g, "encoder_k.0.features.9.running_var", "backbone.features.9.running_var"),
              "%s: key encoder is not a copy-initialized state of the query encoder", methods[m]);
        int nparam = 0, nstate = 0, nkey = 0;
        for (int v = 0; v < g.nvals; v++) {
            const ir_value *x = &g.vals[v];
            if (!x->name) continue;
            int key = !strncmp(x->name, "encoder_k.", 10);
            nkey += key;
            nparam += x->kind == VK_PARAM;
            nstate += x->kind == VK_STATE;
            CHECK(!(key && x->kind == VK_PARAM), "%s: key encoder tensor %s is trainable", methods[m], x->name);
        }
        /* key encoder: convnet 3 conv + 3 BN (2 params + 3 buffers each), projector Linears (+ 3 BN for v3) */
        static const int nkey_want[] = {3 + 15 + 2, 3 + 15 + 4, 3 + 15 + 6 + 15};
        CHECK(nkey == nkey_want[m], "%s: %d key encoder tensors, want %d", methods[m], nkey, nkey_want[m]);
        CHECK(g.nupdates == nstate, "%s: %d updates for %d state tensors (every state changes each step)", methods[m],
              g.nupdates, nstate);
        int sm = ir_find_value(&g, "sched.m");
        CHECK(sm >= 0 && g.vals[sm].kind == VK_INPUT && g.vals[sm].init.a == 0.999, "%s: sched.m input", methods[m]);
        int q = ir_find_value(&g, "queue"), p = ir_find_value(&g, "queue_ptr");
        if (m < 2) {
            ir_shape qs = IR_SHAPE(8, 12);
            CHECK(q >= 0 && g.vals[q].kind == VK_STATE && ir_shape_eq(&g.vals[q].shape, &qs) &&
                      g.vals[q].init.kind == INIT_NORMAL_L2,
                  "%s: queue must be a [projection_dim, K] state, normal + L2 init", methods[m]);
            CHECK(p >= 0 && g.vals[p].kind == VK_STATE && g.vals[p].dtype == DT_I64 && ir_numel(&g.vals[p].shape) == 1,
                  "%s: queue_ptr must be an i64 [1] state", methods[m]);
            CHECK(nparam == 3 + 6 + (m ? 4 : 2), "%s: %d trainable parameters", methods[m], nparam);
        } else {
            CHECK(q < 0 && p < 0, "mocov3 has no queue");
            CHECK(has_state(&g, "predictor.layer1.1.running_mean", VK_STATE) && has_state(&g, "predictor.layer2.0.bias", VK_PARAM) &&
                      ir_find_value(&g, "encoder_k.2.layer1.0.weight") < 0,
                  "mocov3: predictor names (and no key predictor)");
            CHECK(nparam == 3 + 6 + 12 + 6, "mocov3: %d trainable parameters", nparam);
        }
        /* the plan file keeps the queue's init recipe */
        if (m == 0) {
            sslc_plan a, b;
            plan_init(&a);
            plan_init(&b);
            ir_graph_free(&a.train);
            a.train = g;
            unsigned char *buf = NULL;
            size_t len = 0;
            CHECK(plan_set_method(&a, "moco", err) == 0 && plan_encode(&a, &buf, &len, err) == 0 &&
                      plan_decode(&b, buf, len, "moco plan", err) == 0,
                  "plan round trip: %s", err);
            free(buf);
            int qb = ir_find_value(&b.train, "queue");
            CHECK(qb >= 0 && b.train.vals[qb].init.kind == INIT_NORMAL_L2 && b.train.vals[qb].init.b == 1,
                  "queue init recipe lost in the plan file");
            plan_free(&b);
            plan_free(&a); /* frees g */
        } else
            ir_graph_free(&g);
    }
    printf("ok   moco graphs (names, EMA key encoder, queue state)\n");
    return 0;
}

static int64_t ival(const interp *it, const ir_graph *g, const char *name) {
    return *(const int64_t *)interp_data(it, ir_find_value(g, name));
}

/* Forward steps through the interpreter: the queue starts with unit columns, takes the batch's
 * (unit) keys at the pointer, the pointer wraps at K; the EMA of the key encoder uses sched.m. */
static int test_moco_steps(void) {
    ir_graph g;
    char err[IR_ERRLEN];
    method_spec s = spec_of("convnet", 0.25, 8, 1, 4);
    s.set[s.nset++] = "projection_dim=6";
    s.set[s.nset++] = "K=8";
    int loss = build_method("mocov2", &g, &s, err);
    CHECK(loss >= 0, "%s", err);
    ir_add_output(&g, loss);
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 3, err) == 0, "%s", err);
    int q = ir_find_value(&g, "queue"), kw = ir_find_value(&g, "encoder_k.1.layer1.2.weight"),
        ow = ir_find_value(&g, "projector.layer1.2.weight"), sm = ir_find_value(&g, "sched.m");
    float qv[6 * 8], q0[6 * 8], kv[6 * 32], ov[6 * 32];
    CHECK(interp_get_f32(&it, q, q0, err) == 0, "%s", err);
    for (int c = 0; c < 8; c++) {
        double n = 0;
        for (int d = 0; d < 6; d++) n += (double)q0[d * 8 + c] * q0[d * 8 + c];
        CHECK(fabs(n - 1) < 1e-5, "initial queue column %d has squared norm %g", c, n);
    }
    /* a key encoder that differs from the query encoder, momentum 0.75 */
    float zero[6 * 32] = {0}, m = 0.75f;
    interp_set_f32(&it, kw, zero, err);
    interp_set_f32(&it, sm, &m, err);
    interp_get_f32(&it, ow, ov, err);
    for (int k = 0; k < 2; k++) {
        int v = ir_find_value(&g, k ? "views.1" : "views.0");
        float x[4 * 64];
        test_fill_uniform(x, 4 * 64, -1, 1, 40 + (uint64_t)k);
        interp_set_f32(&it, v, x, err);
    }
    static const int64_t ptr_want[] = {4, 0, 4};
    for (int step = 0; step < 3; step++) {
        CHECK(interp_run(&it, err) == 0, "%s", err);
        CHECK(ival(&it, &g, "queue_ptr") == ptr_want[step], "step %d: queue_ptr %lld, want %lld", step,
              (long long)ival(&it, &g, "queue_ptr"), (long long)ptr_want[step]);
        CHECK(ival(&it, &g, "encoder_k.0.features.1.num_batches_tracked") == step + 1, "key BN counter");
        interp_get_f32(&it, q, qv, err);
        int lo = step % 2 ? 4 : 0; /* columns written this step */
        for (int c = 0; c < 8; c++) {
            double n = 0, diff = 0;
            for (int d = 0; d < 6; d++) {
                n += (double)qv[d * 8 + c] * qv[d * 8 + c];
                diff += fabs(qv[d * 8 + c] - q0[d * 8 + c]);
            }
            CHECK(fabs(n - 1) < 1e-5, "step %d: queue column %d has squared norm %g", step, c, n);
            int written = c >= lo && c < lo + 4;
            if (step == 0) CHECK(written ? diff > 1e-3 : diff == 0, "step 0: column %d %s", c, written ? "not written" : "changed");
        }
        if (step == 0) { /* k = 0.75 * 0 + 0.25 * online (no optimizer here: online is fixed) */
            interp_get_f32(&it, kw, kv, err);
            for (int i = 0; i < 6 * 32; i++)
                CHECK(fabs(kv[i] - 0.25f * ov[i]) <= 1e-6 * (1 + fabs(ov[i])), "EMA: %g, want %g", kv[i], 0.25f * ov[i]);
        }
    }
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   moco queue and EMA steps\n");
    return 0;
}

/* MoCo v3: two views through each encoder: every BatchNorm counter advances by 2 per step */
static int test_mocov3_bn(void) {
    ir_graph g;
    char err[IR_ERRLEN];
    method_spec s = spec_of("convnet", 0.25, 8, 1, 4);
    s.set[s.nset++] = "projection_dim=6";
    s.set[s.nset++] = "hidden_dim=10";
    CHECK(build_method("mocov3", &g, &s, err) >= 0, "%s", err);
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 3, err) == 0, "%s", err);
    float x[4 * 64];
    test_fill_uniform(x, 4 * 64, -1, 1, 5);
    interp_set_f32(&it, ir_find_value(&g, "views.0"), x, err);
    interp_set_f32(&it, ir_find_value(&g, "views.1"), x, err);
    CHECK(interp_run(&it, err) == 0, "%s", err);
    static const char *bns[] = {"backbone.features.5", "projector.layer3.1", "predictor.layer1.1", "encoder_k.0.features.5",
                                "encoder_k.1.layer2.1"};
    for (size_t i = 0; i < sizeof bns / sizeof bns[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.num_batches_tracked", bns[i]);
        CHECK(ival(&it, &g, name) == 2, "%s = %lld after one step", name, (long long)ival(&it, &g, name));
    }
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   mocov3 BN threading\n");
    return 0;
}

static int test_moco_bad_options(void) {
    struct {
        const char *method, *set, *want;
        int64_t batch;
    } cases[] = {
        {"moco", "K=100", "divisible", 8},     {"mocov2", "K=12", "divisible", 8},  {"moco", "temperature=0", "temperature", 8},
        {"mocov3", "temperature=-1", "temperature", 8}, {"mocov2", "m=1.5", "m (EMA", 8},  {"moco", "K=0", "K (queue", 8},
        {"mocov3", "hidden_dim=0", "hidden_dim", 8}, {"mocov3", "K=16", "no option 'K'", 8},
        {"moco", "projection_dim=0", "projection_dim", 8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ir_graph g;
        char err[IR_ERRLEN] = {0};
        method_spec s = spec_of("convnet", 0.25, 8, 1, cases[c].batch);
        s.set[s.nset++] = cases[c].set;
        CHECK(build_method(cases[c].method, &g, &s, err) < 0, "%s %s accepted", cases[c].method, cases[c].set);
        CHECK(strstr(err, cases[c].want) && !strchr(err, '\n'), "%s %s: '%s' (want one line with '%s')", cases[c].method,
              cases[c].set, err, cases[c].want);
        ir_graph_free(&g);
    }
    printf("ok   moco bad options\n");
    return 0;
}

/* MAE: the reference's module names, one view, the host-drawn permutation input, no projector;
 * non-ViT backbones and options that mask nothing or everything refused in one line */
static int test_mae_graph(void) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("vit-tiny", 0.125, 16, 3, 4);
    s.backbone.depth = 1;
    const char *sets[] = {"decoder_embed_dim=16", "decoder_depth=1", "decoder_num_heads=2"};
    for (int i = 0; i < 3; i++) s.set[s.nset++] = sets[i];
    char err[IR_ERRLEN];
    CHECK(method_build(method_find("mae"), &s, &g, err) >= 0, "mae: %s", err);
    static const char *params[] = {"backbone.patch_embed.proj.weight", "backbone.cls_token", "backbone.pos_embed",
                                   "backbone.blocks.0.attn.qkv.weight", "backbone.norm.weight", "decoder_embed.weight",
                                   "mask_token", "decoder_pos_embed", "decoder_blocks.0.mlp.fc2.bias",
                                   "decoder_norm.bias", "decoder_pred.weight"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        CHECK(has(&g, params[i], VK_PARAM), "mae: no parameter %s", params[i]);
    /* 16x16 images in 4x4 patches: L = 16; the prediction is 4*4*3 pixels a patch */
    int pred = ir_find_value(&g, "decoder_pred.weight"), dpos = ir_find_value(&g, "decoder_pos_embed");
    CHECK(g.vals[pred].shape.d[0] == 48 && g.vals[pred].shape.d[1] == 16, "mae: decoder_pred.weight shape");
    CHECK(g.vals[dpos].shape.d[1] == 17 && g.vals[dpos].shape.d[2] == 16, "mae: decoder_pos_embed shape");
    int m = ir_find_value(&g, "aug.shuffle.mask");
    CHECK(m >= 0 && g.vals[m].kind == VK_INPUT && g.vals[m].dtype == DT_I64 && g.vals[m].shape.ndim == 2 &&
              g.vals[m].shape.d[0] == 4 && g.vals[m].shape.d[1] == 16,
          "mae: aug.shuffle.mask must be an i64 [batch, patches] input");
    CHECK(has(&g, "views.0", VK_INPUT) && ir_find_value(&g, "views.1") < 0, "mae: one view");
    CHECK(count_kind(&g, VK_STATE) == 0 && method_find("mae")->projector == NULL, "mae: no state, no projector");
    ir_graph_free(&g);
    static const struct {
        const char *backbone, *set, *want;
    } bad[] = {
        {"resnet18", NULL, "mae: reconstructs masked patches of a Vision Transformer, not resnet18: use --backbone vit-tiny"},
        {"convnet", NULL, "use --backbone vit-tiny"},
        {"vit-tiny", "mask_ratio=0.99", "keeps 0 of the 16 patches"},
        {"vit-tiny", "mask_ratio=0", "keeps 16 of the 16 patches"},
        {"vit-tiny", "mask_ratio=1.5", "mask_ratio must be in [0, 1]"},
        {"vit-tiny", "decoder_num_heads=3", "decoder_num_heads 3 must divide decoder_embed_dim 16"},
        {"vit-tiny", "decoder_depth=0", "decoder_depth must be in [1, 64]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        method_spec b = spec_of(bad[i].backbone, 0.125, 16, 3, 4);
        b.backbone.depth = strncmp(bad[i].backbone, "vit", 3) ? 0 : 1;
        b.set[b.nset++] = "decoder_embed_dim=16";
        b.set[b.nset++] = "decoder_num_heads=2";
        if (bad[i].set) b.set[b.nset++] = bad[i].set;
        ir_graph_init(&g);
        err[0] = 0;
        CHECK(method_build(method_find("mae"), &b, &g, err) < 0 && strstr(err, bad[i].want) && !strchr(err, '\n'),
              "mae on %s --set %s: got '%s', want '%s'", bad[i].backbone, bad[i].set ? bad[i].set : "-", err, bad[i].want);
        ir_graph_free(&g);
    }
    printf("ok   mae graph: reference module names, aug.shuffle.mask input, one-line refusals\n");
    return 0;
}

int main(void) {
    int failed = 0, passed = 0;
    int (*tests[])(void) = {test_resnet_names,   test_vit,           test_bad_options,     test_bn_threading,
                            test_simclr_fd,      test_method_names,  test_byol_ema_step,   test_new_bad_options,
                            test_new_methods_fd, test_moco_graphs,   test_moco_steps,      test_mocov3_bn,
                            test_moco_bad_options, test_multicrop,   test_dino_graph,      test_swav_graph,
                            test_bad_multicrop_options, test_nnclr_queue_step, test_mae_graph};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i]() ? failed++ : passed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
