/* Host side of augmentation: recipe tables against PySSL, the text form, torchvision's sampling
 * rules, determinism of the per-step draws, and the compiled step with augmentation (views
 * computed from `images`) against the same step fed those views directly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/augment_build.h"
#include "frontend/driver.h"
#include "optest.h"
#include "runtime/augment.h"
#include "runtime/init.h"
#include "runtime/interp.h"

static int test_recipes(void) {
    char err[IR_ERRLEN], text[AUG_TEXTLEN];
    static const char *methods[] = {"barlow_twins", "byol", "dino", "moco", "mocov2", "mocov3",
                                    "simclr", "simclrv2", "simsiam", "supcon", "swav", "vicreg", "nnclr", "mae"};
    const int nm = (int)(sizeof methods / sizeof methods[0]);
    CHECK(aug_recipe_count() == nm, "%d recipes", aug_recipe_count());
    for (int i = 0; i < nm; i++) {
        const aug_recipe *r = aug_recipe_find(methods[i]);
        CHECK(r && !strcmp(r->name, methods[i]), "no recipe for %s", methods[i]);
        for (int v = 0; v < 3; v++) {
            const aug_pipeline *p = aug_recipe_view(r, v);
            aug_pipeline q;
            CHECK(aug_pipeline_check(p, err) == 0, "%s view %d: %s", methods[i], v, err);
            CHECK(aug_pipeline_format(p, text, sizeof text) == 0, "%s view %d does not fit a plan option", methods[i], v);
            CHECK(aug_pipeline_parse(text, &q, err) == 0, "%s: '%s': %s", methods[i], text, err);
            CHECK(q.nsteps == p->nsteps && q.local == p->local, "round trip of %s", text);
            for (int s = 0; s < p->nsteps; s++)
                CHECK(q.steps[s].kind == p->steps[s].kind && q.steps[s].p == p->steps[s].p &&
                          q.steps[s].bicubic == p->steps[s].bicubic && !memcmp(q.steps[s].a, p->steps[s].a, sizeof q.steps[s].a),
                      "round trip of %s step %d", text, s);
            CHECK(p->steps[0].kind == AUG_CROP, "%s starts without a crop", methods[i]);
        }
    }
    /* spot checks against PySSL's builders */
    const aug_recipe *byol = aug_recipe_find("byol"), *dino = aug_recipe_find("dino"), *moco = aug_recipe_find("moco");
    CHECK(byol->view0->nsteps == 5 && byol->view1->nsteps == 6 && byol->view1->steps[5].kind == AUG_SOLARIZE &&
              byol->view1->steps[5].p == 0.2 && byol->view0->steps[0].bicubic && byol->view0->steps[0].a[0] == 0.08,
          "BYOL augment1/augment2");
    CHECK(dino->local && dino->local->local && dino->local->steps[0].a[0] == 0.05 && aug_recipe_view(dino, 5) == dino->local,
          "DINO local crops");
    CHECK(moco->view0->steps[1].kind == AUG_GRAY && moco->view0->steps[2].kind == AUG_JITTER &&
              moco->view0->steps[2].p == 1 && moco->view0->steps[2].a[3] == 0.4,
          "MoCo order and always-on jitter");
    CHECK(aug_blur_kernel(224) == 23 && aug_blur_kernel(32) == 3 && aug_blur_kernel(28) == 3 && aug_blur_kernel(96) == 9,
          "blur kernel size");
    /* parse errors: one line each */
    static const char *bad[][2] = {{"crop(scale=0.5:0.2)", "scale"},   {"zoom(p=1)", "unknown transform"},
                                   {"flip(p=2)", "[0, 1]"},            {"jitter(p=0.8,h=0.7)", "hue"},
                                   {"blur(sigma=0:1)", "sigma"},       {"flip(p=0.5) flip(p=0.5)", "twice"},
                                   {"crop(nearest)", "cannot use"},    {"gray(p=0.2", "name(...)"},
                                   {"jitter(q=1)", "cannot use 'q=1'"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        aug_pipeline q;
        CHECK(aug_pipeline_parse(bad[k][0], &q, err) != 0 && strstr(err, bad[k][1]) && !strchr(err, '\n'),
              "'%s' gave '%s'", bad[k][0], err);
    }
    double v[3];
    int n;
    CHECK(aug_parse_floats("0.485,0.456,0.406", v, &n, "--mean", err) == 0 && n == 3 && v[2] == 0.406, "mean list");
    CHECK(aug_parse_floats("1,2", v, &n, "--mean", err) != 0 && aug_parse_floats("x", v, &n, "--mean", err) != 0 &&
              aug_parse_floats("1,2,3,4", v, &n, "--std", err) != 0,
          "bad mean lists accepted");
    return 0;
}

