/* sslc compile METHOD [options] -o FILE: method -> train graph -> plan file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <strings.h>
#include <unistd.h>

#include "../runtime/planfile.h"
#include "cli.h"
#include "driver.h"
#include "onnx.h"
#include "suggest.h"

static void compile_usage(FILE *f) {
    fprintf(f,
            "usage: sslc compile METHOD [options] -o FILE\n"
            "  --backbone NAME      %s (default resnet18),\n"
            "                       or FILE.onnx: a backbone exported by torch.onnx.export (see README)\n"
            "  --backbone-output NAME  the ONNX value that is the feature vector [N, F]\n"
            "                       (default: the model's only output)\n"
            "  --width W            width multiplier of the backbone (default 1); for vit-tiny/vit-small it\n"
            "                       scales the embedding dim (192/384 * W), which the heads (3/6) must divide\n"
            "                       (e.g. --width 0.125: embed 24/48, for quick CPU runs)\n"
            "  --patch-size P       ViT patch side (default 4 for --image-size <= 64, else 16);\n"
            "                       must divide the image size; multi-crop local crops are 3/7\n"
            "                       of the image size rounded to whole patches (32 px, P 4: 12 px)\n"
            "  --depth D            ViT blocks (default 12; fewer for quick CPU runs)\n"
            "  --image-size N       input height = width (default 32)\n"
            "  --channels C         input channels, 1 or 3 (default 3)\n"
            "  --cifar-stem auto|on|off  3x3 stem without max pool (auto: image size <= 64)\n"
            "  --batch B            images per step (default 256); per rank in a data-parallel job\n"
            "  --ranks N            data-parallel ranks the plan is built for (default 1; sslc train and run\n"
            "                       under mpirun build for the job's size): gradients averaged over ranks\n"
            "  --sync-bn            BatchNorm statistics over the global batch of every rank, built from\n"
            "                       collectives (with --ranks 1: the same formulation on one rank)\n"
            "  --set NAME=VALUE     method option (see `sslc methods`), repeatable\n"
            "  --optimizer NAME     sgd | adamw | lars (default sgd)\n"
            "  --lr X               learning rate (default: sgd 0.05, adamw 0.001, lars 0.3)\n"
            "  --momentum X         SGD/LARS momentum (default 0.9)\n"
            "  --nesterov           Nesterov momentum (SGD)\n"
            "  --weight-decay X     (default: sgd 0, adamw 0.01, lars 1e-6)\n"
            "  --adam-eps X         AdamW epsilon (default 1e-8)\n"
            "  --adam-beta2 X       AdamW second-moment decay (default 0.999; MAE's reference uses 0.95)\n"
            "  --lars-eta X         LARS trust coefficient (default 0.001)\n"
            "  --lr-schedule cosine|constant  per-step learning rate fed by the runtime (default cosine:\n"
            "                       linear warm-up from 0, then half a cosine to 0 at the run's last step)\n"
            "  --warmup-epochs X    warm-up length in epochs, may be fractional (default 0)\n"
            "  --exclude-bias-norm on|off  no weight decay (and no LARS adaptation) for biases and\n"
            "                       normalization parameters (default: on for lars, off otherwise)\n"
            "  --augment RECIPE     augmentation in the step graph: input `images` (u8 [B,C,H,W]) ->\n"
            "                       views, random choices fed per step as aug.<view>.* inputs;\n"
            "                       default: the method's own PySSL recipe; one of %s;\n"
            "                       none: views are graph inputs views.0, views.1, ... (float32 NCHW)\n"
            "  --source-size N|HxW  size of the `images` input (default: the image size)\n"
            "  --mean M[,M,M]       Normalize mean (default PySSL's 0.5)\n"
            "  --std S[,S,S]        Normalize std (default PySSL's 0.229,0.224,0.225; 1 channel: 0.226)\n"
            "  --seed S             parameter initialization seed (default 0)\n"
            "  --targets LIST       what the plan holds beyond the graph: cpu (default: the compiled\n"
            "                       step: lowered graph, launch schedule, memory plan, C kernels),\n"
            "                       cpu,cuda (also CUDA kernels and their CUBIN per --cuda-arch; needs\n"
            "                       NVRTC, adds seconds), none (graph only: the runtime rebuilds the step)\n"
            "  --cuda-arch LIST     GPU architectures to embed CUBIN for (default sm_80,sm_90); implies\n"
            "                       --targets cpu,cuda\n"
            "  --precision f32|bf16 bf16: mixed precision, convolutions and GEMMs on bfloat16 operands\n"
            "                       with float32 accumulation (the cpu backend needs avx512_bf16);\n"
            "                       BatchNorm, softmax, losses, optimizer, weights, checkpoints stay\n"
            "                       float32 (default f32)\n"
            "  -o, --output FILE    plan file to write\n",
            backbone_choices(), aug_recipe_choices());
}

static const struct option longopts[] = {
    {"backbone", required_argument, 0, 'b'},  {"width", required_argument, 0, 'w'},
    {"backbone-output", required_argument, 0, 'X'},
    {"image-size", required_argument, 0, 'i'}, {"channels", required_argument, 0, 'c'},
    {"cifar-stem", required_argument, 0, 'C'}, {"batch", required_argument, 0, 'B'},
    {"set", required_argument, 0, 's'},       {"optimizer", required_argument, 0, 'O'},
    {"lr", required_argument, 0, 'l'},        {"momentum", required_argument, 0, 'm'},
    {"nesterov", no_argument, 0, 'n'},        {"weight-decay", required_argument, 0, 'd'},
    {"adam-eps", required_argument, 0, 'e'},  {"lars-eta", required_argument, 0, 'E'},
    {"augment", required_argument, 0, 'a'},   {"seed", required_argument, 0, 'S'},
    {"output", required_argument, 0, 'o'},    {"help", no_argument, 0, 'h'},
    {"patch-size", required_argument, 0, 'P'}, {"depth", required_argument, 0, 'D'},
    {"source-size", required_argument, 0, 'z'}, {"mean", required_argument, 0, 'M'},
    {"std", required_argument, 0, 'T'},       {"lr-schedule", required_argument, 0, 'R'},
    {"warmup-epochs", required_argument, 0, 'W'}, {"exclude-bias-norm", required_argument, 0, 'x'},
    {"targets", required_argument, 0, 'G'},   {"cuda-arch", required_argument, 0, 'A'},
    {"precision", required_argument, 0, 'Q'}, {"ranks", required_argument, 0, 'r'},
    {"sync-bn", no_argument, 0, 'Y'},         {"adam-beta2", required_argument, 0, 'K'},
    {0, 0, 0, 0}};

const struct option *compile_options(void) { return longopts; }

/* --set NAME=VALUE against the method's options, before anything is built: a misspelt name is
 * answered with the nearest one, a bad value as method_resolve_options words it. */
