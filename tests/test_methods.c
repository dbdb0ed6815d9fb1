/* Method graphs: torchvision/PySSL names, BatchNorm state threading, and an end-to-end
 * float64 finite-difference check of the whole SimCLR loss on a small ConvNet. */
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"
#include "optest.h"
#include "passes/autodiff.h"
#include "runtime/init.h"
#include "runtime/interp.h"
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

/* End to end: d loss / d params of SimCLR (ConvNet, two views) against central differences
 * in float64 on a sample of parameter elements. */
static int test_simclr_fd(void) {
    ir_graph g;
    ir_graph_init(&g);
    method_spec s = spec_of("convnet", 0.125, 8, 1, 4);
    s.set[s.nset++] = "projection_dim=8";
    char err[IR_ERRLEN];
    int loss = method_build(method_find("simclr"), &s, &g, err);
    CHECK(loss >= 0, "%s", err);
    int *params, np = ir_trainable_params(&g, &params);
    int *grads = calloc((size_t)np, sizeof(int));
    CHECK(autodiff(&g, loss, params, np, grads) == 0, "%s", g.err);
    ir_add_output(&g, loss);
    for (int i = 0; i < np; i++) ir_add_output(&g, grads[i]);
    interp it;
    CHECK(interp_init(&it, &g, 1, err) == 0 && init_persistent(&it, 11, err) == 0, "%s", err);
    for (int k = 0; k < 2; k++) {
        char name[16];
        snprintf(name, sizeof name, "views.%d", k);
        int v = ir_find_value(&g, name);
        float *x = malloc((size_t)ir_numel(&g.vals[v].shape) * sizeof(float));
        test_fill_uniform(x, ir_numel(&g.vals[v].shape), -1, 1, 20 + (uint64_t)k);
        interp_set_f32(&it, v, x, err);
        free(x);
    }
    CHECK(interp_run(&it, err) == 0, "%s", err);
    double l0;
    interp_get_f64(&it, loss, &l0, err);
    /* at initialization the loss is near ln(2N - 1) */
    CHECK(l0 > 1.0 && l0 < 3.0, "initial loss %g", l0);
    double **an = calloc((size_t)np, sizeof(double *));
    for (int i = 0; i < np; i++) {
        an[i] = calloc((size_t)ir_numel(&g.vals[params[i]].shape), sizeof(double));
        interp_get_f64(&it, grads[i], an[i], err);
    }
    sslc_rng r;
    rng_seed(&r, 5, 1);
    double worst = 0;
    for (int i = 0; i < np; i++) {
        int64_t n = ir_numel(&g.vals[params[i]].shape);
        double *pv = interp_data(&it, params[i]);
        for (int t = 0; t < 3; t++) {
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
            CHECK(e < 1e-4, "%s[%lld]: fd %.9g autodiff %.9g", g.vals[params[i]].name, (long long)j, fd, an[i][j]);
        }
    }
    for (int i = 0; i < np; i++) free(an[i]);
    free(an);
    free(params);
    free(grads);
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   simclr end-to-end FD (loss %.4f, worst rel err %.2e)\n", l0, worst);
    return 0;
}

int main(void) {
    int failed = 0, passed = 0;
    int (*tests[])(void) = {test_resnet_names, test_bad_options, test_bn_threading, test_simclr_fd};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i]() ? failed++ : passed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