static int test_sampling(void) {
    /* crop boxes: inside the image, area and aspect within torchvision's ranges */
    double scale[2] = {0.08, 1}, ratio[2] = {3.0 / 4, 4.0 / 3};
    sslc_rng r;
    rng_seed(&r, 1, 2);
    double area_sum = 0;
    for (int i = 0; i < 20000; i++) {
        int32_t b[4];
        aug_sample_crop(&r, 28, 40, scale, ratio, b);
        CHECK(b[0] >= 0 && b[1] >= 0 && b[2] >= 1 && b[3] >= 1 && b[0] + b[2] <= 28 && b[1] + b[3] <= 40, "box outside");
        double a = (double)b[2] * b[3] / (28.0 * 40);
        CHECK(a <= 1.0 + 1e-9, "area");
        area_sum += a;
    }
    /* torchvision's get_params on a 28x40 image gives a mean area fraction of 0.419 (20000 draws) */
    CHECK(fabs(area_sum / 20000 - 0.419) < 0.01, "mean crop area %.3f, torchvision 0.419", area_sum / 20000);
    /* fallback: a 1x100 image never fits a 3/4..4/3 box -> central crop as torchvision */
    int32_t b[4];
    aug_sample_crop(&r, 1, 100, scale, ratio, b);
    CHECK(b[2] == 1 && b[3] == 1 && b[0] == 0 && b[1] == 49, "fallback wide (%d %d %d %d)", b[0], b[1], b[2], b[3]);
    aug_sample_crop(&r, 100, 1, scale, ratio, b);
    CHECK(b[2] == 1 && b[3] == 1 && b[0] == 49 && b[1] == 0, "fallback tall");
    double tiny[2] = {1e-6, 1e-6};
    aug_sample_crop(&r, 10, 10, tiny, ratio, b);
    CHECK(b[0] == 0 && b[1] == 0 && b[2] == 10 && b[3] == 10, "fallback whole image");
    /* per-step draws: frequencies, factor ranges, order */
    const aug_pipeline *p = aug_recipe_view(aug_recipe_find("byol"), 1);
    int flips = 0, grays = 0, blurs = 0, sols = 0, jit = 0, n = 20000;
    for (int i = 0; i < n; i++) {
        int32_t box[4], ord[4];
        float flip, jf[4], gray, sigma, sol;
        aug_rng(&r, 7, 3, 1, i);
        aug_sample(&r, p, 32, 32, box, &flip, jf, ord, &gray, &sigma, &sol);
        flips += flip != 0, grays += gray != 0, blurs += sigma > 0, sols += sol != 0;
        CHECK(sigma == 0 || (sigma >= 0.1f && sigma <= 2.0f), "sigma %g", sigma);
        int seen = 0, any = 0;
        for (int k = 0; k < 4; k++)
            if (ord[k] >= 0) {
                CHECK(!(seen & (1 << ord[k])), "order repeats a function");
                seen |= 1 << ord[k], any = 1;
            }
        jit += any;
        if (any) {
            CHECK(seen == 15, "BYOL jitter applies all four adjustments");
            CHECK(jf[0] >= 0.6f && jf[0] <= 1.4f && jf[2] >= 0.8f && jf[2] <= 1.2f && jf[3] >= -0.1f && jf[3] <= 0.1f,
                  "jitter factors out of range");
        } else
            CHECK(jf[0] == 1 && jf[1] == 1 && jf[2] == 1 && jf[3] == 0, "identity factors when not applied");
    }
#define NEAR(cnt, prob) (fabs((double)(cnt) / n - (prob)) < 0.02)
    CHECK(NEAR(flips, 0.5) && NEAR(grays, 0.2) && NEAR(blurs, 0.5) && NEAR(sols, 0.2) && NEAR(jit, 0.8),
          "frequencies flip %d gray %d blur %d solarize %d jitter %d of %d", flips, grays, blurs, sols, jit, n);
    /* hue strength 0 -> hue None: never in the order */
    aug_pipeline q;
    char err[IR_ERRLEN];
    CHECK(aug_pipeline_parse("jitter(p=1,b=0.4,c=0,s=0.4,h=0)", &q, err) == 0, "%s", err);
    for (int i = 0; i < 100; i++) {
        int32_t ord[4];
        float jf[4];
        aug_sample(&r, &q, 8, 8, NULL, NULL, jf, ord, NULL, NULL, NULL);
        for (int k = 0; k < 4; k++) CHECK(ord[k] != 1 && ord[k] != 3, "None factor in the order");
    }
    /* the draw of sample b depends only on (seed, step, view, b) */
    float j1[4], j2[4];
    int32_t o1[4], o2[4], b1[4], b2[4];
    aug_rng(&r, 7, 3, 1, 5);
    aug_sample(&r, p, 32, 32, b1, NULL, j1, o1, NULL, NULL, NULL);
    aug_rng(&r, 7, 3, 1, 5);
    aug_sample(&r, p, 32, 32, b2, NULL, j2, o2, NULL, NULL, NULL);
    CHECK(!memcmp(b1, b2, sizeof b1) && !memcmp(j1, j2, sizeof j1) && !memcmp(o1, o2, sizeof o1), "draws not reproducible");
    aug_rng(&r, 7, 4, 1, 5);
    aug_sample(&r, p, 32, 32, b2, NULL, j2, o2, NULL, NULL, NULL);
    CHECK(memcmp(b1, b2, sizeof b1) || memcmp(j1, j2, sizeof j1), "step does not change the draw");
    return 0;
}

