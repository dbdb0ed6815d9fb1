/* sslc export SOURCE -o encoder.onnx: the eval-mode encoder as an ONNX model.
 * sslc features SOURCE --inputs X.safetensors -o F.safetensors: the same encoder run by the
 * reference interpreter (to compare sslc's outputs with an ONNX runtime's). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/safetensors.h"
#include "cli.h"
#include "encoder.h"
#include "encoder_desc.h"

typedef struct {
    const char *source, *params, *out, *inputs;
    int with_projector, fold_bn, raw_input;
    int64_t opset;
} export_args;

static const char *export_help =
    "usage: sslc export SOURCE -o encoder.onnx [--params P.safetensors] [--with-projector] [--opset N] [--fold-bn]\n"
    "                   [--raw-input]\n"
    "  SOURCE             a plan file, or a run directory holding plan.plan and checkpoint.safetensors\n"
    "  -o, --output FILE  the ONNX model to write\n"
    "  --params P         trained weights (safetensors, named as in `sslc inspect --params`);\n"
    "                     without: the checkpoint of a run directory, or the plan's initial weights\n"
    "  --with-projector   add the method's projection head: output `projection` beside `features`\n"
    "  --opset N          ONNX opset, 13..17 (default 17)\n"
    "  --fold-bn          fold BatchNorm (running statistics) into the convolutions before it\n"
    "  --raw-input        leave the normalization out: the caller feeds (pixels - mean) / std\n"
    "The model: input `images` [N, C, H, W] float32 (N dynamic): pixels in [0, 1], normalized inside\n"
    "with the plan's mean and std (--raw-input: already normalized); output `features` [N, F].\n"
    "metadata_props record sslc.method, backbone, width, feat_dim, image_size, channels, mean, std, input.\n";

static const char *features_help =
    "usage: sslc features SOURCE --inputs X.safetensors -o F.safetensors [--params P] [--with-projector]\n"
    "  runs the eval-mode encoder (as `sslc export` writes it) in the reference interpreter on the\n"
    "  tensor `images` [N, C, H, W] float32 of X; writes `features` (and `projection`)\n"
    "  -o, --output FILE  the safetensors file to write\n";

static int parse(int argc, char **argv, export_args *a, int features) {
    static const struct option longopts[] = {
        {"params", required_argument, 0, 'p'}, {"output", required_argument, 0, 'o'},
        {"inputs", required_argument, 0, 'x'}, {"with-projector", no_argument, 0, 'P'},
        {"opset", required_argument, 0, 'O'},  {"fold-bn", no_argument, 0, 'F'},
        {"raw-input", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *cmd = features ? "features" : "export";
    memset(a, 0, sizeof *a);
    a->opset = ONNX_OPSET_DEFAULT;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': a->params = optarg; break;
        case 'o': a->out = optarg; break;
        case 'P': a->with_projector = 1; break;
        case 'x':
            if (!features) return cli_error("export: unknown option '--inputs' (see sslc export --help)");
            a->inputs = optarg;
            break;
        case 'O':
            if (features) return cli_error("features: unknown option '--opset' (see sslc features --help)");
            if (cli_parse_int("--opset", optarg, ONNX_OPSET_MIN, ONNX_OPSET_MAX, &a->opset)) return CLI_USAGE_ERROR;
            break;
        case 'F':
            if (features) return cli_error("features: unknown option '--fold-bn' (see sslc features --help)");
            a->fold_bn = 1;
            break;
        case 'R':
            if (features) return cli_error("features: unknown option '--raw-input' (see sslc features --help)");
            a->raw_input = 1;
            break;
        case 'h': fputs(features ? features_help : export_help, stdout); return -1;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_unknown_option(cmd, argv[optind - 1], longopts, NULL);
        }
    }
    if (optind >= argc) return cli_error("%s: which plan file or run directory?", cmd);
    if (optind + 1 < argc) return cli_error("%s: unexpected argument '%s'", cmd, argv[optind + 1]);
    a->source = argv[optind];
    if (!a->out) return cli_error("%s: missing -o FILE", cmd);
    if (features && !a->inputs) return cli_error("features: missing --inputs X.safetensors");
    return 0;
}

/* metadata_props: what a program needs to feed the model (frontend/encoder_desc.h) */
#define ONNX_META_MAX 9
typedef struct {
    char width[32], feat_dim[32], size[32], channels[32], mean[96], std[96];
    const char *keys[ONNX_META_MAX], *values[ONNX_META_MAX];
    int n;
} export_meta;

static void add_meta(export_meta *m, const char *key, const char *value) {
    m->keys[m->n] = key;
    m->values[m->n++] = value;
}

static void describe(const encoder_desc *d, int raw_input, export_meta *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->width, sizeof m->width, "%.9g", d->width);
    snprintf(m->feat_dim, sizeof m->feat_dim, "%lld", (long long)d->feat_dim);
    snprintf(m->size, sizeof m->size, "%d", d->image_size);
    snprintf(m->channels, sizeof m->channels, "%d", d->channels);
    encoder_desc_floats(d->mean, d->channels, m->mean, sizeof m->mean);
    encoder_desc_floats(d->std, d->channels, m->std, sizeof m->std);
    add_meta(m, "sslc.method", d->method);
    add_meta(m, "sslc.backbone", d->backbone);
    add_meta(m, "sslc.width", m->width);
    add_meta(m, "sslc.feat_dim", m->feat_dim);
    add_meta(m, "sslc.image_size", m->size);
    add_meta(m, "sslc.channels", m->channels);
    add_meta(m, "sslc.mean", m->mean);
    add_meta(m, "sslc.std", m->std);
    add_meta(m, ONNX_META_INPUT, raw_input ? ONNX_INPUT_NORMALIZED : ONNX_INPUT_PIXELS);
}

