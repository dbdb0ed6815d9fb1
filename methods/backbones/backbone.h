/* Image encoders. Parameters and BatchNorm buffers are named as in torchvision's
 * state_dict() under the scope the caller pushes (methods push "backbone"). */
#ifndef SSLC_BACKBONE_H
#define SSLC_BACKBONE_H
#include "../mbuild.h"

/* A backbone whose graph comes from outside methods/ (an imported ONNX model, see
 * frontend/onnx_import.c): backbone_cfg.name "onnx" with `ext` set. build() adds the encoder's
 * nodes for input x through the mbuild context (parameters via mb_param, BatchNorm statistics
 * via mb_state, training or eval mode from mb->training) and returns the [N, feat_dim] output,
 * or -1 with the graph's error set. */
typedef struct backbone_ext {
    int64_t feat_dim;
    int (*build)(void *ctx, mbuild *mb, int x);
    void *ctx;
} backbone_ext;

typedef struct {
    char name[32];  /* resnet18 | resnet34 | resnet50 | convnet | onnx (with ext) */
    double width;   /* width multiplier: ResNet base width 64*width */
    int image_size; /* input H = W */
    int channels;   /* input channels, 1 or 3 */
    int cifar_stem; /* 1: 3x3/1 conv, no max pool; 0: ImageNet stem; -1: auto (image_size <= 64) */
    const backbone_ext *ext; /* name "onnx": the imported encoder (not owned) */
} backbone_cfg;

/* "resnet18, resnet34, resnet50, convnet" */
const char *backbone_choices(void);
/* validates the configuration; -1 with one line in err (IR_ERRLEN) */
int backbone_check(const backbone_cfg *cfg, char *err);
/* feature dimension of the backbone output */
int64_t backbone_feat_dim(const backbone_cfg *cfg);
/* x: [N, channels, image_size, image_size] -> [N, feat_dim] */
int backbone_build(mbuild *mb, const backbone_cfg *cfg, int x);

int resnet_build(mbuild *mb, const backbone_cfg *cfg, int x);
int64_t resnet_feat_dim(const backbone_cfg *cfg);
int convnet_build(mbuild *mb, const backbone_cfg *cfg, int x);
int64_t convnet_feat_dim(const backbone_cfg *cfg);

#endif