/* SimCLR on a small ConvNet: the step with augmentation = the step without, fed the views the
 * augmentation computed */
static int test_compiled_step(void) {
    char err[IR_ERRLEN];
    compile_args a;
    memset(&a, 0, sizeof a);
    a.method = method_find("simclr");
    CHECK(a.method, "no simclr");
    snprintf(a.spec.backbone.name, sizeof a.spec.backbone.name, "convnet");
    a.spec.backbone.width = 0.25;
    a.spec.backbone.image_size = 16;
    a.spec.backbone.channels = 3;
    a.spec.backbone.cifar_stem = -1;
    a.spec.batch = 4;
    a.opt = opt_defaults(OPT_SGD);
    a.lr = 0.1;
    a.source_h = 20, a.source_w = 18;
    a.norm = aug_default_norm(3);
    snprintf(a.augment, sizeof a.augment, "byol");
    ir_graph ga, gn;
    ir_graph_init(&ga);
    ir_graph_init(&gn);
    CHECK(driver_build_train(&a, &ga, err) == 0, "with augmentation: %s", err);
    snprintf(a.augment, sizeof a.augment, "none");
    CHECK(driver_build_train(&a, &gn, err) == 0, "without: %s", err);
    int images = ir_find_value(&ga, "images");
    CHECK(images >= 0 && ga.vals[images].dtype == DT_U8 && ga.vals[images].shape.d[2] == 20 && ga.vals[images].shape.d[3] == 18,
          "images input");
    CHECK(ir_find_value(&ga, "aug.1.solarize") >= 0 && ir_find_value(&ga, "aug.0.solarize") < 0 &&
              ga.vals[ir_find_value(&ga, "views.0")].kind == VK_INTER,
          "BYOL's views in the graph");
    int ntofloat = 0;
    for (int i = 0; i < ga.nnodes; i++) ntofloat += ga.nodes[i].op == OP_ToFloat;
    CHECK(ntofloat == 1, "%d ToFloat nodes (one shared)", ntofloat);
    /* bind and run */
    const aug_recipe *r = aug_recipe_find("byol");
    const aug_pipeline *pipes[2] = {aug_recipe_view(r, 0), aug_recipe_view(r, 1)};
    int ids[2] = {0, 1};
    aug_binding ab;
    CHECK(aug_bind(&ab, &ga, pipes, ids, 2, err) == 0, "%s", err);
    CHECK(ab.ninputs == 13 && ab.batch == 4 && ab.src_h == 20, "binding: %d inputs", ab.ninputs);
    interp ia, in;
    CHECK(interp_init(&ia, &ga, 0, err) == 0 && interp_init(&in, &gn, 0, err) == 0, "%s", err);
    ia.keep_all = 1;
    CHECK(init_persistent(&ia, 3, err) == 0 && init_persistent(&in, 3, err) == 0, "%s", err);
    uint8_t *im = interp_data(&ia, images);
    for (int i = 0; i < 4 * 3 * 20 * 18; i++) im[i] = (uint8_t)(i * 37 + i / 50);
    CHECK(aug_draw(&ab, 11, 0, err) == 0 && aug_feed_interp(&ab, &ia, err) == 0, "%s", err);
    for (int k = 0; k < ga.nvals; k++) /* optimizer scalars: same values in both */
        if (ga.vals[k].kind == VK_INPUT && !strncmp(ga.vals[k].name, "opt.", 4)) {
            float one = 0.1f;
            int kn = ir_find_value(&gn, ga.vals[k].name);
            CHECK(kn >= 0 && interp_set_f32(&ia, k, &one, err) == 0 && interp_set_f32(&in, kn, &one, err) == 0, "%s", err);
        }
    CHECK(interp_run(&ia, err) == 0, "%s", err);
    for (int v = 0; v < 2; v++) {
        char name[16];
        snprintf(name, sizeof name, "views.%d", v);
        int va = ir_find_value(&ga, name), vn = ir_find_value(&gn, name);
        int64_t cnt = ir_numel(&ga.vals[va].shape);
        float *buf = malloc((size_t)cnt * sizeof *buf);
        CHECK(interp_get_f32(&ia, va, buf, err) == 0 && interp_set_f32(&in, vn, buf, err) == 0, "%s", err);
        free(buf);
    }
    CHECK(interp_run(&in, err) == 0, "%s", err);
    float la, ln;
    CHECK(interp_get_f32(&ia, ir_find_value(&ga, "loss"), &la, err) == 0 &&
              interp_get_f32(&in, ir_find_value(&gn, "loss"), &ln, err) == 0,
          "%s", err);
    CHECK(isfinite(la) && la == ln, "loss with augmentation %.9g, fed the same views %.9g", la, ln);
    int ng = 0;
    for (int k = 0; k < ga.noutputs; k++) {
        const char *nm = ga.vals[ga.outputs[k]].name;
        if (!nm || strncmp(nm, "grad.", 5)) continue;
        int kn = ir_find_value(&gn, nm);
        int64_t cnt = ir_numel(&ga.vals[ga.outputs[k]].shape);
        float *x = malloc((size_t)cnt * 4), *y = malloc((size_t)cnt * 4);
        CHECK(kn >= 0 && interp_get_f32(&ia, ga.outputs[k], x, err) == 0 && interp_get_f32(&in, kn, y, err) == 0, "%s", err);
        CHECK(!memcmp(x, y, (size_t)cnt * 4), "%s differs", nm);
        free(x), free(y);
        ng++;
    }
    CHECK(ng > 5, "%d gradients compared", ng);
    printf("     loss %.6f with augmentation = fed views; %d gradients identical\n", la, ng);
    interp_free(&ia);
    interp_free(&in);
    /* binding errors: a pipeline whose step the graph lacks; an aug input no pipeline feeds */
    aug_unbind(&ab);
    aug_pipeline extra = *pipes[0];
    extra.steps[extra.nsteps++] = (aug_step){AUG_SOLARIZE, 0.5, {0}, 0};
    const aug_pipeline *pe[2] = {&extra, pipes[1]};
    CHECK(aug_bind(&ab, &ga, pe, ids, 2, err) != 0 && strstr(err, "aug.0.solarize"), "missing input accepted: %s", err);
    CHECK(aug_bind(&ab, &ga, pipes, ids, 1, err) != 0 && strstr(err, "aug.1."), "unfed input accepted: %s", err);
    ir_graph_free(&ga);
    ir_graph_free(&gn);
    /* a recipe without a crop cannot change the view size */
    ir_graph g;
    ir_graph_init(&g);
    aug_pipeline nocrop;
    CHECK(aug_pipeline_parse("flip(p=0.5)", &nocrop, err) == 0, "%s", err);
    aug_norm nm = aug_default_norm(3);
    int img = ir_input(&g, "images", DT_U8, IR_SHAPE(2, 3, 8, 8));
    CHECK(aug_build_view(&g, &nocrop, 0, img, 6, 6, 8, &nm) < 0 && strstr(g.err, "no crop"), "size change without a crop");
    ir_graph_free(&g);
    return 0;
}