static int check_set_options(const method_def *m, const method_spec *spec, char *perr) {
    char names[1024];
    size_t k = 0;
    names[0] = 0;
    for (int j = 0; j < m->nopts && k < sizeof names; j++)
        k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", j ? ", " : "", m->opts[j].name);
    for (int i = 0; i < spec->nset; i++) {
        const char *s = spec->set[i], *eq = strchr(s, '=');
        if (!eq) return cli_fail(perr, "--set expects NAME=VALUE, got '%s' (e.g. --set %s=...)", s, m->nopts ? m->opts[0].name : "NAME");
        char name[64], hint[96];
        snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
        int known = 0;
        for (int j = 0; j < m->nopts; j++) known |= !strcmp(m->opts[j].name, name);
        if (!known)
            return cli_fail(perr, "%s has no option '%s' (%soptions: %s)", m->name, name, suggest_hint(name, names, hint, sizeof hint),
                            names);
    }
    double vals[METHOD_MAX_OPTS];
    char err[IR_ERRLEN];
    if (method_resolve_options(m, spec, vals, err)) return cli_fail(perr, "--set: %s", err);
    return 0;
}

/* Parses the compile options shared by `compile` (and later `train`) into args. */
int parse_compile_args(int argc, char **argv, compile_args *a, const char **out, char *perr) {
    int exclude = -1;
    const char *targets = NULL, *archs = NULL;
    int have_mean = 0, have_std = 0;
    double mean[3], std[3];
    int nmean = 0, nstd = 0;
    double lr = -1, wd = 0, mom = 0, width = 1;
    const char *shape_opt = NULL; /* --width / --cifar-stem: built-in backbones only */
    double eps = 0, eta = 0;
    int have_wd = 0, have_mom = 0, have_eps = 0, have_eta = 0, have_beta2 = 0;
    double beta2 = 0;
    int64_t v;
    int nesterov = 0;
    char err[IR_ERRLEN];
    memset(a, 0, sizeof *a);
    snprintf(a->spec.backbone.name, sizeof a->spec.backbone.name, "resnet18");
    a->spec.backbone.image_size = 32;
    a->spec.backbone.channels = 3;
    a->spec.backbone.cifar_stem = -1;
    a->spec.batch = 256;
    snprintf(a->augment, sizeof a->augment, "default");
    snprintf(a->lr_schedule, sizeof a->lr_schedule, "cosine");
    opt_kind kind = OPT_SGD;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if ((strlen(optarg) > 5 && !strcasecmp(optarg + strlen(optarg) - 5, ".onnx")) ||
                (strchr(optarg, '/') && access(optarg, F_OK) == 0)) {
                a->backbone_file = optarg;
                snprintf(a->spec.backbone.name, sizeof a->spec.backbone.name, "onnx");
                break;
            }
            a->backbone_file = NULL;
            if (strlen(optarg) >= sizeof a->spec.backbone.name) return cli_check_backbone(optarg, perr), CLI_USAGE_ERROR;
            snprintf(a->spec.backbone.name, sizeof a->spec.backbone.name, "%s", optarg);
            break;
        case 'X': a->backbone_output = optarg; break;
        case 'w':
            if (cli_parse_double_e("--width", optarg, &width, perr)) return CLI_USAGE_ERROR;
            shape_opt = "--width";
            break;
        case 'i':
            if (cli_parse_int_e("--image-size", optarg, 8, 1024, &v, perr)) return CLI_USAGE_ERROR;
            a->spec.backbone.image_size = (int)v;
            a->image_size_set = 1;
            break;
        case 'c':
            if (cli_parse_int_e("--channels", optarg, 1, 3, &v, perr)) return CLI_USAGE_ERROR;
            a->spec.backbone.channels = (int)v;
            a->channels_set = 1;
            break;
        case 'C':
            if (!strcmp(optarg, "auto"))
                a->spec.backbone.cifar_stem = -1;
            else if (!strcmp(optarg, "on"))
                a->spec.backbone.cifar_stem = 1;
            else if (!strcmp(optarg, "off"))
                a->spec.backbone.cifar_stem = 0;
            else
                return cli_fail(perr, "--cifar-stem expects auto, on or off, got '%s'", optarg);
            shape_opt = "--cifar-stem";
            break;
        case 'P':
            if (cli_parse_int_e("--patch-size", optarg, 1, 1024, &v, perr)) return CLI_USAGE_ERROR;
            a->spec.backbone.patch_size = (int)v;
            shape_opt = "--patch-size";
            break;
        case 'D':
            if (cli_parse_int_e("--depth", optarg, 1, 64, &v, perr)) return CLI_USAGE_ERROR;
            a->spec.backbone.depth = (int)v;
            shape_opt = "--depth";
            break;
        case 'B':
            if (cli_parse_int_e("--batch", optarg, 2, 65536, &v, perr)) return CLI_USAGE_ERROR;
            a->spec.batch = v;
            break;
        case 'r':
            if (cli_parse_int_e("--ranks", optarg, 1, 4096, &v, perr)) return CLI_USAGE_ERROR;
            a->spec.ranks = (int)v;
            break;
        case 'Y': a->spec.sync_bn = 1; break;
        case 's':
            if (a->spec.nset >= (int)(sizeof a->spec.set / sizeof a->spec.set[0]))
                return cli_fail(perr, "too many --set options");
            a->spec.set[a->spec.nset++] = optarg;
            break;
        case 'O':
            if (opt_kind_parse(optarg, &kind, err, sizeof err)) return cli_fail(perr, "%s", err);
            break;
        case 'l':
            if (cli_parse_double_e("--lr", optarg, &lr, perr)) return CLI_USAGE_ERROR;
            if (lr < 0) return cli_fail(perr, "--lr must be >= 0, got %s", optarg);
            break;
        case 'm':
            if (cli_parse_double_e("--momentum", optarg, &mom, perr)) return CLI_USAGE_ERROR;
            have_mom = 1;
            break;
        case 'n': nesterov = 1; break;
        case 'd':
            if (cli_parse_double_e("--weight-decay", optarg, &wd, perr)) return CLI_USAGE_ERROR;
            have_wd = 1;
            break;
        case 'K':
            if (cli_parse_double_e("--adam-beta2", optarg, &beta2, perr)) return CLI_USAGE_ERROR;
            have_beta2 = 1;
            break;
        case 'e':
            if (cli_parse_double_e("--adam-eps", optarg, &eps, perr)) return CLI_USAGE_ERROR;
            have_eps = 1;
            break;
        case 'E':
            if (cli_parse_double_e("--lars-eta", optarg, &eta, perr)) return CLI_USAGE_ERROR;
            have_eta = 1;
            break;
        case 'a':
            if (strcmp(optarg, "none") && strcmp(optarg, "default") && !aug_recipe_find(optarg))
                return cli_fail(perr, "unknown --augment '%s' (choose one of: default, none, %s)", optarg, aug_recipe_choices());
            snprintf(a->augment, sizeof a->augment, "%s", optarg);
            break;
        case 'z': {
            int64_t h, w;
            if (cli_parse_hw_e("--source-size", optarg, &h, &w, perr)) return CLI_USAGE_ERROR;
            a->source_h = h, a->source_w = w;
            break;
        }
        case 'M':
            if (aug_parse_floats(optarg, mean, &nmean, "--mean", err)) return cli_fail(perr, "%s", err);
            have_mean = 1;
            break;
        case 'T':
            if (aug_parse_floats(optarg, std, &nstd, "--std", err)) return cli_fail(perr, "%s", err);
            for (int k = 0; k < nstd; k++)
                if (std[k] == 0) return cli_fail(perr, "--std: values must be nonzero, got '%s'", optarg);
            have_std = 1;
            break;
        case 'S':
            if (cli_parse_int_e("--seed", optarg, 0, INT64_MAX, &v, perr)) return CLI_USAGE_ERROR;
            a->seed = (uint64_t)v;
            break;
        case 'R':
            if (strcmp(optarg, "cosine") && strcmp(optarg, "constant"))
                return cli_fail(perr, "--lr-schedule expects cosine or constant, got '%s'", optarg);
            snprintf(a->lr_schedule, sizeof a->lr_schedule, "%s", optarg);
            break;
        case 'W':
            if (cli_parse_double_e("--warmup-epochs", optarg, &a->warmup_epochs, perr)) return CLI_USAGE_ERROR;
            if (a->warmup_epochs < 0 || a->warmup_epochs > 1e6)
                return cli_fail(perr, "--warmup-epochs must be between 0 and 1e6, got %s", optarg);
            break;
        case 'x':
            if (!strcmp(optarg, "on"))
                exclude = 1;
            else if (!strcmp(optarg, "off"))
                exclude = 0;
            else
                return cli_fail(perr, "--exclude-bias-norm expects on or off, got '%s'", optarg);
            break;
        case 'o': *out = optarg; break;
        case 'Q':
            if (!strcmp(optarg, "bf16"))
                a->bf16 = 1;
            else if (!strcmp(optarg, "f32"))
                a->bf16 = 0;
            else if (!strcmp(optarg, "tf32"))
                return cli_fail(perr, "--precision tf32 is chosen when running (sslc run/train --precision tf32); a plan is f32 or bf16");
            else
                return cli_fail(perr, "--precision expects f32 or bf16, got '%s'", optarg);
            break;
        case 'G': targets = optarg; break;
        case 'A': archs = optarg; break;
        case 'h': return -1;
        case ':': return cli_fail(perr, "option %s needs a value", argv[optind - 1]);
        default: return cli_unknown_option_e(perr, "compile", argv[optind - 1], longopts, NULL);
        }
    }
    if (optind >= argc) return cli_fail(perr, "compile: which method? (choose one of: %s)", method_choices());
    if (optind + 1 < argc) return cli_fail(perr, "compile: unexpected argument '%s'", argv[optind + 1]);
    a->method = cli_find_method(argv[optind], perr);
    if (!a->method) return CLI_USAGE_ERROR;
    if (!a->backbone_file && cli_check_backbone(a->spec.backbone.name, perr)) return CLI_USAGE_ERROR;
    if (check_set_options(a->method, &a->spec, perr)) return CLI_USAGE_ERROR;
    a->spec.backbone.width = width;
    if (!a->backbone_file && backbone_check(&a->spec.backbone, err)) return cli_fail(perr, "%s", err); /* before building */
    if (shape_opt && a->backbone_file)
        return cli_fail(perr, "%s applies to the built-in backbones, not to an imported one (%s)", shape_opt, a->backbone_file);
    if (a->backbone_output && !a->backbone_file)
        return cli_fail(perr, "--backbone-output applies to an imported backbone (--backbone FILE.onnx)");
    if (!strcmp(a->augment, "default")) snprintf(a->augment, sizeof a->augment, "%s", a->method->name);
    a->norm = aug_default_norm(a->spec.backbone.channels);
    if (have_mean) {
        a->norm.nmean = nmean;
        memcpy(a->norm.mean, mean, sizeof mean);
    }
    if (have_std) {
        a->norm.nstd = nstd;
        memcpy(a->norm.std, std, sizeof std);
    }
    int C = a->spec.backbone.channels;
    if ((a->norm.nmean != 1 && a->norm.nmean != C) || (a->norm.nstd != 1 && a->norm.nstd != C))
        return cli_fail(perr, "--mean/--std: give 1 value or %d (one per channel), got %d and %d", C, a->norm.nmean, a->norm.nstd);
    if (!strcmp(a->augment, "none") && (a->source_h || have_mean || have_std))
        return cli_fail(perr, "--source-size, --mean and --std need augmentation (not --augment none)");
    a->opt = opt_defaults(kind);
    if (have_mom) a->opt.momentum = mom;
    a->opt.nesterov = nesterov;
    if (have_wd) a->opt.weight_decay = wd;
    if (have_eps) a->opt.eps = eps;
    if (have_beta2) a->opt.beta2 = beta2;
    if (have_eta) a->opt.eta = eta;
    if (exclude >= 0) a->opt.exclude_no_decay = exclude;
    a->lr = lr >= 0 ? lr : kind == OPT_ADAMW ? 1e-3 : kind == OPT_LARS ? 0.3 : 0.05;
    a->weight_decay = a->opt.weight_decay;
    if (opt_config_check(&a->opt, err, sizeof err)) return cli_fail(perr, "%s", err);
    if (step_targets_parse(targets, archs, &a->targets, err)) return cli_fail(perr, "%s", err);
    return 0;
}

