/* Data pipeline throughput: the loader alone, the augmentation subgraph alone (reference
 * interpreter), both together as a train loop would run them, and, given a plan, the train
 * step itself, all in images per second.
 *
 *   loader_bench [--data SPEC] [--batch B] [--threads T] [--batches N] [--recipe NAME]
 *                [--image-size S] [--plan FILE]
 *
 * Defaults: fake:20000 (3x32x32), batch 256, 2 loader threads, 20 batches, the simclr recipe
 * at the dataset's image size. With --plan, the dataset must match the plan's `images` input
 * and the recipe/batch come from the plan. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/augment_build.h"
#include "frontend/plan_opts.h"
#include "ir/builder.h"
#include "passes/optimizer.h"
#include "runtime/engine.h"
#include "runtime/augment.h"
#include "runtime/dataset.h"
#include "runtime/interp.h"
#include "runtime/loader.h"
#include "runtime/planfile.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int die(const char *msg) {
    fprintf(stderr, "loader_bench: %s\n", msg);
    return 1;
}

/* images -> the recipe's views 0 and 1 (and no loss): the augmentation part of a step */
static int build_aug_graph(ir_graph *g, const char *recipe, int64_t B, const ds_info *in, int64_t size, char *err) {
    const aug_recipe *r = aug_recipe_find(recipe);
    if (!r) return snprintf(err, IR_ERRLEN, "unknown recipe %s (%s)", recipe, aug_recipe_choices()), -1;
    int images = ir_input(g, "images", DT_U8, IR_SHAPE(B, in->c, in->h, in->w));
    aug_norm norm = aug_default_norm(in->c);
    for (int v = 0; v < 2; v++) ir_add_output(g, aug_build_view(g, aug_recipe_view(r, v), v, images, size, size, size, &norm));
    if (g->failed) return snprintf(err, IR_ERRLEN, "%s", g->err), -1;
    return 0;
}

