#include "encoder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "../runtime/checkpoint.h"
#include "../runtime/fileio.h"
#include "../runtime/init.h"
#include "../runtime/safetensors.h"

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static int opt_num(const sslc_plan *p, const char *key, double *out, char *err) {
    const char *s = plan_get_option(p, key);
    char *end;
    errno = 0;
    if (!s || (*out = strtod(s, &end), errno || end == s || *end)) {
        ir_errf(err, "plan has no valid option '%s'", key);
        return -1;
    }
    return 0;
}

/* backbone configuration and method options as recorded by `sslc compile` */
static int read_options(encoder_source *s, char *err) {
    const sslc_plan *p = &s->plan;
    const char *name = plan_get_option(p, "backbone");
    double width, size, ch, stem;
    if (!name || strlen(name) >= sizeof s->backbone.name) {
        ir_errf(err, "%.300s: plan records no valid backbone", s->plan_path);
        return -1;
    }
    if (opt_num(p, "width", &width, err) || opt_num(p, "image_size", &size, err) || opt_num(p, "channels", &ch, err) ||
        opt_num(p, "cifar_stem", &stem, err))
        return -1;
    snprintf(s->backbone.name, sizeof s->backbone.name, "%s", name);
    s->backbone.width = width;
    s->backbone.image_size = (int)size;
    s->backbone.channels = (int)ch;
    s->backbone.cifar_stem = (int)stem;
    /* ViT options (0 = the backbone's default; absent from plans written before ViTs) */
    double ps = 0, depth = 0;
    if (plan_get_option(p, "patch_size") && opt_num(p, "patch_size", &ps, err)) return -1;
    if (plan_get_option(p, "depth") && opt_num(p, "depth", &depth, err)) return -1;
    if (strncmp(name, "vit", 3) == 0) {
        s->backbone.patch_size = (int)ps;
        s->backbone.depth = (int)depth;
    }
    s->method = method_find(p->method);
    if (!s->method) {
        ir_errf(err, "%.300s: method '%s' is not known to this sslc (methods: %s)", s->plan_path, p->method,
                 method_choices());
        return -1;
    }
    /* method options: "method.<name>" entries, resolved like --set */
    method_spec spec;
    memset(&spec, 0, sizeof spec);
    char sets[METHOD_MAX_OPTS][PLAN_KEYLEN + PLAN_VALLEN];
    for (int i = 0; i < s->method->nopts && i < METHOD_MAX_OPTS; i++) {
        char key[PLAN_KEYLEN + 8];
        snprintf(key, sizeof key, "method.%s", s->method->opts[i].name);
        const char *v = plan_get_option(p, key);
        if (!v) continue;
        snprintf(sets[spec.nset], sizeof sets[0], "%s=%s", s->method->opts[i].name, v);
        spec.set[spec.nset] = sets[spec.nset];
        spec.nset++;
    }
    if (method_resolve_options(s->method, &spec, s->val, err)) return -1;
    if (!strcmp(name, "onnx")) {
        /* the model stored in the plan, never the file it was imported from (which may have moved
         * or changed): the plan alone describes the run */
        const char *out = plan_get_option(p, "backbone_output"), *crc = plan_get_option(p, "backbone_crc32");
        if (!p->backbone_onnx_len) {
            const char *file = plan_get_option(p, "backbone_file");
            ir_errf(err, "%.300s: the plan does not hold its imported backbone (an older sslc recorded only the "
                         "path %.200s): recompile it with this sslc (sslc compile ... --backbone FILE.onnx) and give "
                         "the checkpoint with --params",
                    s->plan_path, file ? file : "of the model");
            return -1;
        }
        /* before parsing: a model changed inside the plan is named as such, not as a bad ONNX file
         * (plans are at most PLAN_MAX_BYTES, so the length fits zlib's uInt) */
        char now[16];
        snprintf(now, sizeof now, "%08x", (unsigned)crc32(0, p->backbone_onnx, (uInt)p->backbone_onnx_len));
        if (!crc || strcmp(now, crc)) {
            ir_errf(err, "%.300s: the ONNX model stored in the plan has CRC-32 %s, the plan records %.10s: the plan "
                         "was altered; recompile it",
                    s->plan_path, now, crc ? crc : "none");
            return -1;
        }
        char what[64 + sizeof s->plan_path], e2[IR_ERRLEN];
        snprintf(what, sizeof what, "%s (its imported backbone)", s->plan_path);
        if (onnx_model_decode(&s->imported, p->backbone_onnx, p->backbone_onnx_len, what, out && *out ? out : NULL,
                              e2) ||
            onnx_model_backbone(s->imported, s->backbone.channels, s->backbone.image_size, &s->ext, e2)) {
            ir_errf(err, "%.500s", e2);
            return -1;
        }
        s->backbone.ext = &s->ext;
    }
    return backbone_check(&s->backbone, err);
}

