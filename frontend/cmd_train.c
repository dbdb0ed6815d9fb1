/* sslc train METHOD [compile options] [run options]: compile into a run directory, train, then
 * evaluate the encoder on the test split. With no options at all this is the main job: SimCLR on
 * Fashion-MNIST with a small CIFAR-stem ResNet-18 on the CPU. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/backend.h"
#include "../runtime/dataset.h"
#include "../runtime/fileio.h"
#include "cli.h"
#include "job.h"
#include "driver.h"
#include "eval.h"
#include "online_knn.h"
#include "rundir.h"
#include "train_recipe.h"
#include "train_loop.h"

typedef struct {
    const char *name;
    int has_arg;
} run_opt;

/* The end of a run: kNN and linear probe on the run directory's encoder (frontend/eval.h), on
 * the data it trained on. */
static int evaluate(const char *dir, const char *data, int knn, int64_t limit, engine_kind device, char *err) {
    eval_opts e = eval_defaults();
    e.source = dir, e.data = data, e.knn_k = knn, e.device = device, e.limit = limit;
    eval_result r;
    if (limit > 0)
        printf("evaluating the encoder on %s (at most %lld seeded images of each split, --eval-limit; train fits, test "
               "scores)\n", data, (long long)limit);
    else
        printf("evaluating the encoder on %s (train split fits, test split scores; --eval-limit N for a subset)\n", data);
    fflush(stdout);
    if (eval_run(&e, &r, err)) return -1;
    char line[256];
    eval_summary(&r, line, sizeof line);
    printf("%s  (%.1f s; %s)\n", line, r.seconds, r.json_path);
    return 0;
}

/* options that belong to the run (the rest go to the compiler) */
static const run_opt run_opts[] = {{"data", 1},  {"epochs", 1},           {"steps", 1},      {"out", 1},
                                   {"resume", 0}, {"device", 1},          {"log-every", 1},  {"checkpoint-every", 1},
                                   {"stop-after", 1}, {"knn", 1},         {"no-eval", 0},    {"precision", 1},
                                   {"online-knn", 1}, {"online-knn-every", 1}, {"eval-limit", 1}, {0, 0}};

static const run_opt *find_run_opt(const char *arg) {
    if (strncmp(arg, "--", 2)) return NULL;
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    for (const run_opt *o = run_opts; o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, name, n)) return o;
    return NULL;
}

/* the value of the last --opt V / --opt=V, "" for a flag without one, NULL if absent */
static const char *opt_value(int argc, char **argv, const char *opt) {
    size_t n = strlen(opt);
    const char *v = NULL;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], opt, n) && (!argv[i][n] || argv[i][n] == '='))
            v = argv[i][n] == '=' ? argv[i] + n + 1 : i + 1 < argc ? argv[i + 1] : "";
    return v;
}
static int has_opt(int argc, char **argv, const char *opt) { return opt_value(argc, argv, opt) != NULL; }

/* --backbone FILE.onnx (or a path): the model fixes its width and input size */
static int imported_backbone(int argc, char **argv) {
    const char *b = opt_value(argc, argv, "--backbone");
    return b && (strstr(b, ".onnx") || strchr(b, '/'));
}