static int feed_step(const sslc_plan *p, engine *e, sslc_loader *l, aug_binding *ab, int64_t step, char *err) {
    opt_config cfg;
    double lr, wd;
    if (plan_opt_config(p, &cfg, &lr, &wd, err)) return -1;
    opt_scalar sc[OPT_MAX_SCALARS];
    int ns = optimizer_step_inputs(&cfg, step + 1, lr, wd, sc);
    for (int k = 0; k < ns; k++) {
        int v = engine_find(e, sc[k].name);
        if (v >= 0 && engine_set_f32(e, v, &sc[k].value, err)) return -1;
    }
    loader_batch b;
    if (feed_sched_inputs(e, err) || loader_next(l, &b, err) || aug_draw(ab, p->seed, step, err)) return -1;
    int v = engine_find(e, "images");
    if (engine_upload(e, v, b.images, engine_value_bytes(e, v), err)) return -1;
    for (int i = 0; i < ab->ninputs; i++) {
        int a = engine_find(e, ab->in[i].name);
        if (a >= 0 && engine_upload(e, a, ab->in[i].data, aug_input_bytes(&ab->in[i]), err)) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {{"data", required_argument, 0, 'd'},    {"batch", required_argument, 0, 'b'},
                                             {"threads", required_argument, 0, 't'}, {"batches", required_argument, 0, 'n'},
                                             {"recipe", required_argument, 0, 'r'},  {"image-size", required_argument, 0, 's'},
                                             {"plan", required_argument, 0, 'p'},    {"device", required_argument, 0, 'D'},
                                             {0, 0, 0, 0}};
    const char *device = "cpu";
    const char *spec = "fake:20000", *recipe = "simclr", *plan_path = NULL;
    int batch = 256, threads = 2, nb = 20, size = 0, c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': spec = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'n': nb = atoi(optarg); break;
        case 'r': recipe = optarg; break;
        case 's': size = atoi(optarg); break;
        case 'p': plan_path = optarg; break;
        case 'D': device = optarg; break;
        default: return die("usage: loader_bench [--data SPEC] [--batch B] [--threads T] [--batches N] [--recipe R] "
                            "[--image-size S] [--plan FILE [--device cpu|ref]]");
        }
    }
    char err[IR_ERRLEN];
    sslc_plan plan;
    plan_init(&plan);
    int pimages = -1;
    ds_options dopt = {.seed = 1};
    if (plan_path) {
        if (plan_read(&plan, plan_path, err)) return die(err);
        pimages = ir_find_value(&plan.train, "images");
        if (pimages < 0) return die("the plan has no `images` input (compiled with --augment none?)");
        const ir_shape *s = &plan.train.vals[pimages].shape;
        batch = (int)s->d[0];
        dopt.channels = (int)s->d[1];
        if (!strncmp(spec, "fake:", 5)) dopt.height = (int)s->d[2], dopt.width = (int)s->d[3];
        recipe = plan_get_option(&plan, "augment");
        size = atoi(plan_get_option(&plan, "image_size"));
    }
    sslc_dataset *ds;
    if (ds_open(&ds, spec, DS_TRAIN, &dopt, err)) return die(err);
    const ds_info *in = ds_get_info(ds);
    if (!size) size = in->h;
    printf("data %s: %lld images %dx%dx%d; batch %d, %d loader threads, recipe %s -> 2 views of %dx%d\n", spec,
           (long long)in->n, in->c, in->h, in->w, batch, threads, recipe, size, size);
    loader_cfg lc = loader_defaults(batch);
    lc.threads = threads;
    lc.prefetch = 2 * threads + 2;
    sslc_loader *l;
    loader_batch b;

    /* 1. loader alone */
    if (loader_open(&l, ds, &lc, err)) return die(err);
    if (loader_next(l, &b, err)) return die(err); /* warm-up: first batch */
    double t0 = now();
    for (int k = 0; k < nb; k++)
        if (loader_next(l, &b, err)) return die(err);
    double t_load = now() - t0;
    loader_close(l);
    printf("  loader alone                 %10.0f images/s\n", nb * (double)batch / t_load);

    /* 2. augmentation subgraph alone (interpreter, OpenMP over the batch) */
    ir_graph g;
    ir_graph_init(&g);
    if (build_aug_graph(&g, recipe, batch, in, size, err)) return die(err);
    aug_binding ab;
    const aug_recipe *r = aug_recipe_find(recipe);
    const aug_pipeline *pipes[2] = {aug_recipe_view(r, 0), aug_recipe_view(r, 1)};
    int ids[2] = {0, 1};
    interp it;
    if (aug_bind(&ab, &g, pipes, ids, 2, err) || interp_init(&it, &g, 0, err)) return die(err);
    int images = ir_find_value(&g, "images");
    memset(interp_data(&it, images), 100, (size_t)batch * in->c * in->h * in->w);
    int na = nb < 10 ? nb : 10;
    t0 = now();
    double t_draw = 0;
    for (int k = 0; k < na; k++) {
        double td = now();
        if (aug_draw(&ab, 1, k, err) || aug_feed_interp(&ab, &it, err)) return die(err);
        t_draw += now() - td;
        if (interp_run(&it, err)) return die(err);
    }
    double t_aug = now() - t0;
    printf("  augmentation (2 views)       %10.0f images/s   (parameter draws alone %.0f images/s)\n",
           na * (double)batch / t_aug, na * (double)batch / t_draw);

    /* 3. loader + augmentation, as a train loop runs them */
    if (loader_open(&l, ds, &lc, err)) return die(err);
    if (loader_next(l, &b, err)) return die(err);
    t0 = now();
    double t_wait = 0;
    for (int k = 0; k < na; k++) {
        double tw = now();
        if (loader_next(l, &b, err)) return die(err);
        t_wait += now() - tw;
        memcpy(interp_data(&it, images), b.images, (size_t)batch * in->c * in->h * in->w);
        if (aug_draw(&ab, 1, k, err) || aug_feed_interp(&ab, &it, err) || interp_run(&it, err)) return die(err);
    }
    double t_both = now() - t0;

    printf("  loader + augmentation        %10.0f images/s   (waiting for the loader %.0f%% of it)\n",
           na * (double)batch / t_both, 100 * t_wait / t_both);
    interp_free(&it);
    aug_unbind(&ab);
    ir_graph_free(&g);

    /* 4. the plan's train step on an engine (cpu: fused JIT kernels), fed by the loader */
    if (plan_path) {
        engine_kind kind;
        char info[256] = "";
        if (engine_kind_parse(device, &kind, err) || aug_bind_plan(&ab, &plan, err)) return die(err);
        const ir_shape *s = &plan.train.vals[pimages].shape;
        if (s->d[1] != in->c || s->d[2] != in->h || s->d[3] != in->w)
            return die("the dataset's images do not have the plan's `images` shape");
        engine *e = engine_new_plan(kind, 0, &plan, info, sizeof info, err);
        if (!e || engine_init_persistent(e, plan.seed, err)) return die(err);
        int ns = nb < 3 ? nb : 3;
        double t_step = 0, t_feed = 0;
        for (int k = 0; k <= ns; k++) {
            double ts = now();
            if (feed_step(&plan, e, l, &ab, k, err)) return die(err);
            double tf = now();
            if (engine_run(e, err)) return die(err);
            if (k) t_step += now() - ts, t_feed += tf - ts; /* the first step warms up */
        }
        printf("  train step %-17s %10.0f images/s   (%s engine, augmentation included; feeding %.0f%% of it)\n",
               plan.method, ns * (double)batch / t_step, device, 100 * t_feed / t_step);
        engine_free(e);
        aug_unbind(&ab);
    }
    loader_close(l);
    ds_close(ds);
    plan_free(&plan);
    return 0;
}