int encoder_open(encoder_source *s, const char *source, const char *params, char *err) {
    memset(s, 0, sizeof *s);
    plan_init(&s->plan);
    if (sslc_is_dir(source)) {
        snprintf(s->plan_path, sizeof s->plan_path, "%s/%s", source, ENCODER_PLAN_IN_DIR);
        if (!exists(s->plan_path)) {
            ir_errf(err, "%.300s: no %s in this directory (a run directory holds %s and %s)", source,
                     ENCODER_PLAN_IN_DIR, ENCODER_PLAN_IN_DIR, ENCODER_CHECKPOINT_IN_DIR);
            return -1;
        }
        if (!params) {
            snprintf(s->params_path, sizeof s->params_path, "%s/%s", source, ENCODER_CHECKPOINT_IN_DIR);
            if (!exists(s->params_path)) {
                ir_errf(err, "%.300s: no %s in this directory (or give --params)", source,
                         ENCODER_CHECKPOINT_IN_DIR);
                return -1;
            }
        }
    } else if (strlen(source) > 12 && !strcmp(source + strlen(source) - 12, ".safetensors")) {
        /* a checkpoint file: its run directory's plan.plan, beside it */
        const char *slash = strrchr(source, '/');
        int dlen = slash ? (int)(slash - source) : 1;
        snprintf(s->plan_path, sizeof s->plan_path, "%.*s/%s", dlen, slash ? source : ".", ENCODER_PLAN_IN_DIR);
        if (!exists(s->plan_path)) {
            ir_errf(err, "%.300s: a checkpoint needs the plan it was trained with: no %s beside it", source,
                 ENCODER_PLAN_IN_DIR);
            return -1;
        }
        if (!params) snprintf(s->params_path, sizeof s->params_path, "%s", source);
    } else {
        snprintf(s->plan_path, sizeof s->plan_path, "%s", source);
    }
    if (params) snprintf(s->params_path, sizeof s->params_path, "%s", params);
    if (plan_read(&s->plan, s->plan_path, err) || read_options(s, err)) return -1;
    return s->params_path[0] ? ckpt_read(&s->weights, s->params_path, err) : 0;
}

void encoder_close(encoder_source *s) {
    plan_free(&s->plan);
    onnx_model_free(s->imported);
    s->imported = NULL;
    ckpt_file_free(&s->weights);
}

/* the encoder on the normalized images x [batch, C, H, W] f32 */
static int build_encoder_on(const encoder_source *s, int64_t batch, int x, int with_projector, ir_graph *g, char *err) {
    if (with_projector && !s->method->projector) {
        ir_errf(err, "--with-projector: method %s has no projector to export", s->method->name);
        return -1;
    }
    method_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.def = s->method;
    ctx.g = g;
    ctx.backbone = s->backbone;
    ctx.batch = batch;
    memcpy(ctx.val, s->val, sizeof ctx.val);
    mb_init(&ctx.mb, g, 0);
    const backbone_cfg *bb = &s->backbone;
    ir_scope_push(g, "backbone");
    int f = backbone_build(&ctx.mb, bb, x);
    ir_scope_pop(g);
    if (f >= 0 && g->vals[f].kind != VK_INTER) f = ir_identity(g, f);
    int z = f >= 0 && with_projector ? s->method->projector(&ctx, f) : -1;
    mb_free(&ctx.mb);
    if (g->failed || f < 0 || (with_projector && z < 0)) {
        ir_errf(err, "building the %s encoder: %.400s", bb->name, g->failed ? g->err : "no output");
        return -1;
    }
    if (!g->vals[f].name) ir_set_name(g, f, "features");
    ir_add_output(g, f);
    if (with_projector) {
        if (!g->vals[z].name) ir_set_name(g, z, "projection");
        ir_add_output(g, z);
    }
    return 0;
}