static void usage(void) {
    printf("usage: sslc train METHOD [compile options] [--data SPEC] [--epochs N | --steps N] [--out DIR]\n"
           "                  [--device cpu|cuda|ref] [--precision f32|tf32|bf16] [--seed S] [--knn K] [--no-eval]\n"
           "                  [--log-every K] [--checkpoint-every K] [--stop-after K]\n"
           "                  [--online-knn TRAIN:TEST|off] [--online-knn-every STEPS] [--eval-limit N]\n"
           "       sslc train [METHOD] --resume [DIR] [the same options]\n"
           "  compiles METHOD into DIR/plan.plan (any `sslc compile` option; see sslc compile --help),\n"
           "  prints the resolved recipe, trains it (as `sslc run`: checkpoints, metrics.jsonl, Ctrl-C\n"
           "  checkpoints and exits), then prints linear-probe and kNN top-1 of the encoder on the test\n"
           "  split (as `sslc eval`).\n"
           "  Defaults: --data " TRAIN_DEFAULT_DATA ", --epochs %d, --out runs/METHOD (runs/METHOD-2, ... when\n"
           "  that holds a run), --backbone resnet18 --width " TRAIN_DEFAULT_WIDTH " (simclr: " TRAIN_MAIN_JOB_WIDTH "), image size\n"
           "  and channels of the data (--source-size: the data's when it differs from --image-size),\n"
           "  --optimizer " TRAIN_DEFAULT_OPTIMIZER " --lr " TRAIN_DEFAULT_LR " --weight-decay " TRAIN_DEFAULT_WD
           " (unless --optimizer is given),\n"
           "  for simclr (without --optimizer) --lr " TRAIN_MAIN_JOB_LR " --warmup-epochs " TRAIN_MAIN_JOB_WARMUP ",\n"
           "  for simclr/simclrv2 --set temperature=0.2, for vicreg --set hidden_dim=1024 --set projection_dim=1024\n"
           "  and (without --optimizer) --lr 3e-3 --warmup-epochs 0.5, for barlow_twins --set hidden_dim=2048\n"
           "  --set projection_dim=2048,\n"
           "  for nnclr --set queue_size=16384, for mae --backbone vit-tiny --adam-beta2 0.95 --weight-decay 0.05\n"
           "  (`sslc methods METHOD` shows both commands' defaults), --knn 20.\n"
           "  --log-every K: a progress line every K steps (default about 20 a run)\n"
           "  --checkpoint-every K: also checkpoint every K steps (default once an epoch, at the end, on Ctrl-C)\n"
           "  --stop-after K: stop after K steps of this invocation, with a checkpoint\n"
           "  --resume DIR: continue the run in DIR (or --out DIR) from its checkpoint with its own plan;\n"
           "          compile options given must match the run's (the first that differs is named), and\n"
           "          METHOD, if given, must be the run's method\n"
           "  --precision bf16 compiles the plan in bf16 mixed precision (see sslc compile --help); simclr on the\n"
           "  cpu backend is bf16 by default where the CPU has avx512_bf16 (--precision f32: float32).\n"
           "  While training: kNN top-1 (k = --knn) of the current encoder on seeded subsets of %d train / %d test\n"
           "  images at each epoch's end (--online-knn-every STEPS to change; --online-knn off to skip), printed\n"
           "  and written to DIR/metrics.jsonl. --eval-limit N: the final evaluation on at most N seeded images\n"
           "  of each split (default: all). `sslc report DIR` draws the run as one HTML page.\n"
           "  --data folder:DIR trains on your own PNG/JPEG images, resized to --image-size (README \"Your own images\").\n"
           "  mpirun -np N sslc train ...: N data-parallel ranks (the plan is compiled for N; --batch per rank).\n",
           TRAIN_DEFAULT_EPOCHS, ONLINE_KNN_DEFAULT_TRAIN, ONLINE_KNN_DEFAULT_TEST);
}

/* --online-knn TRAIN:TEST (subset sizes) or off */
static int parse_online_knn(const char *v, int64_t *ntrain, int64_t *ntest) {
    if (!strcmp(v, "off")) {
        *ntrain = *ntest = 0;
        return 0;
    }
    char a[32];
    const char *colon = strchr(v, ':');
    if (!colon || (size_t)(colon - v) >= sizeof a) {
        cli_error("--online-knn expects TRAIN:TEST image counts (e.g. %d:%d) or off, got '%s'", ONLINE_KNN_DEFAULT_TRAIN,
                  ONLINE_KNN_DEFAULT_TEST, v);
        return -1;
    }
    memcpy(a, v, (size_t)(colon - v));
    a[colon - v] = 0;
    return cli_parse_int("--online-knn (train images)", a, 1, INT64_MAX / 4, ntrain) ||
                   cli_parse_int("--online-knn (test images)", colon + 1, 1, INT64_MAX / 4, ntest)
               ? -1
               : 0;
}

/* fake:N without CxHxW takes the plan's image shape */
static int shapeless_fake(const char *spec) { return !strncmp(spec, "fake:", 5) && !strchr(spec + 5, ':'); }

/* What `sslc train` learns from its data before compiling: the image size and channels (the
 * defaults of --image-size / --channels), the train split's size, whether it has labels. */
typedef struct {
    int c, h, w;
    int64_t n;
    int has_labels;
    int resizable; /* folder: and fake: data come at any size; the others at their own */
    char what[96];
} data_facts;

