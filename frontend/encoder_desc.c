#include "encoder_desc.h"

#include <stdio.h>
#include <string.h>

#include "../runtime/fileio.h"

int encoder_describe(const encoder_source *s, encoder_desc *d, char *err) {
    memset(d, 0, sizeof *d);
    const backbone_cfg *bb = &s->backbone;
    aug_norm norm;
    if (encoder_norm(s, &norm, err)) return -1;
    snprintf(d->method, sizeof d->method, "%s", s->method->name);
    snprintf(d->backbone, sizeof d->backbone, "%s", bb->name);
    d->width = bb->width;
    d->feat_dim = backbone_feat_dim(bb);
    d->image_size = bb->image_size;
    d->channels = bb->channels;
    encoder_source_size(s, &d->source_h, &d->source_w);
    d->cifar_stem = strncmp(bb->name, "resnet", 6) == 0 ? resnet_cifar_stem(bb) : -1;
    d->patch_size = backbone_patch_size(bb);
    d->depth = backbone_depth(bb);
    /* one value stands for every channel (Normalize broadcasts it) */
    for (int c = 0; c < bb->channels && c < 3; c++) {
        d->mean[c] = norm.mean[norm.nmean == 1 ? 0 : c];
        d->std[c] = norm.std[norm.nstd == 1 ? 0 : c];
    }
    return 0;
}

void encoder_desc_floats(const double *v, int n, char *out, size_t size) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n && k < size; i++) k += (size_t)snprintf(out + k, size - k, "%s%.9g", i ? "," : "", v[i]);
}

int encoder_desc_json(const encoder_desc *d, char *out, size_t size) {
    char mean[96], std[96];
    encoder_desc_floats(d->mean, d->channels, mean, sizeof mean);
    encoder_desc_floats(d->std, d->channels, std, sizeof std);
    int n = snprintf(out, size,
                     "{\"format\": \"%s\", \"version\": %d, \"method\": \"%s\", \"backbone\": \"%s\", \"width\": %.9g,\n"
                     " \"feat_dim\": %lld, \"image_size\": %d, \"channels\": %d, \"source_size\": [%lld, %lld],\n"
                     " \"cifar_stem\": %s, \"patch_size\": %d, \"depth\": %d, \"mean\": [%s], \"std\": [%s],\n"
                     " \"prefix\": \"backbone.\"}\n",
                     BACKBONE_JSON_FORMAT, BACKBONE_JSON_VERSION, d->method, d->backbone, d->width,
                     (long long)d->feat_dim, d->image_size, d->channels, (long long)d->source_h,
                     (long long)d->source_w, d->cifar_stem < 0 ? "null" : d->cifar_stem ? "true" : "false",
                     d->patch_size, d->depth, mean, std);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int backbone_json_write(const char *plan_path, const char *path, char *err) {
    encoder_source s;
    encoder_desc d;
    char text[1024];
    int rc = encoder_open(&s, plan_path, NULL, err) || encoder_describe(&s, &d, err), n = 0;
    encoder_close(&s);
    if (rc) return -1;
    if ((n = encoder_desc_json(&d, text, sizeof text)) < 0) {
        ir_errf(err, "%s: description too long", path);
        return -1;
    }
    const void *parts[1] = {text};
    size_t len = (size_t)n;
    return sslc_write_atomic(path, parts, &len, 1, err);
}
