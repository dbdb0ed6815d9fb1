/* sslc train METHOD [compile options] [run options]: compile into a run directory, train, then
 * evaluate the encoder on the test split. With no options at all this is the main job: SimCLR on
 * Fashion-MNIST with a small CIFAR-stem ResNet-18 on the CPU. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/dataset.h"
#include "cli.h"
#include "job.h"
#include "driver.h"
#include "eval.h"
#include "rundir.h"
#include "train_loop.h"

/* Defaults of `sslc train` where they differ from `sslc compile`'s: a backbone small enough for
 * a CPU (ResNet-18 at a quarter width: 16 base channels), the dataset's image size and channels,
 * and a schedule that learns within a few epochs. */
#define TRAIN_DEFAULT_DATA "fashion-mnist"
#define TRAIN_DEFAULT_EPOCHS 4
#define TRAIN_DEFAULT_WIDTH "0.25"
#define TRAIN_DEFAULT_OPTIMIZER "adamw"
#define TRAIN_DEFAULT_WD "1e-6"

typedef struct {
    const char *name;
    int has_arg;
} run_opt;

/* The end of a run: kNN and linear probe on the run directory's encoder (frontend/eval.h), on
 * the data it trained on. */
static int evaluate(const char *dir, const char *data, int knn, engine_kind device, char *err) {
    eval_opts e = eval_defaults();
    e.source = dir, e.data = data, e.knn_k = knn, e.device = device;
    eval_result r;
    printf("evaluating the encoder on %s (train split fits, test split scores)\n", data);
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
                                   {0, 0}};

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
           "                  [--resume] [--device cpu|cuda|ref] [--precision f32|tf32] [--seed S] [--knn K] [--no-eval]\n"
           "  compiles METHOD into DIR/plan.plan (any `sslc compile` option; see sslc compile --help),\n"
           "  trains it (as `sslc run`: checkpoints, metrics.jsonl, Ctrl-C checkpoints and exits), then\n"
           "  prints linear-probe and kNN top-1 of the encoder on the test split (as `sslc eval`).\n"
           "  Defaults: --data " TRAIN_DEFAULT_DATA ", --epochs %d, --out runs/METHOD (runs/METHOD-2, ... when\n"
           "  that holds a run), --backbone resnet18 --width " TRAIN_DEFAULT_WIDTH ", image size and channels\n"
           "  of the data, --optimizer adamw --lr 1e-3 --weight-decay 1e-6 (unless --optimizer is given),\n"
           "  for simclr/simclrv2 --set temperature=0.2, --knn 20. --resume continues DIR's run (its plan; no compile options).\n"
           "  mpirun -np N sslc train ...: N data-parallel ranks (the plan is compiled for N; --batch per rank).\n",
           TRAIN_DEFAULT_EPOCHS);
}

/* The data's image size and channels, the defaults of --image-size / --channels. */
static int data_shape(const char *spec, int *c, int *h, int *w, char *err) {
    sslc_dataset *ds;
    ds_options o = {0};
    if (ds_open(&ds, spec, DS_TRAIN, &o, err)) return -1;
    const ds_info *in = ds_get_info(ds);
    *c = in->c, *h = in->h, *w = in->w;
    ds_close(ds);
    return 0;
}

