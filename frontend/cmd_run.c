/* sslc run FILE: trains with a compiled plan on a backend (cpu: fused JIT kernels; ref: the
 * reference interpreter), printing a progress line per interval. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../passes/optimizer.h"
#include "../runtime/augment.h"
#include "../runtime/dataset.h"
#include "../runtime/engine.h"
#include "../runtime/loader.h"
#include "../runtime/planfile.h"
#include "../runtime/rng.h"
#include "cli.h"
#include "plan_opts.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Plans with augmentation: the loader's next batch into `images`, the step's aug.* draws */
static int feed_images(engine *e, sslc_loader *l, aug_binding *ab, int64_t step, uint64_t seed, char *err) {
    loader_batch b;
    if (loader_next(l, &b, err)) return -1;
    int v = engine_find(e, "images");
    const ir_shape *s = &engine_graph(e)->vals[v].shape;
    memcpy(engine_data(e, v), b.images, (size_t)ir_numel(s));
    int lab = engine_find(e, "labels"); /* SupCon */
    if (lab >= 0 && engine_graph(e)->vals[lab].dtype == DT_I64) {
        int64_t *d = engine_data(e, lab);
        for (int i = 0; i < b.n && i < s->d[0]; i++) d[i] = b.labels[i];
    }
    if (aug_draw(ab, seed, step, err)) return -1;
    for (int i = 0; i < ab->ninputs; i++) {
        int a = engine_find(e, ab->in[i].name);
        if (a >= 0) memcpy(engine_data(e, a), ab->in[i].data, (size_t)ab->in[i].numel * 4);
    }
    return 0;
}

/* Opens the dataset for a plan whose views come from `images`: its shape must match. */
static int open_data(const char *spec, const ir_graph *g, uint64_t seed, int64_t batch, sslc_dataset **ds, sslc_loader **l,
                     char *err) {
    const ir_shape *s = &g->vals[ir_find_value(g, "images")].shape;
    ds_options o = {.channels = (int)s->d[1], .seed = seed};
    if (!strncmp(spec, "fake:", 5)) o.height = (int)s->d[2], o.width = (int)s->d[3];
    if (ds_open(ds, spec, DS_TRAIN, &o, err)) return -1;
    const ds_info *in = ds_get_info(*ds);
    if (in->h != s->d[2] || in->w != s->d[3]) {
        snprintf(err, IR_ERRLEN, "%s has %dx%d images, the plan takes %lldx%lld (compile with --source-size %dx%d)", in->what,
                 in->h, in->w, (long long)s->d[2], (long long)s->d[3], in->h, in->w);
        return -1;
    }
    loader_cfg c = loader_defaults((int)batch);
    c.seed = seed;
    return loader_open(l, *ds, &c, err);
}

/* fake:N for plans whose views are inputs: per-step normal views and uniform labels, seeded
 * (plans with `images` get both from the loader) */
static int feed_fake(engine *e, int64_t step, uint64_t seed, int64_t nclasses, char *err) {
    int from_loader = engine_find(e, "images") >= 0;
    const ir_graph *g = engine_graph(e);
    sslc_rng r;
    rng_seed(&r, seed, 1000 + (uint64_t)step);
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || !strncmp(val->name, "opt.", 4) || !strncmp(val->name, "sched.", 6) ||
            !strncmp(val->name, "aug.", 4) || !strcmp(val->name, "images") || (from_loader && !strcmp(val->name, "labels")))
            continue;
        int64_t n = ir_numel(&val->shape);
        void *d = engine_data(e, v);
        if (!d) continue;
        if (val->dtype == DT_F32)
            for (int64_t i = 0; i < n; i++) ((float *)d)[i] = (float)rng_normal(&r);
        else if (val->dtype == DT_I64)
            for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i] = (int64_t)(rng_uniform(&r) * (double)nclasses);
        else {
            snprintf(err, IR_ERRLEN, "input '%s' (%s) cannot be fed from fake data", val->name, ir_dtype_name(val->dtype));
            return -1;
        }
    }
    return 0;
}

static void fmt_time(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) s = 0;
    int h = (int)(s / 3600), m = (int)(fmod(s, 3600) / 60), sec = (int)fmod(s, 60);
    if (h)
        snprintf(buf, n, "%dh%02dm", h, m);
    else
        snprintf(buf, n, "%dm%02ds", m, sec);
}

