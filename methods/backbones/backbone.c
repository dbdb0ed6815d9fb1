#include "backbone.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*build)(mbuild *, const backbone_cfg *, int);
    int64_t (*feat)(const backbone_cfg *);
    int (*check)(const backbone_cfg *, char *err); /* backbone-specific options, or NULL */
} backbone_def;

static const backbone_def backbones[] = {
    {"resnet18", resnet_build, resnet_feat_dim, NULL},  {"resnet34", resnet_build, resnet_feat_dim, NULL},
    {"resnet50", resnet_build, resnet_feat_dim, NULL},  {"convnet", convnet_build, convnet_feat_dim, NULL},
    {"vit-tiny", vit_build, vit_feat_dim, vit_check}, {"vit-small", vit_build, vit_feat_dim, vit_check},
};
#define NBACKBONES (int)(sizeof backbones / sizeof backbones[0])

const char *backbone_choices(void) { return "resnet18, resnet34, resnet50, convnet, vit-tiny, vit-small"; }

static const backbone_def *find(const char *name) {
    for (int i = 0; i < NBACKBONES; i++)
        if (strcmp(backbones[i].name, name) == 0) return &backbones[i];
    return NULL;
}

static int is_ext(const backbone_cfg *cfg) { return cfg->ext && strcmp(cfg->name, "onnx") == 0; }
static int is_vit(const backbone_def *d) { return d && d->build == vit_build; }

int backbone_patch_size(const backbone_cfg *cfg) { return is_vit(find(cfg->name)) ? vit_patch_size(cfg) : 0; }
int backbone_depth(const backbone_cfg *cfg) {
    return is_vit(find(cfg->name)) ? (cfg->depth > 0 ? cfg->depth : 12) : 0;
}

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
    const backbone_def *d = find(cfg->name);
    if (!d) {
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
    if (!is_vit(d) && (cfg->patch_size || cfg->depth)) {
        snprintf(err, IR_ERRLEN, "--%s applies to the ViT backbones (vit-tiny, vit-small), not %s",
                 cfg->patch_size ? "patch-size" : "depth", cfg->name);
        return -1;
    }
    if (backbone_feat_dim(cfg) < 1) {
        snprintf(err, IR_ERRLEN, "--width %g leaves the backbone with no channels", cfg->width);
        return -1;
    }
    return d->check ? d->check(cfg, err) : 0;
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