int cmd_train(int argc, char **argv) {
    /* split argv: run options here, compile options (and METHOD) to parse_compile_args */
    char **cargv = calloc((size_t)argc + 16, sizeof *cargv), **rargv = calloc((size_t)argc + 2, sizeof *rargv);
    int cargc = 0, rargc = 0, rc = CLI_USAGE_ERROR;
    char err[IR_ERRLEN], dims[3][32], outbuf[4096];
    char plan_path[4200]; /* o.plan_path points here until train_run returns */
    int lock_fd = -1;     /* the run directory's lock (frontend/rundir.h) */
    ir_comm comm = {.size = 1};
    int job = 0; /* comm is open */
    if (!cargv || !rargv) {
        free(cargv);
        free(rargv);
        return cli_error("out of memory");
    }
    cargv[cargc++] = argv[0];
    rargv[rargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            rc = 0;
            goto out;
        }
        const run_opt *o = find_run_opt(argv[i]);
        if (!o) {
            cargv[cargc++] = argv[i];
            continue;
        }
        rargv[rargc++] = argv[i];
        if (o->has_arg && !strchr(argv[i], '=') && i + 1 < argc) rargv[rargc++] = argv[++i];
    }
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'D'},   {"steps", required_argument, 0, 'n'},
        {"epochs", required_argument, 0, 'E'}, {"device", required_argument, 0, 'd'},
        {"log-every", required_argument, 0, 'L'}, {"out", required_argument, 0, 'o'},
        {"resume", no_argument, 0, 'r'},       {"checkpoint-every", required_argument, 0, 'k'},
        {"stop-after", required_argument, 0, 'S'}, {"knn", required_argument, 0, 'K'},
        {"no-eval", no_argument, 0, 'N'},      {"precision", required_argument, 0, 'P'}, {0, 0, 0, 0}};
    train_opts o;
    memset(&o, 0, sizeof o);
    o.seed = -1;
    const char *device = "cpu";
    int64_t knn = 20;
    int no_eval = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(rargc, rargv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'D': o.data = optarg; break;
        case 'd': device = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'r': o.resume = 1; break;
        case 'N': no_eval = 1; break;
        case 'P':
            if (engine_precision_parse(optarg, &o.engine_flags, err)) {
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
        case ':': rc = cli_error("option %s needs a value", rargv[optind - 1]); goto out;
        default: rc = cli_error("train: unknown option '%s'", rargv[optind - 1]); goto out;
        }
    }
    if (o.steps > 0 && o.epochs > 0) {
        rc = cli_error("train: give --steps or --epochs, not both");
        goto out;
    }
    if (engine_kind_parse(device, &o.device, err)) {
        rc = cli_error("%s", err);
        goto out;
    }
    /* the method: the one positional argument among the compile arguments */
    const char *method = NULL;
    for (int i = 1; i < cargc; i++)
        if (cargv[i][0] != '-' && (i == 1 || cargv[i - 1][0] != '-' || strchr(cargv[i - 1], '=') ||
                                   !strcmp(cargv[i - 1], "--nesterov"))) {
            method = cargv[i];
            break;
        }
    if (!method) {
        rc = cli_error("train: which method? (e.g. sslc train simclr; see sslc methods)");
        goto out;
    }
    if (!o.resume && !o.epochs && !o.steps) o.epochs = TRAIN_DEFAULT_EPOCHS;
    if (job_open(&comm, err)) {
        rc = cli_error("%s", err);
        goto out;
    }
    job = 1;
    o.comm = &comm;
    if (!o.out_dir && comm.rank != 0) { /* rank 0 names the directory (below) */
        if (comm.ops->broadcast(comm.self, outbuf, (int64_t)sizeof outbuf, DT_U8, 0, err)) {
            rc = job_fail(&comm, err, CLI_RUN_ERROR), job = 0;
            goto out;
        }
        o.out_dir = outbuf;
    }
    if (!o.out_dir) { /* runs/METHOD, or the first runs/METHOD-N that does not exist yet */
        snprintf(outbuf, sizeof outbuf, "runs/%s", method);
        if (!o.resume) {
            char base[sizeof outbuf];
            snprintf(base, sizeof base, "runs/%s", method);
            if (rundir_make_fresh(base, outbuf, sizeof outbuf, err)) {
                rc = cli_error("%s", err);
                goto out;
            }
        }
        o.out_dir = outbuf;
        if (comm.size > 1 && comm.ops->broadcast(comm.self, outbuf, (int64_t)sizeof outbuf, DT_U8, 0, err)) {
            rc = job_fail(&comm, err, CLI_RUN_ERROR), job = 0;
            goto out;
        }
    }
    /* held through compile, run and evaluation: no other run may use the directory meanwhile
     * (rank 0 holds it for the job) */
    if (comm.rank == 0 && rundir_lock(o.out_dir, !o.resume, NULL, &lock_fd, err)) {
        rc = cli_error("%s", err);
        goto out;
    }
    o.dir_locked = 1;
    if (o.resume) {
        if (cargc > 2) {
            rc = cli_error("train: --resume continues the plan in %s; compile options are not allowed", o.out_dir);
            goto out;
        }
    } else {
        char ck[4200];
        snprintf(ck, sizeof ck, "%s/%s", o.out_dir, RUN_CHECKPOINT);
        struct stat st;
        if (!stat(ck, &st)) {
            rc = cli_error("%s already holds a run; continue it with --resume or choose another --out", o.out_dir);
            goto out;
        }
        if (!o.data) o.data = TRAIN_DEFAULT_DATA;
        /* train's defaults go first, so that the user's options override them */
        char **full = calloc((size_t)cargc + 24, sizeof *full);
        if (!full) {
            rc = cli_error("out of memory");
            goto out;
        }
        int n = 0;
        full[n++] = argv[0];
        int imported = imported_backbone(cargc, cargv);
        if (!imported && !has_opt(cargc, cargv, "--width")) full[n++] = "--width", full[n++] = TRAIN_DEFAULT_WIDTH;
        if (!has_opt(cargc, cargv, "--image-size") || !has_opt(cargc, cargv, "--channels")) {
            int ch, h, w;
            if (data_shape(o.data, &ch, &h, &w, err)) {
                free(full);
                rc = cli_error("%s", err);
                goto out;
            }
            snprintf(dims[0], sizeof dims[0], "%d", h < w ? h : w);
            snprintf(dims[1], sizeof dims[1], "%d", ch == 1 ? 1 : 3);
            snprintf(dims[2], sizeof dims[2], "%dx%d", h, w);
            if (!imported) full[n++] = "--image-size", full[n++] = dims[0], full[n++] = "--channels", full[n++] = dims[1];
            if (h != w && !has_opt(cargc, cargv, "--source-size")) full[n++] = "--source-size", full[n++] = dims[2];
        }
        /* the short-run recipe (measured on the main job, README "Training runs"): AdamW at
         * PySSL's example rate 1e-3, and for SimCLR temperature 0.2 instead of PySSL's 0.5
         * (4 epochs: 86.2 % linear against 84.9 %) */
        if (!has_opt(cargc, cargv, "--optimizer")) {
            full[n++] = "--optimizer", full[n++] = TRAIN_DEFAULT_OPTIMIZER;
            if (!has_opt(cargc, cargv, "--weight-decay")) full[n++] = "--weight-decay", full[n++] = TRAIN_DEFAULT_WD;
        }
        if (!strcmp(method, "simclr") || !strcmp(method, "simclrv2")) full[n++] = "--set", full[n++] = "temperature=0.2";
        for (int i = 1; i < cargc; i++) full[n++] = cargv[i];
        compile_args a;
        const char *dash_o = NULL;
        int prc = parse_compile_args(n, full, &a, &dash_o, err);
        if (prc) {
            free(full);
            if (prc < 0) {
                usage();
                rc = 0;
            } else
                rc = cli_error("%s", err);
            goto out;
        }
        if (dash_o) {
            free(full);
            rc = cli_error("train: the plan goes to DIR/%s (--out DIR), not -o", RUN_PLAN);
            goto out;
        }
        if (o.seed < 0) o.seed = (int64_t)a.seed;
        if (!has_opt(cargc, cargv, "--ranks")) a.spec.ranks = comm.size; /* the job's size */
        snprintf(plan_path, sizeof plan_path, "%s/%s", o.out_dir, RUN_PLAN);
        int nnodes = 0;
        printf("compiling %s (%s, width %g, %dx%d, batch %lld) into %s\n", a.method->name, a.spec.backbone.name,
               a.spec.backbone.width, a.spec.backbone.image_size, a.spec.backbone.image_size, (long long)a.spec.batch,
               plan_path);
        fflush(stdout);
        /* rank 0 writes the plan; the others read it once it is there */
        int crc = comm.rank == 0 ? compile_to_file(&a, plan_path, &nnodes, err) : 0;
        free(full);
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
    rc = r.signal ? 128 + r.signal : 0;
    if (r.interrupted || no_eval || comm.rank != 0) goto out; /* rank 0 evaluates */
    if (evaluate(o.out_dir, r.data, (int)knn, o.device, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        rc = CLI_RUN_ERROR;
    }
out:
    if (lock_fd >= 0) close(lock_fd);
    if (job && rc && rc < 128 && comm.size > 1) comm_abort(&comm, rc); /* the other ranks may wait on this one */
    if (job) job_close(&comm);
    free(cargv);
    free(rargv);
    return rc;
}