/* h x w (0 x 0: the images' own) asks folder: data for that size. */
static int data_facts_get(const char *spec, int h, int w, data_facts *d, char *err) {
    sslc_dataset *ds;
    ds_options o = {.shape_only = 1, .height = h, .width = w};
    if (ds_open(&ds, spec, DS_TRAIN, &o, err)) return -1;
    const ds_info *in = ds_get_info(ds);
    d->c = in->c, d->h = in->h, d->w = in->w, d->n = in->n, d->has_labels = in->has_labels;
    d->resizable = !strncmp(spec, "folder:", 7) || shapeless_fake(spec);
    snprintf(d->what, sizeof d->what, "%s", in->what);
    ds_close(ds);
    return 0;
}

/* --source-size N|HxW, else --image-size N, as given (0 x 0 when absent or unreadable: the
 * compiler's parser reports a bad value) */
static void requested_size(int argc, char **argv, int *h, int *w) {
    const char *src = opt_value(argc, argv, "--source-size"), *size = opt_value(argc, argv, "--image-size");
    int64_t hh = 0, ww = 0;
    char ignored[CLI_ERRLEN];
    if (src ? cli_parse_hw_e("--source-size", src, &hh, &ww, ignored)
            : !size || cli_parse_int_e("--image-size", size, 1, 65536, &hh, ignored))
        hh = ww = 0;
    else if (!src)
        ww = hh;
    *h = (int)hh, *w = (int)ww;
}

/* --resume without a directory: never guess which run (runs/METHOD may be an older, finished
 * one); name the runs of the method that are here instead */
static int which_run(const method_def *m) {
    if (!m) return cli_error("train: --resume: which run? give its directory: sslc train --resume DIR");
    char found[512] = "", last[300] = "", p[300];
    size_t k = 0;
    int n = 0;
    for (int i = 1; i < 1000; i++) {
        if (i == 1)
            snprintf(p, sizeof p, "runs/%s/%s", m->name, RUN_CHECKPOINT);
        else
            snprintf(p, sizeof p, "runs/%s-%d/%s", m->name, i, RUN_CHECKPOINT);
        struct stat st;
        if (stat(p, &st)) continue;
        *strrchr(p, '/') = 0;
        snprintf(last, sizeof last, "%s", p);
        if (n++ < 6) k += (size_t)snprintf(found + k, sizeof found - k, "%s%s", k ? ", " : "", p);
    }
    if (!n) return cli_error("train: --resume: which run? give its directory (sslc train --resume DIR); no runs/%s* run is here", m->name);
    return cli_error("train: --resume: which run? give its directory, e.g. sslc train --resume %s (%s run%s here: %s%s)", last,
                     m->name, n > 1 ? "s" : "", found, n > 6 ? ", ..." : "");
}


/* Every --option among the compile arguments must be a compile option (getopt_long also takes
 * a unique prefix); else one line naming the nearest option of either kind. */