int encoder_build(const encoder_source *s, int64_t batch, int with_projector, ir_graph *g, char *err) {
    const backbone_cfg *bb = &s->backbone;
    int x = ir_input(g, "images", DT_F32, IR_SHAPE(batch, bb->channels, bb->image_size, bb->image_size));
    return build_encoder_on(s, batch, x, with_projector, g, err);
}

int encoder_build_pixels(const encoder_source *s, int64_t batch, int with_projector, ir_graph *g, char *err) {
    const backbone_cfg *bb = &s->backbone;
    int64_t C = bb->channels;
    aug_norm norm;
    if (encoder_norm(s, &norm, err)) return -1;
    float mean[3], std[3];
    for (int c = 0; c < C; c++) {
        mean[c] = (float)norm.mean[norm.nmean == 1 ? 0 : c];
        std[c] = (float)norm.std[norm.nstd == 1 ? 0 : c];
    }
    int x = ir_input(g, "images", DT_F32, IR_SHAPE(batch, C, bb->image_size, bb->image_size));
    int m = ir_const(g, DT_F32, IR_SHAPE(1, C, 1, 1), mean), sd = ir_const(g, DT_F32, IR_SHAPE(1, C, 1, 1), std);
    if (m >= 0) ir_set_name(g, m, "normalize.mean");
    if (sd >= 0) ir_set_name(g, sd, "normalize.std");
    /* Normalize's arithmetic, (x - mean) / std, in ops every exporter and runtime has */
    x = ir_div(g, ir_sub(g, x, m), sd);
    if (g->failed) {
        ir_errf(err, "normalization: %.400s", g->err);
        return -1;
    }
    return build_encoder_on(s, batch, x, with_projector, g, err);
}

int encoder_norm(const encoder_source *s, aug_norm *norm, char *err) {
    const char *m = plan_get_option(&s->plan, "aug.mean"), *sd = plan_get_option(&s->plan, "aug.std");
    int C = s->backbone.channels;
    *norm = aug_default_norm(C);
    if (!m || !sd) return 0; /* --augment none: the views were inputs; PySSL's defaults */
    char e2[IR_ERRLEN];
    if (aug_parse_floats(m, norm->mean, &norm->nmean, "aug.mean", e2) ||
        aug_parse_floats(sd, norm->std, &norm->nstd, "aug.std", e2)) {
        ir_errf(err, "%.300s: %.300s", s->plan_path, e2);
        return -1;
    }
    if ((norm->nmean != 1 && norm->nmean != C) || (norm->nstd != 1 && norm->nstd != C)) {
        ir_errf(err, "%.300s: aug.mean/aug.std need 1 or %d values", s->plan_path, C);
        return -1;
    }
    return 0;
}

void encoder_source_size(const encoder_source *s, int64_t *h, int64_t *w) {
    int v = ir_find_value(&s->plan.train, "images");
    const ir_value *val = v >= 0 ? &s->plan.train.vals[v] : NULL;
    if (val && val->shape.ndim == 4) {
        *h = val->shape.d[2];
        *w = val->shape.d[3];
    } else {
        *h = *w = s->backbone.image_size;
    }
}

