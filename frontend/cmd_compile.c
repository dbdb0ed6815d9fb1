/* sslc compile METHOD [options] -o FILE: method -> train graph -> plan file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/planfile.h"
#include "cli.h"
#include "driver.h"

static void compile_usage(FILE *f) {
    fprintf(f,
            "usage: sslc compile METHOD [options] -o FILE\n"
            "  --backbone NAME      %s (default resnet18)\n"
            "  --width W            width multiplier of the backbone (default 1); for vit-tiny/vit-small it\n"
            "                       scales the embedding dim (192/384 * W), which the heads (3/6) must divide\n"
            "                       (e.g. --width 0.125: embed 24/48, for quick CPU runs)\n"
            "  --patch-size P       ViT patch side (default 4 for --image-size <= 64, else 16);\n"
            "                       must divide the image size\n"
            "  --depth D            ViT blocks (default 12; fewer for quick CPU runs)\n"
            "  --image-size N       input height = width (default 32)\n"
            "  --channels C         input channels, 1 or 3 (default 3)\n"
            "  --cifar-stem auto|on|off  3x3 stem without max pool (auto: image size <= 64)\n"
            "  --batch B            images per step (default 256)\n"
            "  --set NAME=VALUE     method option (see `sslc methods`), repeatable\n"
            "  --optimizer NAME     sgd | adamw | lars (default sgd)\n"
            "  --lr X               learning rate (default: sgd 0.05, adamw 0.001, lars 0.3)\n"
            "  --momentum X         SGD/LARS momentum (default 0.9)\n"
            "  --nesterov           Nesterov momentum (SGD)\n"
            "  --weight-decay X     (default: sgd 0, adamw 0.01, lars 1e-6)\n"
            "  --adam-eps X         AdamW epsilon (default 1e-8)\n"
            "  --lars-eta X         LARS trust coefficient (default 0.001)\n"
            "  --augment none       views are graph inputs views.0, views.1, ... (float32 NCHW)\n"
            "  --seed S             parameter initialization seed (default 0)\n"
            "  -o, --output FILE    plan file to write\n",
            backbone_choices());
}

/* Parses the compile options shared by `compile` (and later `train`) into args. */
static int parse_compile_args(int argc, char **argv, compile_args *a, const char **out) {
    static const struct option longopts[] = {
        {"backbone", required_argument, 0, 'b'},  {"width", required_argument, 0, 'w'},
        {"image-size", required_argument, 0, 'i'}, {"channels", required_argument, 0, 'c'},
        {"cifar-stem", required_argument, 0, 'C'}, {"batch", required_argument, 0, 'B'},
        {"set", required_argument, 0, 's'},       {"optimizer", required_argument, 0, 'O'},
        {"lr", required_argument, 0, 'l'},        {"momentum", required_argument, 0, 'm'},
        {"nesterov", no_argument, 0, 'n'},        {"weight-decay", required_argument, 0, 'd'},
        {"adam-eps", required_argument, 0, 'e'},  {"lars-eta", required_argument, 0, 'E'},
        {"augment", required_argument, 0, 'a'},   {"seed", required_argument, 0, 'S'},
        {"output", required_argument, 0, 'o'},    {"help", no_argument, 0, 'h'},
        {"patch-size", required_argument, 0, 'P'}, {"depth", required_argument, 0, 'D'},
        {0, 0, 0, 0}};
    double lr = -1, wd = 0, mom = 0, width = 1;
    double eps = 0, eta = 0;
    int have_wd = 0, have_mom = 0, have_eps = 0, have_eta = 0;
    int64_t v;
    int nesterov = 0;
    char err[IR_ERRLEN];
    memset(a, 0, sizeof *a);
    snprintf(a->spec.backbone.name, sizeof a->spec.backbone.name, "resnet18");
    a->spec.backbone.image_size = 32;
    a->spec.backbone.channels = 3;
    a->spec.backbone.cifar_stem = -1;
    a->spec.batch = 256;
    snprintf(a->augment, sizeof a->augment, "none");
    opt_kind kind = OPT_SGD;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (strlen(optarg) >= sizeof a->spec.backbone.name)
                return cli_error("unknown backbone '%s' (choose one of: %s)", optarg, backbone_choices());
            snprintf(a->spec.backbone.name, sizeof a->spec.backbone.name, "%s", optarg);
            break;
        case 'w':
            if (cli_parse_double("--width", optarg, &width)) return CLI_USAGE_ERROR;
            break;
        case 'i':
            if (cli_parse_int("--image-size", optarg, 8, 1024, &v)) return CLI_USAGE_ERROR;
            a->spec.backbone.image_size = (int)v;
            break;
        case 'c':
            if (cli_parse_int("--channels", optarg, 1, 3, &v)) return CLI_USAGE_ERROR;
            a->spec.backbone.channels = (int)v;
            break;
        case 'C':
            if (!strcmp(optarg, "auto"))
                a->spec.backbone.cifar_stem = -1;
            else if (!strcmp(optarg, "on"))
                a->spec.backbone.cifar_stem = 1;
            else if (!strcmp(optarg, "off"))
                a->spec.backbone.cifar_stem = 0;
            else
                return cli_error("--cifar-stem expects auto, on or off, got '%s'", optarg);
            break;
        case 'P':
            if (cli_parse_int("--patch-size", optarg, 1, 1024, &v)) return CLI_USAGE_ERROR;
            a->spec.backbone.patch_size = (int)v;
            break;
        case 'D':
            if (cli_parse_int("--depth", optarg, 1, 64, &v)) return CLI_USAGE_ERROR;
            a->spec.backbone.depth = (int)v;
            break;
        case 'B':
            if (cli_parse_int("--batch", optarg, 2, 65536, &v)) return CLI_USAGE_ERROR;
            a->spec.batch = v;
            break;
        case 's':
            if (a->spec.nset >= (int)(sizeof a->spec.set / sizeof a->spec.set[0]))
                return cli_error("too many --set options");
            a->spec.set[a->spec.nset++] = optarg;
            break;
        case 'O':
            if (opt_kind_parse(optarg, &kind, err, sizeof err)) return cli_error("%s", err);
            break;
        case 'l':
            if (cli_parse_double("--lr", optarg, &lr)) return CLI_USAGE_ERROR;
            if (lr < 0) return cli_error("--lr must be >= 0, got %s", optarg);
            break;
        case 'm':
            if (cli_parse_double("--momentum", optarg, &mom)) return CLI_USAGE_ERROR;
            have_mom = 1;
            break;
        case 'n': nesterov = 1; break;
        case 'd':
            if (cli_parse_double("--weight-decay", optarg, &wd)) return CLI_USAGE_ERROR;
            have_wd = 1;
            break;
        case 'e':
            if (cli_parse_double("--adam-eps", optarg, &eps)) return CLI_USAGE_ERROR;
            have_eps = 1;
            break;
        case 'E':
            if (cli_parse_double("--lars-eta", optarg, &eta)) return CLI_USAGE_ERROR;
            have_eta = 1;
            break;
        case 'a':
            if (strcmp(optarg, "none"))
                return cli_error("--augment: only 'none' is available in this build (views are graph inputs)");
            snprintf(a->augment, sizeof a->augment, "%s", optarg);
            break;
        case 'S':
            if (cli_parse_int("--seed", optarg, 0, INT64_MAX, &v)) return CLI_USAGE_ERROR;
            a->seed = (uint64_t)v;
            break;
        case 'o': *out = optarg; break;
        case 'h': compile_usage(stdout); return -1;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_error("compile: unknown option '%s' (see sslc compile --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_error("compile: which method? (choose one of: %s)", method_choices());
    if (optind + 1 < argc) return cli_error("compile: unexpected argument '%s'", argv[optind + 1]);
    a->method = method_find(argv[optind]);
    if (!a->method) return cli_error("unknown method '%s' (choose one of: %s)", argv[optind], method_choices());
    a->spec.backbone.width = width;
    a->opt = opt_defaults(kind);
    if (have_mom) a->opt.momentum = mom;
    a->opt.nesterov = nesterov;
    if (have_wd) a->opt.weight_decay = wd;
    if (have_eps) a->opt.eps = eps;
    if (have_eta) a->opt.eta = eta;
    a->lr = lr >= 0 ? lr : kind == OPT_ADAMW ? 1e-3 : kind == OPT_LARS ? 0.3 : 0.05;
    a->weight_decay = a->opt.weight_decay;
    if (opt_config_check(&a->opt, err, sizeof err)) return cli_error("%s", err);
    return 0;
}

static int set_optf(sslc_plan *p, const char *k, double v, char *err) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    return plan_set_option(p, k, buf, err);
}

