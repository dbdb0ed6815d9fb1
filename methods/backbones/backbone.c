#include "backbone.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*build)(mbuild *, const backbone_cfg *, int);
    int64_t (*feat)(const backbone_cfg *);
} backbone_def;

static const backbone_def backbones[] = {
    {"resnet18", resnet_build, resnet_feat_dim},
    {"resnet34", resnet_build, resnet_feat_dim},
    {"resnet50", resnet_build, resnet_feat_dim},
    {"convnet", convnet_build, convnet_feat_dim},
};
#define NBACKBONES (int)(sizeof backbones / sizeof backbones[0])

const char *backbone_choices(void) { return "resnet18, resnet34, resnet50, convnet"; }

static const backbone_def *find(const char *name) {
    for (int i = 0; i < NBACKBONES; i++)
        if (strcmp(backbones[i].name, name) == 0) return &backbones[i];
    return NULL;
}

static int is_ext(const backbone_cfg *cfg) { return cfg->ext && strcmp(cfg->name, "onnx") == 0; }

int backbone_check(const backbone_cfg *cfg, char *err) {
    if (is_ext(cfg)) {
        if (cfg->channels < 1 || cfg->channels > 3) {
            snprintf(err, IR_ERRLEN, "--channels must be 1 or 3, got %d", cfg->channels);
            return -1;
        }
        if (cfg->image_size < 8 || cfg->image_size > 1024) {
            snprintf(err, IR_ERRLEN, "--image-size must be in [8, 1024], got %d", cfg->image_size);
            return -1;
        }
        return 0;
    }
    if (!find(cfg->name)) {
        snprintf(err, IR_ERRLEN, "unknown backbone '%s' (choose one of: %s)", cfg->name, backbone_choices());
        return -1;
    }
    if (cfg->channels != 1 && cfg->channels != 3) {
        snprintf(err, IR_ERRLEN, "--channels must be 1 or 3, got %d", cfg->channels);
        return -1;
    }
    if (cfg->width <= 0 || cfg->width > 16) {
        snprintf(err, IR_ERRLEN, "--width must be in (0, 16], got %g", cfg->width);
        return -1;
    }
    if (cfg->image_size < 8 || cfg->image_size > 1024) {
        snprintf(err, IR_ERRLEN, "--image-size must be in [8, 1024], got %d", cfg->image_size);
        return -1;
    }
    if (backbone_feat_dim(cfg) < 1) {
        snprintf(err, IR_ERRLEN, "--width %g leaves the backbone with no channels", cfg->width);
        return -1;
    }
    return 0;
}

int64_t backbone_feat_dim(const backbone_cfg *cfg) {
    if (is_ext(cfg)) return cfg->ext->feat_dim;
    const backbone_def *d = find(cfg->name);
    return d ? d->feat(cfg) : -1;
}

int backbone_build(mbuild *mb, const backbone_cfg *cfg, int x) {
    if (is_ext(cfg)) return cfg->ext->build(cfg->ext->ctx, mb, x);
    const backbone_def *d = find(cfg->name);
    if (!d) return ir_fail(mb->g, "unknown backbone '%s' (choose one of: %s)", cfg->name, backbone_choices());
    return d->build(mb, cfg, x);
}