int encoder_build_images(const encoder_source *s, int64_t batch, int64_t src_h, int64_t src_w, encoder_output what,
                         int with_projector, ir_graph *g, char *err) {
    const backbone_cfg *bb = &s->backbone;
    int64_t C = bb->channels, S = bb->image_size;
    aug_norm norm;
    if (encoder_norm(s, &norm, err)) return -1;
    int x = ir_to_float(g, ir_input(g, "images", DT_U8, IR_SHAPE(batch, C, src_h, src_w)));
    if (src_h != S || src_w != S) {
        /* the training crops' resize, over the whole image: a constant box per sample */
        int32_t *box = malloc((size_t)batch * 4 * sizeof *box);
        if (!box) {
            ir_errf(err, "out of memory");
            return -1;
        }
        for (int64_t b = 0; b < batch; b++) {
            box[4 * b] = box[4 * b + 1] = 0;
            box[4 * b + 2] = (int32_t)src_h;
            box[4 * b + 3] = (int32_t)src_w;
        }
        int bx = ir_const(g, DT_I32, IR_SHAPE(batch, 4), box);
        free(box);
        x = ir_resized_crop(g, x, bx, S, S, 0);
    }
    float mean[3], std[3];
    for (int i = 0; i < norm.nmean; i++) mean[i] = (float)norm.mean[i];
    for (int i = 0; i < norm.nstd; i++) std[i] = (float)norm.std[i];
    x = ir_normalize(g, x, ir_const(g, DT_F32, IR_SHAPE(norm.nmean), mean), ir_const(g, DT_F32, IR_SHAPE(norm.nstd), std));
    if (what == ENCODER_FEATURES) return g->failed ? (ir_errf(err, "preprocessing: %.400s", g->err), -1)
                                                   : build_encoder_on(s, batch, x, with_projector, g, err);
    int p = ir_flatten(g, x, 1);
    if (g->failed || p < 0) {
        ir_errf(err, "preprocessing: %.400s", g->err);
        return -1;
    }
    ir_set_name(g, p, "pixels");
    ir_add_output(g, p);
    return 0;
}

/* is value v read by a node or an output? */
static int is_read(const ir_graph *g, int v) {
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].in[k] == v) return 1;
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == v) return 1;
    return 0;
}

/* where loaded tensors go: an interpreter or an engine */
typedef struct {
    interp *it;
    engine *e;
} weights_sink;

static int sink_set(const weights_sink *k, const ir_value *val, const st_tensor *t, char *err) {
    if (k->it) {
        if (val->dtype == DT_F32) return interp_set_f32(k->it, val->id, t->data, err);
        memcpy(interp_data(k->it, val->id), t->data, t->nbytes);
        return 0;
    }
    int v = engine_find(k->e, val->name);
    if (v < 0) return 0; /* the compiled graph no longer needs it */
    if (val->dtype == DT_F32) return engine_set_f32(k->e, v, t->data, err);
    if (!engine_has_value(k->e, v)) return 0; /* folded away by the compiler */
    return engine_upload(k->e, v, t->data, t->nbytes, err);
}

/* every parameter and state tensor g reads, from the weights file encoder_open verified */
static int load_weights(const encoder_source *s, const ir_graph *g, const weights_sink *k, char *err) {
    if (!s->params_path[0]) return 0;
    const st_table *tab = &s->weights.t;
    int rc = 0;
    for (int v = 0; v < g->nvals && !rc; v++) {
        const ir_value *val = &g->vals[v];
        if ((val->kind != VK_PARAM && val->kind != VK_STATE) || !val->name || !is_read(g, v)) continue;
        const st_tensor *t = st_find(tab, val->name);
        if (!t) {
            ir_errf(err, "%.300s: no tensor '%s' (the encoder needs it)", s->params_path, val->name);
            rc = -1;
            break;
        }
        ir_dtype dt;
        ir_shape sh = ir_shape_make(t->ndim, t->shape);
        if (st_dtype_to_ir(t->dtype, &dt) || dt != val->dtype || t->ndim > IR_MAX_DIMS || !ir_shape_eq(&sh, &val->shape)) {
            char a[96], b[96];
            ir_shape_str(&sh, a, sizeof a);
            ir_shape_str(&val->shape, b, sizeof b);
            ir_errf(err, "%.300s: '%.100s' is %s %s, the encoder expects %s %s", s->params_path, val->name,
                     st_dtype_name(t->dtype), a, ir_dtype_name(val->dtype), b);
            rc = -1;
        } else {
            rc = sink_set(k, val, t, err);
        }
    }
    return rc;
}

int encoder_load_weights(const encoder_source *s, interp *it, char *err) {
    if (init_persistent(it, s->plan.seed, err)) return -1;
    weights_sink k = {.it = it};
    return load_weights(s, it->g, &k, err);
}

int encoder_load_engine(const encoder_source *s, const ir_graph *g, engine *e, char *err) {
    if (engine_init_persistent(e, s->plan.seed, err)) return -1;
    weights_sink k = {.e = e};
    return load_weights(s, g, &k, err);
}