static int set_optf(sslc_plan *p, const char *k, double v, char *err) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    return plan_set_option(p, k, buf, err);
}

int compile_args_options(sslc_plan *p, const compile_args *a, char *err) {
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
             set_optf(p, "eta", a->opt.eta, err) || plan_set_option(p, "lr_schedule", a->lr_schedule, err) ||
             set_optf(p, "warmup_epochs", a->warmup_epochs, err) ||
             set_optf(p, "exclude_bias_norm", a->opt.exclude_no_decay, err) ||
             plan_set_option(p, "precision", a->bf16 ? "bf16" : "f32", err) ||
             set_optf(p, "ranks", a->spec.ranks > 1 ? a->spec.ranks : 1, err) ||
             set_optf(p, "sync_bn", a->spec.sync_bn, err);
    if (!rc && strcmp(a->augment, "none")) {
        char m[64], sd[64];
        size_t k = 0;
        for (int i = 0; i < a->norm.nmean; i++) k += (size_t)snprintf(m + k, sizeof m - k, "%s%g", i ? "," : "", a->norm.mean[i]);
        k = 0;
        for (int i = 0; i < a->norm.nstd; i++) k += (size_t)snprintf(sd + k, sizeof sd - k, "%s%g", i ? "," : "", a->norm.std[i]);
        /* aug.view.*: from the graph's views (none yet in a plan that holds no graph) */
        rc = plan_set_option(p, "aug.mean", m, err) || plan_set_option(p, "aug.std", sd, err) ||
             aug_plan_options(p, &p->train, aug_recipe_find(a->augment), err);
    }
    for (int i = 0; i < a->method->nopts && !rc; i++) {
        char key[PLAN_KEYLEN], v[64];
        snprintf(key, sizeof key, "method.%s", a->method->opts[i].name);
        method_format_value(&a->method->opts[i], vals[i], v, sizeof v);
        rc = plan_set_option(p, key, v, err);
    }
    p->seed = a->seed;
    return rc ? -1 : 0;
}