/* the host-drawn permutations of a graph of `rows` samples: MAE-like shuffles [rows, 10] and a
 * batch permutation [2, rows] */
static int bind_perms(aug_binding *b, ir_graph *g, int64_t rows, char *err) {
    ir_graph_init(g);
    ir_input(g, "aug.shuffle.m", DT_I64, IR_SHAPE(rows, 10));
    ir_input(g, "aug.batchperm.k", DT_I64, IR_SHAPE(2, rows));
    return aug_bind(b, g, NULL, NULL, 0, err);
}

/* N ranks draw what one rank draws: rank r's shuffle rows are the one-rank run's rows r*b ...
 * whatever seed the views get, and its batch-permutation rows are its blocks of one permutation
 * of the global batch and of its inverse */
static int test_rank_permutations(void) {
    char err[IR_ERRLEN];
    enum { G = 8, R = 2, B = G / R, L = 10 };
    ir_graph g1, gr;
    aug_binding one, ranked;
    CHECK(bind_perms(&one, &g1, G, err) == 0, "%s", err);
    CHECK(one.ninputs == 2 && one.in[0].batch_perm == 0 && one.in[1].batch_perm == 1, "binding: %d inputs", one.ninputs);
    int changed = 0;
    int64_t first[G];
    for (int64_t step = 0; step < 6; step++) {
        CHECK(aug_draw(&one, 5, step, err) == 0, "%s", err);
        const int64_t *sh = one.in[0].data, *bp = one.in[1].data;
        int seen[G] = {0};
        for (int i = 0; i < G; i++) {
            CHECK(bp[i] >= 0 && bp[i] < G && !seen[bp[i]]++, "step %lld: row 0 is not a permutation", (long long)step);
            CHECK(bp[G + bp[i]] == i, "step %lld: row 1 is not the inverse of row 0", (long long)step);
        }
        if (step == 0) memcpy(first, bp, sizeof first);
        changed |= memcmp(first, bp, sizeof first) != 0;
        for (int r = 0; r < R; r++) {
            CHECK(bind_perms(&ranked, &gr, B, err) == 0, "%s", err);
            aug_set_rank(&ranked, 5, r, R);
            CHECK(aug_draw(&ranked, 5 + 1000 * (uint64_t)r, step, err) == 0, "%s", err); /* a rank's views seed */
            const int64_t *rsh = ranked.in[0].data, *rbp = ranked.in[1].data;
            CHECK(!memcmp(rsh, sh + (int64_t)r * B * L, B * L * sizeof *rsh), "rank %d: shuffle rows differ", r);
            CHECK(!memcmp(rbp, bp + r * B, B * sizeof *rbp) && !memcmp(rbp + B, bp + G + r * B, B * sizeof *rbp),
                  "rank %d step %lld: not its blocks of the global permutation", r, (long long)step);
            aug_unbind(&ranked);
            ir_graph_free(&gr);
        }
    }
    CHECK(changed, "the batch permutation is the same at every step");
    aug_unbind(&one);
    ir_graph_free(&g1);
    /* a batch permutation of another shape is refused */
    ir_graph_init(&gr);
    ir_input(&gr, "aug.batchperm.k", DT_I64, IR_SHAPE(3, 4));
    CHECK(aug_bind(&ranked, &gr, NULL, NULL, 0, err) < 0 && strstr(err, "aug.batchperm.k must be i64 [2, batch]"),
          "[3, 4] batch permutation: %s", err);
    ir_graph_free(&gr);
    return 0;
}

int main(void) {
    int failed = 0;
    struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {{"recipes and text form", test_recipes},
                 {"sampling as torchvision's get_params", test_sampling},
                 {"compiled step with augmentation", test_compiled_step},
                 {"ranks draw the one-rank run's permutations", test_rank_permutations}};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int r = tests[i].fn();
        printf("%s %s\n", r ? "FAIL" : "ok  ", tests[i].name);
        failed += r != 0;
    }
    return failed ? 1 : 0;
}