static int check_compile_option_names(int cargc, char **cargv, const struct option *run_longopts) {
    for (int i = 1; i < cargc; i++) {
        if (strncmp(cargv[i], "--", 2) || !cargv[i][2]) continue;
        size_t n = strcspn(cargv[i] + 2, "=");
        int known = 0;
        for (const struct option *o = compile_options(); o->name && !known; o++) known = !strncmp(o->name, cargv[i] + 2, n);
        if (!known) return cli_unknown_option("train", cargv[i], compile_options(), run_longopts);
        const struct option *o = compile_options();
        while (o->name && strncmp(o->name, cargv[i] + 2, n)) o++;
        if (o->has_arg == required_argument && !strchr(cargv[i], '=')) i++; /* its value */
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    /* split argv: run options here, compile options (and METHOD) to parse_compile_args */
    char **cargv = calloc((size_t)argc + 16, sizeof *cargv), **rargv = calloc((size_t)argc + 2, sizeof *rargv);
    char **full = calloc((size_t)argc + 40, sizeof *full);
    int cargc = 0, rargc = 0, rc = CLI_USAGE_ERROR;
    char err[IR_ERRLEN], dims[3][32], outbuf[4096];
    char plan_path[4200]; /* o.plan_path points here until train_run returns */
    int lock_fd = -1;     /* the run directory's lock (frontend/rundir.h) */
    ir_comm comm = {.size = 1};
    int job = 0; /* comm is open */
    int made_dir = 0;     /* this command made the run directory: removed if it fails before training */
    const char *resume_dir = NULL;
    sslc_plan run_plan, recipe;
    plan_init(&run_plan);
    plan_init(&recipe);
    if (!cargv || !rargv || !full) {
        rc = cli_error("out of memory");
        goto out;
    }
    train_opts o;
    memset(&o, 0, sizeof o);
    o.seed = -1;
    cargv[cargc++] = argv[0];
    rargv[rargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            rc = 0;
            goto out;
        }
        /* --resume [DIR]: the following argument is the run to resume unless it is a method's name
         * (and no directory) */
        if (!strcmp(argv[i], "--resume") || !strncmp(argv[i], "--resume=", 9)) {
            o.resume = 1;
            if (argv[i][8] == '=')
                resume_dir = argv[i] + 9;
            else if (i + 1 < argc && argv[i + 1][0] != '-' && (sslc_is_dir(argv[i + 1]) || !method_find(argv[i + 1])))
                resume_dir = argv[++i];
            continue;
        }
        const run_opt *ro = find_run_opt(argv[i]);
        if (!ro) {
            cargv[cargc++] = argv[i];
            continue;
        }
        rargv[rargc++] = argv[i];
        if (ro->has_arg && !strchr(argv[i], '=') && i + 1 < argc) rargv[rargc++] = argv[++i];
    }
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'D'},   {"steps", required_argument, 0, 'n'},
        {"epochs", required_argument, 0, 'E'}, {"device", required_argument, 0, 'd'},
        {"log-every", required_argument, 0, 'L'}, {"out", required_argument, 0, 'o'},
        {"resume", optional_argument, 0, 'r'}, {"checkpoint-every", required_argument, 0, 'k'},
        {"stop-after", required_argument, 0, 'S'}, {"knn", required_argument, 0, 'K'},
        {"no-eval", no_argument, 0, 'N'},      {"precision", required_argument, 0, 'P'},
        {"online-knn", required_argument, 0, 'O'}, {"online-knn-every", required_argument, 0, 'V'},
        {"eval-limit", required_argument, 0, 'I'}, {0, 0, 0, 0}};
    const char *device = "cpu";
    int64_t knn = 20, eval_limit = 0;
    o.knn_train = ONLINE_KNN_DEFAULT_TRAIN, o.knn_test = ONLINE_KNN_DEFAULT_TEST;
    int no_eval = 0, c, bf16 = 0, precision_given = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(rargc, rargv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'D': o.data = optarg; break;
        case 'd': device = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'N': no_eval = 1; break;
        case 'P':
            precision_given = 1;
            bf16 = !strcmp(optarg, "bf16"); /* a compile option: the plan's graph changes */
            if (!bf16 && engine_precision_parse(optarg, &o.engine_flags, err)) {
                rc = cli_error("%s", err);
                goto out;
            }
            break;
        case 'n':
            if (cli_parse_int("--steps", optarg, 1, INT64_MAX / 4, &o.steps)) goto out;
            break;
        case 'E':
            if (cli_parse_int("--epochs", optarg, 1, 1000000, &o.epochs)) goto out;
            break;
        case 'L':
            if (cli_parse_int("--log-every", optarg, 1, INT64_MAX, &o.log_every)) goto out;
            break;
        case 'k':
            if (cli_parse_int("--checkpoint-every", optarg, 1, INT64_MAX, &o.ckpt_every)) goto out;
            break;
        case 'S':
            if (cli_parse_int("--stop-after", optarg, 1, INT64_MAX, &o.stop_after)) goto out;
            break;
        case 'K':
            if (cli_parse_int("--knn", optarg, 1, 100000, &knn)) goto out;
            break;
        case 'O':
            if (parse_online_knn(optarg, &o.knn_train, &o.knn_test)) goto out;
            break;
        case 'V':
            if (cli_parse_int("--online-knn-every", optarg, 1, INT64_MAX, &o.knn_every)) goto out;
            break;
        case 'I':
            if (cli_parse_int("--eval-limit", optarg, 1, INT64_MAX, &eval_limit)) goto out;
            break;
        case ':': rc = cli_error("option %s needs a value", rargv[optind - 1]); goto out;
        default: rc = cli_unknown_option("train", rargv[optind - 1], longopts, compile_options()); goto out;
        }
    }
    o.knn_k = (int)knn;
    if (o.steps > 0 && o.epochs > 0) {
        rc = cli_error("train: give --steps or --epochs, not both");
        goto out;
    }
    if (engine_kind_parse(device, &o.device, err)) {
        rc = cli_error("%s", err);
        goto out;
    }
    if ((rc = check_compile_option_names(cargc, cargv, longopts))) goto out;
    rc = CLI_USAGE_ERROR;
    /* the method: the one positional argument among the compile arguments */
    int method_at = 0;
    for (int i = 1; i < cargc; i++) {
        if (!strcmp(cargv[i], "-o")) {
            i++;
            continue;
        }
        if (cargv[i][0] == '-') {
            const struct option *co = compile_options();
            size_t n = strcspn(cargv[i] + 2, "=");
            while (co->name && strncmp(co->name, cargv[i] + 2, n)) co++;
            if (!strncmp(cargv[i], "--", 2) && co->name && co->has_arg == required_argument && !strchr(cargv[i], '=')) i++;
            continue;
        }
        method_at = i;
        break;
    }
    const method_def *m = NULL;
    if (method_at && !(m = cli_find_method(cargv[method_at], err))) {
        rc = cli_error("%s", err);
        goto out;
    }
    if (!m && !o.resume) {
        rc = cli_error("train: which method? (e.g. sslc train simclr; see sslc methods)");
        goto out;
    }
    if (job_open(&comm, err)) {
        rc = cli_error("%s", err);
        goto out;
    }
    job = 1;
    o.comm = &comm;
    if (o.resume) {
        if (resume_dir && o.out_dir && strcmp(resume_dir, o.out_dir)) {
            rc = cli_error("train: --resume %s --out %s: give the run directory once", resume_dir, o.out_dir);
            goto out;
        }
        if (bf16) {
            rc = cli_error("train: --resume continues the plan in %s as compiled; --precision bf16 is a compile option",
                           resume_dir ? resume_dir : o.out_dir ? o.out_dir : "the run");
            goto out;
        }
        if (resume_dir) o.out_dir = resume_dir;
        if (!o.out_dir) {
            rc = which_run(m);
            goto out;
        }
        if (comm.rank == 0 && rundir_lock(o.out_dir, 0, NULL, &lock_fd, err)) {
            rc = cli_error("%s", err);
            goto out;
        }
        o.dir_locked = 1;
        snprintf(plan_path, sizeof plan_path, "%s/%s", o.out_dir, RUN_PLAN);
        if (plan_read(&run_plan, plan_path, err)) {
            rc = cli_error("train: --resume: %s is not a run to resume (%s)", o.out_dir, err);
            goto out;
        }
        /* compile options beyond METHOD: parse them as a fresh run would, then compare */
        int has_options = cargc > (method_at ? 2 : 1);
        compile_args a;
        if (has_options) {
            int n = 0;
            for (int i = 0; i < cargc; i++) full[n++] = cargv[i];
            if (!method_at) full[n++] = run_plan.method;
            const char *dash_o = NULL;
            if (parse_compile_args(n, full, &a, &dash_o, err)) {
                rc = cli_error("%s", err);
                goto out;
            }
        }
        if (train_resume_check(&run_plan, o.out_dir, m, has_options ? &a : NULL, cargc, cargv, err)) {
            rc = cli_error("%s", err);
            goto out;
        }
        if (comm.rank == 0) train_print_recipe(&run_plan, o.data, o.epochs, o.steps);
    } else {
        if (!o.epochs && !o.steps) o.epochs = TRAIN_DEFAULT_EPOCHS;
        /* the recipe line says which precision the run got; --precision f32 keeps float32 */
        if (!precision_given && !strcmp(device, "cpu") && train_default_bf16(m) && backend_cpu_has_bf16()) bf16 = 1;
        if (!o.data) o.data = TRAIN_DEFAULT_DATA;
        /* train's defaults go first, so that the user's options override them */
        int n = 0;
        full[n++] = argv[0];
        int imported = imported_backbone(cargc, cargv);
        if (!imported && !has_opt(cargc, cargv, "--width")) full[n++] = "--width", full[n++] = (char *)train_default_width(m);
        /* the data before compiling: its shape gives the defaults, and what it cannot do is
         * refused here, naming the option that fixes it */
        data_facts df;
        int rq_h, rq_w;
        requested_size(cargc, cargv, &rq_h, &rq_w);
        if (data_facts_get(o.data, rq_h, rq_w, &df, err)) {
            rc = cli_error("%s", err);
            goto out;
        }
        snprintf(dims[0], sizeof dims[0], "%d", df.h < df.w ? df.h : df.w);
        snprintf(dims[1], sizeof dims[1], "%d", df.c == 1 ? 1 : 3);
        snprintf(dims[2], sizeof dims[2], "%dx%d", df.h, df.w);
        int have_size = has_opt(cargc, cargv, "--image-size"), have_src = has_opt(cargc, cargv, "--source-size");
        if (!imported && !have_size && !shapeless_fake(o.data)) full[n++] = "--image-size", full[n++] = dims[0];
        if (!imported && !has_opt(cargc, cargv, "--channels") && !shapeless_fake(o.data)) full[n++] = "--channels", full[n++] = dims[1];
        /* images of another size than the plan's: the graph resizes them (folder: data is
         * resized by the loader to whatever the plan takes) */
        const char *aug = opt_value(cargc, cargv, "--augment");
        if (!have_src && !(aug && !strcmp(aug, "none")) && (df.resizable ? !have_size && df.h != df.w
                                       : df.h != df.w || (have_size && !imported && rq_h != df.h)))
            full[n++] = "--source-size", full[n++] = dims[2];
        if (!has_opt(cargc, cargv, "--optimizer")) {
            full[n++] = "--optimizer", full[n++] = TRAIN_DEFAULT_OPTIMIZER;
            if (!has_opt(cargc, cargv, "--weight-decay")) full[n++] = "--weight-decay", full[n++] = TRAIN_DEFAULT_WD;
        }
        for (const char *const *t = train_default_args(m, has_opt(cargc, cargv, "--optimizer")); *t; t++)
            full[n++] = (char *)*t;
        for (const char *const *t = train_default_sets(m); *t; t++) full[n++] = "--set", full[n++] = (char *)*t;
        for (int i = 1; i < cargc; i++) full[n++] = cargv[i];
        if (bf16) full[n++] = "--precision", full[n++] = "bf16";
        compile_args a;
        const char *dash_o = NULL;
        int prc = parse_compile_args(n, full, &a, &dash_o, err);
        if (prc) {
            if (prc < 0) {
                usage();
                rc = 0;
            } else
                rc = cli_error("%s", err);
            goto out;
        }
        if (dash_o) {
            rc = cli_error("train: the plan goes to DIR/%s (--out DIR), not -o", RUN_PLAN);
            goto out;
        }
        /* what the loader and the compiled step would refuse after compiling, said now with the
         * option that fixes it */
        int augmented = strcmp(a.augment, "none") != 0;
        if (!augmented && strncmp(o.data, "fake:", 5)) {
            rc = cli_error("train: --augment none takes its views as inputs: only fake:N data, not %s (drop --augment none "
                           "to train on it)", o.data);
            goto out;
        }
        if (augmented && have_src && !df.resizable && (a.source_h != df.h || a.source_w != df.w)) {
            rc = cli_error("train: %s has %dx%d (HxW) images, --source-size says %lldx%lld: give --source-size %dx%d or "
                           "leave it out", o.data, df.h, df.w, (long long)a.source_h, (long long)a.source_w, df.h, df.w);
            goto out;
        }
        if (o.seed < 0) o.seed = (int64_t)a.seed;
        int64_t src_h = a.source_h ? a.source_h : a.spec.backbone.image_size;
        int64_t src_w = a.source_w ? a.source_w : a.spec.backbone.image_size;
        if (!df.resizable && augmented && !have_src && (src_h != df.h || src_w != df.w)) {
            /* the data's own size is the source: the random crop resizes it to --image-size */
            a.source_h = df.h, a.source_w = df.w;
            src_h = df.h, src_w = df.w;
        }
        if (!df.resizable && augmented && (src_h != df.h || src_w != df.w)) {
            rc = cli_error("%s has %dx%d images (HxW), the plan would take %lldx%lld: give --source-size %dx%d (the plan "
                           "then resizes them to --image-size)",
                           df.what, df.h, df.w, (long long)src_h, (long long)src_w, df.h, df.w);
            goto out;
        }
        if (df.n < a.spec.batch * comm.size) {
            rc = cli_error("%s has %lld images, fewer than one batch of %lld%s: give --batch %lld or less", df.what,
                           (long long)df.n, (long long)(a.spec.batch * comm.size), comm.size > 1 ? " (all ranks)" : "", (long long)(df.n / comm.size));
            goto out;
        }
        if (!has_opt(cargc, cargv, "--ranks")) a.spec.ranks = comm.size; /* the job's size */
        if (!o.out_dir && comm.rank != 0) { /* rank 0 names the directory (below) */
            if (comm.ops->broadcast(comm.self, outbuf, (int64_t)sizeof outbuf, DT_U8, 0, err)) {
                rc = job_fail(&comm, err, CLI_RUN_ERROR), job = 0;
                goto out;
            }
            o.out_dir = outbuf;
        } else if (!o.out_dir) { /* runs/METHOD, or the first runs/METHOD-N that does not exist yet */
            char base[sizeof outbuf];
            snprintf(base, sizeof base, "runs/%s", m->name);
            if (rundir_make_fresh(base, outbuf, sizeof outbuf, err)) {
                rc = cli_error("%s", err);
                goto out;
            }
            made_dir = 1;
            o.out_dir = outbuf;
            if (comm.size > 1 && comm.ops->broadcast(comm.self, outbuf, (int64_t)sizeof outbuf, DT_U8, 0, err)) {
                rc = job_fail(&comm, err, CLI_RUN_ERROR), job = 0;
                goto out;
            }
        } else if (comm.rank == 0)
            made_dir = !sslc_is_dir(o.out_dir);
        /* held through compile, run and evaluation: no other run may use the directory meanwhile
         * (rank 0 holds it for the job) */
        if (comm.rank == 0 && rundir_lock(o.out_dir, 1, NULL, &lock_fd, err)) {
            rc = cli_error("%s", err);
            goto out;
        }
        o.dir_locked = 1;
        char ck[4200];
        snprintf(ck, sizeof ck, "%s/%s", o.out_dir, RUN_CHECKPOINT);
        struct stat st;
        if (!stat(ck, &st)) {
            made_dir = 0;
            rc = cli_error("%s already holds a run; continue it with --resume or choose another --out", o.out_dir);
            goto out;
        }
        if (compile_args_options(&recipe, &a, err)) {
            rc = cli_error("%s", err);
            goto out;
        }
        if (comm.rank == 0) train_print_recipe(&recipe, o.data, o.epochs, o.steps);
        snprintf(plan_path, sizeof plan_path, "%s/%s", o.out_dir, RUN_PLAN);
        printf("compiling %s (%s, width %g, %dx%d, batch %lld) into %s\n", a.method->name, a.spec.backbone.name,
               a.spec.backbone.width, a.spec.backbone.image_size, a.spec.backbone.image_size, (long long)a.spec.batch,
               plan_path);
        fflush(stdout);
        /* rank 0 writes the plan; the others read it once it is there */
        int crc = comm.rank == 0 ? compile_to_file(&a, plan_path, NULL, err) : 0;
        if (crc || comm.ops->barrier(comm.self, err)) {
            rc = job_fail(&comm, err, CLI_RUN_ERROR), job = 0;
            goto out;
        }
        o.plan_path = plan_path;
    }
    train_result r;
    if (train_run(&o, &r, err)) {
        rc = job_fail(&comm, err, CLI_RUN_ERROR), job = 0;
        goto out;
    }
    made_dir = 0; /* trained: the directory is the user's now */
    rc = r.signal ? 128 + r.signal : 0;
    if (r.interrupted || no_eval || comm.rank != 0) goto out; /* rank 0 evaluates */
    if (!r.has_labels) {
        printf("no evaluation: %s has no labels (no class sub-folders); sslc embed %s --data %s -o F.npy writes "
               "the features\n", r.data, o.out_dir, r.data);
        goto out;
    }
    if (evaluate(o.out_dir, r.data, (int)knn, eval_limit, o.device, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        rc = CLI_RUN_ERROR;
    }
out:
    if (made_dir && rc) rundir_discard(o.out_dir);
    if (lock_fd >= 0) close(lock_fd);
    if (job && rc && rc < 128 && comm.size > 1) comm_abort(&comm, rc); /* the other ranks may wait on this one */
    if (job) job_close(&comm);
    plan_free(&run_plan);
    plan_free(&recipe);
    free(cargv);
    free(rargv);
    free(full);
    return rc;
}