/* Everything the runtime and `inspect` need to know about how the plan was made. */
static int record_options(sslc_plan *p, const compile_args *a, char *err) {
    int rc = compile_args_options(p, a, err);
    if (!rc && a->backbone_file) {
        char path[PATH_MAX];
        if (!realpath(a->backbone_file, path)) snprintf(path, sizeof path, "%s", a->backbone_file);
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", a->backbone_crc32);
        rc = plan_set_option(p, "backbone_file", path, err) ||
             plan_set_option(p, "backbone_output", a->backbone_output ? a->backbone_output : "", err) ||
             plan_set_option(p, "backbone_crc32", crc, err);
    }
    return rc ? -1 : 0;
}

/* --backbone FILE.onnx: load and check the model; the input's channels and (square) size are the
 * defaults for --channels and --image-size. The model must outlive the build (ext->ctx). The
 * file's bytes go into the plan (p->backbone_onnx): eval, export and embed rebuild the encoder
 * from that copy, so a run directory keeps working when the .onnx moves. */
static int import_backbone(compile_args *a, onnx_model **m, backbone_ext *ext, sslc_plan *p, char *err) {
    if (!a->backbone_file) return 0;
    if (onnx_model_load(m, a->backbone_file, a->backbone_output, &p->backbone_onnx, &p->backbone_onnx_len, err))
        return -1;
    onnx_input_info in = onnx_model_input(*m);
    backbone_cfg *bb = &a->spec.backbone;
    if (!a->channels_set && in.channels >= 1 && in.channels <= 3 && in.channels != bb->channels) {
        aug_norm def = aug_default_norm(bb->channels);
        bb->channels = (int)in.channels;
        if (!memcmp(&def, &a->norm, sizeof def)) a->norm = aug_default_norm(bb->channels); /* not --mean/--std */
    }
    if (!a->image_size_set && in.height >= 8 && in.height <= 1024 && in.height == in.width) bb->image_size = (int)in.height;
    if (onnx_model_backbone(*m, bb->channels, bb->image_size, ext, err)) return -1;
    bb->ext = ext;
    a->backbone_output = onnx_model_output(*m);
    a->backbone_crc32 = onnx_model_crc32(*m);
    return 0;
}