static int run_export(const export_args *a, char *err) {
    encoder_source s;
    ir_graph g, g3;
    interp it;
    int have_it = 0, rc = -1;
    float **w = NULL;
    ir_graph_init(&g);
    ir_graph_init(&g3);
    if (encoder_open(&s, a->source, a->params, err)) goto out;
    if (!s.params_path[0])
        fprintf(stderr, "sslc: note: no weights given (--params): exporting the plan's initial parameters\n");
    if (a->raw_input ? encoder_build(&s, 2, a->with_projector, &g, err) || encoder_build(&s, 3, a->with_projector, &g3, err)
                     : encoder_build_pixels(&s, 2, a->with_projector, &g, err) ||
                           encoder_build_pixels(&s, 3, a->with_projector, &g3, err))
        goto out;
    if (interp_init(&it, &g, 0, err)) goto out;
    have_it = 1;
    if (encoder_load_weights(&s, &it, err)) goto out;
    w = calloc((size_t)g.nvals + 1, sizeof *w);
    if (!w) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto out;
    }
    for (int v = 0; v < g.nvals; v++)
        if ((g.vals[v].kind == VK_PARAM || g.vals[v].kind == VK_STATE) && g.vals[v].dtype == DT_F32)
            w[v] = interp_data(&it, v);
    encoder_desc d;
    export_meta meta;
    if (encoder_describe(&s, &d, err)) goto out;
    describe(&d, a->raw_input, &meta);
    char doc[320];
    snprintf(doc, sizeof doc, "sslc %s encoder (%s), input images [N,%d,%d,%d]: %s", s.method->name,
             s.backbone.name, s.backbone.channels, s.backbone.image_size, s.backbone.image_size,
             a->raw_input ? "(pixels in [0, 1] - mean) / std" : "pixels in [0, 1], normalized inside");
    onnx_export_opts o = {.opset = (int)a->opset, .fold_bn = a->fold_bn, .doc = doc, .nmeta = meta.n,
                          .meta_keys = meta.keys, .meta_values = meta.values};
    const char *names[2] = {"features", "projection"};
    if (onnx_export(&g, &g3, (const float *const *)w, names, &o, a->out, err)) goto out;
    printf("exported %s encoder (%s%s, opset %d, %s input) -> %s\n", s.method->name, s.backbone.name,
           a->with_projector ? " + projector" : "", o.opset, a->raw_input ? "normalized" : "pixel", a->out);
    rc = 0;
out:
    free(w);
    if (have_it) interp_free(&it);
    ir_graph_free(&g);
    ir_graph_free(&g3);
    encoder_close(&s);
    return rc;
}

static int run_features(const export_args *a, char *err) {
    encoder_source s;
    st_table in, out;
    ir_graph g;
    interp it;
    int have_it = 0, rc = -1;
    ir_graph_init(&g);
    st_init(&in);
    st_init(&out);
    if (encoder_open(&s, a->source, a->params, err) || st_read(&in, a->inputs, err)) goto out;
    const st_tensor *x = st_find(&in, "images");
    const backbone_cfg *bb = &s.backbone;
    if (!x) {
        snprintf(err, IR_ERRLEN, "%s: no tensor 'images'", a->inputs);
        goto out;
    }
    if (x->dtype != ST_F32 || x->ndim != 4 || x->shape[0] < 1 || x->shape[0] > 65536 || x->shape[1] != bb->channels ||
        x->shape[2] != bb->image_size || x->shape[3] != bb->image_size) {
        snprintf(err, IR_ERRLEN, "%s: 'images' must be F32 [N, %d, %d, %d] with 1 <= N <= 65536", a->inputs,
                 bb->channels, bb->image_size, bb->image_size);
        goto out;
    }
    if (encoder_build(&s, x->shape[0], a->with_projector, &g, err) || interp_init(&it, &g, 0, err)) goto out;
    have_it = 1;
    int images = ir_find_value(&g, "images");
    if (encoder_load_weights(&s, &it, err) || interp_set_f32(&it, images, x->data, err) || interp_run(&it, err)) goto out;
    const char *names[2] = {"features", "projection"};
    for (int k = 0; k < g.noutputs; k++) {
        const ref_tensor *t = &it.t[g.outputs[k]];
        if (st_add(&out, names[k], ST_F32, t->shape.ndim, t->shape.d, t->data, err)) goto out;
    }
    rc = st_write(&out, a->out, err);
out:
    if (have_it) interp_free(&it);
    ir_graph_free(&g);
    st_free(&in);
    st_free(&out);
    encoder_close(&s);
    return rc;
}

int cmd_export(int argc, char **argv) {
    export_args a;
    int rc = parse(argc, argv, &a, 0);
    if (rc) return rc < 0 ? 0 : rc;
    char err[IR_ERRLEN];
    if (run_export(&a, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    return 0;
}

int cmd_features(int argc, char **argv) {
    export_args a;
    int rc = parse(argc, argv, &a, 1);
    if (rc) return rc < 0 ? 0 : rc;
    char err[IR_ERRLEN];
    if (run_features(&a, err)) {
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    return 0;
}
