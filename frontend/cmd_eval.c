/* sslc eval SOURCE --data SPEC: kNN and linear-probe top-1 of frozen features on the test split.
 * sslc embed SOURCE --data SPEC -o F.npy: the features of one split as a NumPy array. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/fileio.h"
#include "../runtime/npy.h"
#include "../runtime/threads.h"
#include "cli.h"
#include "eval.h"
#include "extract.h"

static const char *eval_help =
    "usage: sslc eval SOURCE --data SPEC [--knn K] [--linear] [--features encoder|pixels] [--batch B] [--seed S]\n"
    "                 [--json] [--params P] [--with-projector] [--device cpu|cuda|ref] [--epochs N] [--limit N] [--quiet]\n"
    "  SOURCE             a run directory (plan.plan + checkpoint.safetensors; eval.json is written there)\n"
    "                     or a plan file (its initialization unless --params: the random-init baseline)\n"
    "  --data SPEC        a labelled dataset with train and test splits (fashion-mnist[:DIR], cifar10:DIR,\n"
    "                     folder:DIR, fake:N); features of the train split fit, the test split scores\n"
    "  --knn K            kNN top-1: cosine similarity, K nearest train samples, votes exp(sim/0.07)\n"
    "  --linear           linear-probe top-1: logistic regression compiled and trained by sslc\n"
    "                     (default when neither is given: both, K = 20)\n"
    "  --features pixels  the normalized pixels instead of the encoder (the raw-pixel baseline)\n"
    "  --batch B          images per forward pass (default 256)\n"
    "  --seed S           the probe's mini-batch order (default 0)\n"
    "  --epochs N         linear-probe epochs (default 30)\n"
    "  --limit N          at most N images of each split, a subset drawn with --seed (default: all)\n"
    "  --json             print one JSON object instead of the summary line\n"
    "  --params P         weights (safetensors) instead of the source's\n"
    "  --with-projector   evaluate the method's projection instead of the backbone features\n"
    "  --device cpu|ref   cpu: fused JIT kernels (default); ref: the reference interpreter\n"
    "  --quiet            no progress lines on stderr\n";

static const char *embed_help =
    "usage: sslc embed SOURCE --data SPEC -o features.npy [--split train|test] [--labels labels.npy] [--batch B]\n"
    "                  [--params P] [--with-projector] [--features encoder|pixels] [--device cpu|cuda|ref] [--quiet]\n"
    "  writes the encoder features of every image of the split (default train), in dataset order, as a\n"
    "  NumPy array float32 [N, F]; --labels writes the labels as int64 [N] (-1: unlabelled).\n"
    "  Images are preprocessed as the training views are at their core: u8 / 255, resized (bilinear)\n"
    "  when the plan trained on another size, normalized with the plan's mean and std.\n"
    "  -o, --output FILE  the .npy file to write\n"
    "  --with-projector   the method's projection instead of the backbone features\n"
    "  --features pixels  the normalized pixels [N, C*H*W] (what the encoder sees)\n"
    "  With folder:DIR data it also writes F.paths.txt (the image file of each row) and, when DIR has\n"
    "  class sub-folders, F.classes.txt (the class name of each row), beside F.npy, one line per row;\n"
    "  a backslash or newline in a name is written as \\\\ or \\n.\n";

typedef struct {
    const char *source, *params, *data, *out, *labels;
    int64_t knn, batch, seed, epochs, limit;
    int linear, json, with_projector, quiet, knn_set;
    ds_split split;
    encoder_output features;
    engine_kind device;
} eval_args;

static int parse(int argc, char **argv, eval_args *a, int embed) {
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'D'},     {"knn", required_argument, 0, 'k'},
        {"linear", no_argument, 0, 'l'},         {"features", required_argument, 0, 'f'},
        {"batch", required_argument, 0, 'b'},    {"seed", required_argument, 0, 's'},
        {"json", no_argument, 0, 'j'},           {"params", required_argument, 0, 'p'},
        {"with-projector", no_argument, 0, 'P'}, {"device", required_argument, 0, 'd'},
        {"epochs", required_argument, 0, 'E'},   {"quiet", no_argument, 0, 'q'},
        {"output", required_argument, 0, 'o'},   {"split", required_argument, 0, 'S'},
        {"labels", required_argument, 0, 'L'},   {"help", no_argument, 0, 'h'},
        {"limit", required_argument, 0, 'n'},
        {0, 0, 0, 0}};
    const char *cmd = embed ? "embed" : "eval";
    memset(a, 0, sizeof *a);
    a->knn = 20;
    a->epochs = probe_defaults().epochs;
    a->device = ENGINE_CPU;
    a->split = DS_TRAIN;
    optind = 1;
    opterr = 0;
    int c;
    char err[IR_ERRLEN];
    while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        /* options of the other command */
        if (c > 0 && strchr(embed ? "kljEn" : "oSL", c)) {
            const char *name = "-o";
            for (const struct option *lo = longopts; lo->name; lo++)
                if (lo->val == c && c != 'o') name = lo->name;
            return cli_error("%s: unknown option '%s%s' (see sslc %s --help)", cmd, c == 'o' ? "" : "--", name, cmd);
        }
        switch (c) {
        case 'D': a->data = optarg; break;
        case 'k':
            if (cli_parse_int("--knn", optarg, 1, 1000000, &a->knn)) return CLI_USAGE_ERROR;
            a->knn_set = 1;
            break;
        case 'l': a->linear = 1; break;
        case 'f':
            if (!strcmp(optarg, "encoder"))
                a->features = ENCODER_FEATURES;
            else if (!strcmp(optarg, "pixels"))
                a->features = ENCODER_PIXELS;
            else
                return cli_error("--features: unknown kind '%s' (choose one of: encoder, pixels)", optarg);
            break;
        case 'b':
            if (cli_parse_int("--batch", optarg, 1, 65536, &a->batch)) return CLI_USAGE_ERROR;
            break;
        case 's':
            if (cli_parse_int("--seed", optarg, 0, INT64_MAX, &a->seed)) return CLI_USAGE_ERROR;
            break;
        case 'E':
            if (cli_parse_int("--epochs", optarg, 1, 100000, &a->epochs)) return CLI_USAGE_ERROR;
            break;
        case 'n':
            if (cli_parse_int("--limit", optarg, 1, INT64_MAX, &a->limit)) return CLI_USAGE_ERROR;
            break;
        case 'j': a->json = 1; break;
        case 'p': a->params = optarg; break;
        case 'P': a->with_projector = 1; break;
        case 'd':
            if (engine_kind_parse(optarg, &a->device, err)) return cli_error("--device: %s", err);
            break;
        case 'q': a->quiet = 1; break;
        case 'o': a->out = optarg; break;
        case 'S':
            if (!strcmp(optarg, "train"))
                a->split = DS_TRAIN;
            else if (!strcmp(optarg, "test"))
                a->split = DS_TEST;
            else
                return cli_error("--split: unknown split '%s' (choose one of: train, test)", optarg);
            break;
        case 'L': a->labels = optarg; break;
        case 'h': fputs(embed ? embed_help : eval_help, stdout); return -1;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_unknown_option(cmd, argv[optind - 1], longopts, NULL);
        }
    }
    if (optind >= argc) return cli_error("%s: which run directory or plan file?", cmd);
    if (optind + 1 < argc) return cli_error("%s: unexpected argument '%s'", cmd, argv[optind + 1]);
    a->source = argv[optind];
    if (!a->data) return cli_error("%s: missing --data SPEC (e.g. fashion-mnist)", cmd);
    if (embed && !a->out) return cli_error("embed: missing -o FILE.npy");
    if (a->features == ENCODER_PIXELS && a->with_projector)
        return cli_error("%s: --with-projector needs encoder features, not --features pixels", cmd);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse(argc, argv, &a, 0);
    if (rc) return rc < 0 ? 0 : rc;
    eval_opts o = eval_defaults();
    o.source = a.source, o.params = a.params, o.data = a.data;
    /* neither --knn nor --linear: both */
    o.linear = a.linear || !a.knn_set;
    o.knn_k = a.knn_set || !a.linear ? (int)a.knn : 0;
    o.features = a.features, o.with_projector = a.with_projector;
    o.batch = (int)a.batch, o.device = a.device, o.seed = (uint64_t)a.seed, o.verbose = !a.quiet;
    o.probe.epochs = (int)a.epochs;
    o.limit = a.limit;
    eval_result r;
    char err[IR_ERRLEN];
    /* the thread count from the load, as `sslc run` (runtime/threads.h); said in the summary line,
     * so that an error stays the only line on stderr */
    char threads[256] = "";
    if (a.device == ENGINE_CPU && threads_setup(threads, sizeof threads, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    if (eval_run(&o, &r, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    if (a.json) {
        char js[8192];
        if (eval_json(&o, &r, js, sizeof js) < 0) {
            fprintf(stderr, "sslc: eval: the JSON result does not fit\n");
            return CLI_RUN_ERROR;
        }
        printf("%s\n", js);
    } else {
        char line[256];
        eval_summary(&r, line, sizeof line);
        printf("%s\n", line);
        if (!a.quiet)
            fprintf(stderr, "eval: %lld train / %lld test images, %lld features, %.1f s (features %.1f s, linear %.1f s, "
                            "kNN %.1f s)%s%s%s%s\n",
                    (long long)r.n_train, (long long)r.n_test, (long long)r.dim, r.seconds, r.seconds_features,
                    r.seconds_linear, r.seconds_knn, r.json_path[0] ? "; wrote " : "", r.json_path,
                    threads[0] ? "; " : "", threads);
    }
    return 0;
}

/* F.npy -> F.<suffix> */
static void beside(const char *npy, const char *suffix, char *out, size_t n) {
    size_t l = strlen(npy);
    if (l >= 4 && !strcmp(npy + l - 4, ".npy")) l -= 4;
    snprintf(out, n, "%.*s.%s", (int)l, npy, suffix);
}

/* one escaped line per row: names[row] (or class_names[y[row]]) */
static int write_lines(const char *path, char *const *names, const int64_t *y, int64_t n, char *err) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (int64_t i = 0; buf && i < n; i++) {
        const char *s = y ? names[y[i]] : names[i];
        size_t need = 2 * strlen(s) + 2;
        if (len + need > cap) {
            while (len + need > cap) cap *= 2;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
        }
        for (; *s; s++) {
            if (*s == '\\' || *s == '\n') buf[len++] = '\\';
            buf[len++] = *s == '\n' ? 'n' : *s;
        }
        buf[len++] = '\n';
    }
    if (!buf) {
        snprintf(err, IR_ERRLEN, "out of memory writing %.300s", path);
        return -1;
    }
    const void *parts[1] = {buf};
    size_t lens[1] = {len};
    int rc = sslc_write_atomic(path, parts, lens, 1, err);
    free(buf);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    eval_args a;
    int rc = parse(argc, argv, &a, 1);
    if (rc) return rc < 0 ? 0 : rc;
    char err[IR_ERRLEN];
    encoder_source s;
    extractor *x = NULL;
    feat_set f;
    memset(&f, 0, sizeof f);
    rc = CLI_RUN_ERROR;
    if (encoder_open(&s, a.source, a.params, err)) goto out;
    extract_opts xo = {.data = a.data, .what = a.features, .with_projector = a.with_projector, .batch = (int)a.batch,
                       .device = a.device, .seed = (uint64_t)a.seed, .verbose = !a.quiet};
    if (extractor_open(&x, &s, &xo, err) || extractor_run(x, a.split, &f, err)) goto out;
    int64_t shape[2] = {f.n, f.dim};
    if (npy_write(a.out, NPY_F32, 2, shape, f.x, err)) goto out;
    if (a.labels && npy_write(a.labels, NPY_I64, 1, shape, f.y, err)) goto out;
    char paths[4200] = "", classes[4200] = "";
    if (f.paths) {
        beside(a.out, "paths.txt", paths, sizeof paths);
        if (write_lines(paths, f.paths, NULL, f.n, err)) goto out;
    }
    if (f.paths && f.class_names) {
        beside(a.out, "classes.txt", classes, sizeof classes);
        if (write_lines(classes, f.class_names, f.y, f.n, err)) goto out;
    }
    printf("%s: %lld x %lld %s -> %s%s%s%s%s%s%s\n", f.what, (long long)f.n, (long long)f.dim,
           a.features == ENCODER_PIXELS ? "pixels" : a.with_projector ? "projections" : "features", a.out,
           a.labels ? ", labels -> " : "", a.labels ? a.labels : "", paths[0] ? ", paths -> " : "", paths,
           classes[0] ? ", classes -> " : "", classes);
    rc = 0;
out:
    if (rc) fprintf(stderr, "sslc: %s\n", err);
    feat_set_free(&f);
    extractor_close(x);
    encoder_close(&s);
    return rc;
}