/* the compiled step the targets ask for (runtime/planfile.h: the runtime uses it instead of
 * rebuilding the step each time a plan is loaded) */
static int build_step(sslc_plan *p, const step_targets *t, char *err) {
    if (!t->cpu) return 0;
    char why[IR_ERRLEN];
    if (compiled_step_build(&p->train, t, &p->step, why)) {
        snprintf(err, IR_ERRLEN, "compiling the step: %.480s", why);
        return -1;
    }
    p->has_step = 1;
    return 0;
}

int compile_to_file(const compile_args *args, const char *out, int *nnodes, char *err) {
    compile_args a = *args; /* an imported backbone fills in its part */
    onnx_model *model = NULL;
    backbone_ext ext;
    sslc_plan plan;
    plan_init(&plan);
    plan.seed = a.seed;
    int rc = import_backbone(&a, &model, &ext, &plan, err) || driver_build_train(&a, &plan.train, err) ||
             (a.bf16 && driver_bf16(&plan.train, err)) || record_options(&plan, &a, err) || build_step(&plan, &a.targets, err) || plan_write(&plan, out, err);
    if (nnodes) *nnodes = plan.train.nnodes;
    plan_free(&plan);
    onnx_model_free(model);
    return rc ? -1 : 0;
}

int cmd_compile(int argc, char **argv) {
    compile_args a;
    const char *out = NULL;
    char err[IR_ERRLEN];
    int rc = parse_compile_args(argc, argv, &a, &out, err);
    if (rc < 0) {
        compile_usage(stdout);
        return 0;
    }
    if (rc) return cli_error("%s", err);
    if (!out) return cli_error("compile: missing -o FILE");
    int nnodes = 0;
    if (compile_to_file(&a, out, &nnodes, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    printf("compiled %s (%s, batch %lld, %d nodes) -> %s\n", a.method->name, a.spec.backbone.name,
           (long long)a.spec.batch, nnodes, out);
    return 0;
}