/* Everything the runtime and `inspect` need to know about how the plan was made. */
static int record_options(sslc_plan *p, const compile_args *a, char *err) {
    const backbone_cfg *bb = &a->spec.backbone;
    double vals[METHOD_MAX_OPTS];
    if (method_resolve_options(a->method, &a->spec, vals, err)) return -1;
    int rc = plan_set_method(p, a->method->name, err) || plan_set_option(p, "backbone", bb->name, err) ||
             set_optf(p, "width", bb->width, err) || set_optf(p, "image_size", bb->image_size, err) ||
             set_optf(p, "channels", bb->channels, err) || set_optf(p, "cifar_stem", bb->cifar_stem, err) ||
             set_optf(p, "patch_size", backbone_patch_size(bb), err) || set_optf(p, "depth", backbone_depth(bb), err) ||
             set_optf(p, "batch", (double)a->spec.batch, err) || plan_set_option(p, "augment", a->augment, err) ||
             plan_set_option(p, "optimizer", opt_kind_name(a->opt.kind), err) || set_optf(p, "lr", a->lr, err) ||
             set_optf(p, "weight_decay", a->weight_decay, err) || set_optf(p, "momentum", a->opt.momentum, err) ||
             set_optf(p, "nesterov", a->opt.nesterov, err) || set_optf(p, "beta1", a->opt.beta1, err) ||
             set_optf(p, "beta2", a->opt.beta2, err) || set_optf(p, "eps", a->opt.eps, err) ||
             set_optf(p, "eta", a->opt.eta, err);
    for (int i = 0; i < a->method->nopts && !rc; i++) {
        char key[PLAN_KEYLEN], v[64];
        snprintf(key, sizeof key, "method.%s", a->method->opts[i].name);
        method_format_value(&a->method->opts[i], vals[i], v, sizeof v);
        rc = plan_set_option(p, key, v, err);
    }
    return rc ? -1 : 0;
}

int cmd_compile(int argc, char **argv) {
    compile_args a;
    const char *out = NULL;
    int rc = parse_compile_args(argc, argv, &a, &out);
    if (rc) return rc < 0 ? 0 : rc;
    if (!out) return cli_error("compile: missing -o FILE");
    char err[IR_ERRLEN];
    sslc_plan plan;
    plan_init(&plan);
    plan.seed = a.seed;
    if (driver_build_train(&a, &plan.train, err) || record_options(&plan, &a, err) || plan_write(&plan, out, err)) {
        plan_free(&plan);
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    printf("compiled %s (%s, batch %lld, %d nodes) -> %s\n", a.method->name, a.spec.backbone.name,
           (long long)a.spec.batch, plan.train.nnodes, out);
    plan_free(&plan);
    return 0;
}