int cmd_run(int argc, char **argv) {
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'D'},      {"steps", required_argument, 0, 'n'},
        {"epochs", required_argument, 0, 'E'},    {"device", required_argument, 0, 'd'},
        {"seed", required_argument, 0, 's'},      {"log-every", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *data = "fake:512", *device = "cpu";
    int64_t steps = -1, epochs = -1, seed = 0, log_every = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'D': data = optarg; break;
        case 'd': device = optarg; break;
        case 'n':
            if (cli_parse_int("--steps", optarg, 1, INT64_MAX / 2, &steps)) return CLI_USAGE_ERROR;
            break;
        case 'E':
            if (cli_parse_int("--epochs", optarg, 1, 1000000, &epochs)) return CLI_USAGE_ERROR;
            break;
        case 's':
            if (cli_parse_int("--seed", optarg, 0, INT64_MAX, &seed)) return CLI_USAGE_ERROR;
            break;
        case 'L':
            if (cli_parse_int("--log-every", optarg, 1, INT64_MAX, &log_every)) return CLI_USAGE_ERROR;
            break;
        case 'h':
            printf("usage: sslc run FILE [--data SPEC] [--steps N | --epochs N] [--device cpu|ref] [--seed S] "
                   "[--log-every K]\n"
                   "  --data: plans with augmentation read any dataset (fashion-mnist[:DIR], cifar10:DIR,\n"
                   "          folder:DIR, fake:N) through the loader; plans compiled with --augment none\n"
                   "          take fake:N (random views)\n");
            return 0;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_error("run: unknown option '%s' (see sslc run --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_error("run: which plan file?");
    if (optind + 1 < argc) return cli_error("run: unexpected argument '%s'", argv[optind + 1]);
    if (steps > 0 && epochs > 0) return cli_error("run: give --steps or --epochs, not both");
    int64_t nfake = 0;
    engine_kind kind;
    char err[IR_ERRLEN], info[256] = "";
    if (engine_kind_parse(device, &kind, err)) return cli_error("%s", err);
    sslc_plan p;
    plan_init(&p);
    engine *e = NULL;
    sslc_dataset *ds = NULL;
    sslc_loader *ld = NULL;
    aug_binding ab;
    memset(&ab, 0, sizeof ab);
    int rc = CLI_RUN_ERROR;
    if (plan_read(&p, argv[optind], err)) goto fail;
    opt_config cfg;
    double lr, wd;
    int64_t batch;
    if (plan_opt_config(&p, &cfg, &lr, &wd, err) || plan_int_option(&p, "batch", &batch, err)) goto fail;
    if (aug_bind_plan(&ab, &p, err)) goto fail;
    if (!ab.nviews && (strncmp(data, "fake:", 5) || cli_parse_int("--data fake:N", data + 5, 1, INT64_MAX / 2, &nfake))) {
        plan_free(&p);
        aug_unbind(&ab);
        return strncmp(data, "fake:", 5)
                   ? cli_error("run: this plan takes its views as inputs (--augment none): only fake:N data, got '%s'", data)
                   : CLI_USAGE_ERROR;
    }
    if (ab.nviews && open_data(data, &p.train, (uint64_t)seed, batch, &ds, &ld, err)) goto fail;
    int64_t per_epoch = ld ? loader_batches_per_epoch(ld) : nfake / batch;
    if (per_epoch < 1) {
        snprintf(err, IR_ERRLEN, "fake:%lld has fewer images than one batch of %lld", (long long)nfake, (long long)batch);
        goto fail;
    }
    int64_t total = steps > 0 ? steps : (epochs > 0 ? epochs : 1) * per_epoch;
    e = engine_new_plan(kind, &p, info, sizeof info, err);
    if (!e) goto fail;
    printf("%s\n", info);
    if (engine_init_persistent(e, p.seed, err)) goto fail;
    int loss = engine_find(e, "loss");
    if (loss < 0) {
        snprintf(err, IR_ERRLEN, "plan has no value named 'loss'");
        goto fail;
    }
    if (log_every <= 0) log_every = total < 20 ? 1 : total / 20;
    double t0 = now(), tlast = t0;
    int64_t last_step = 0;
    for (int64_t s = 1; s <= total; s++) {
        opt_scalar sc[OPT_MAX_SCALARS];
        int ns = optimizer_step_inputs(&cfg, s, lr, wd, sc);
        for (int k = 0; k < ns; k++) {
            int v = engine_find(e, sc[k].name);
            if (v >= 0 && engine_set_f32(e, v, &sc[k].value, err)) goto fail;
        }
        if (ld && feed_images(e, ld, &ab, s - 1, (uint64_t)seed, err)) goto fail;
        if (feed_sched_step(e, &p, s, total, per_epoch, err) || feed_fake(e, s, (uint64_t)seed, 10, err) || engine_run(e, err))
            goto fail;
        float l;
        if (engine_get_f32(e, loss, &l, err)) goto fail;
        if (!isfinite(l)) {
            snprintf(err, IR_ERRLEN, "loss became %g at step %lld; stopping", (double)l, (long long)s);
            goto fail;
        }
        if (s % log_every == 0 || s == total) {
            double t = now(), ips = (double)(s - last_step) * (double)batch / (t - tlast + 1e-12);
            char eta[32];
            fmt_time((t - t0) / (double)s * (double)(total - s), eta, sizeof eta);
            printf("step %lld/%lld  epoch %lld  loss %.5f  lr %.4g  %.1f img/s  ETA %s\n", (long long)s,
                   (long long)total, (long long)((s - 1) / per_epoch + 1), (double)l, lr, ips, eta);
            fflush(stdout);
            tlast = t, last_step = s;
        }
    }
    printf("done: %lld steps in %.1f s\n", (long long)total, now() - t0);
    rc = 0;
fail:
    if (rc) fprintf(stderr, "sslc: %s\n", err);
    engine_free(e);
    loader_close(ld);
    ds_close(ds);
    aug_unbind(&ab);
    plan_free(&p);
    return rc;
}
