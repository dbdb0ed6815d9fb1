/* Image encoders. Parameters and BatchNorm buffers are named as in torchvision's (ResNets) or
 * timm's (ViTs) state_dict() under the scope the caller pushes (methods push "backbone"). */
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
    char name[32];  /* resnet18 | resnet34 | resnet50 | convnet | vit-tiny | vit-small | onnx (with ext) */
    double width;   /* width multiplier: ResNet base width 64*width, ConvNet 32*width,
                       ViT embedding dim 192*width / 384*width (the heads must divide it) */
    int image_size; /* input H = W */
    int channels;   /* input channels, 1 or 3 */
    int cifar_stem; /* 1: 3x3/1 conv, no max pool; 0: ImageNet stem; -1: auto (image_size <= 64) */
    int patch_size; /* ViT patch side; 0: auto (4 for image_size <= 64, else 16); ViTs only */
    int depth;      /* ViT blocks; 0: the model's (12); ViTs only */
    const backbone_ext *ext; /* name "onnx": the imported encoder (not owned) */
} backbone_cfg;

/* "resnet18, resnet34, resnet50, convnet, vit-tiny, vit-small" */
const char *backbone_choices(void);
/* validates the configuration; -1 with one line in err (IR_ERRLEN) */
int backbone_check(const backbone_cfg *cfg, char *err);
/* feature dimension of the backbone output */
int64_t backbone_feat_dim(const backbone_cfg *cfg);
/* x: [N, channels, image_size, image_size] -> [N, feat_dim] */
int backbone_build(mbuild *mb, const backbone_cfg *cfg, int x);

int resnet_build(mbuild *mb, const backbone_cfg *cfg, int x);
int64_t resnet_feat_dim(const backbone_cfg *cfg);
/* whether a ResNet uses the CIFAR stem (cifar_stem -1 resolved by the image size) */
int resnet_cifar_stem(const backbone_cfg *cfg);
/* the patch size a ViT uses (the auto rule applied); 0 for other backbones */
int backbone_patch_size(const backbone_cfg *cfg);
/* the number of blocks a ViT uses; 0 for other backbones */
int backbone_depth(const backbone_cfg *cfg);

int convnet_build(mbuild *mb, const backbone_cfg *cfg, int x);
int64_t convnet_feat_dim(const backbone_cfg *cfg);
int vit_build(mbuild *mb, const backbone_cfg *cfg, int x);
int64_t vit_feat_dim(const backbone_cfg *cfg);
int vit_check(const backbone_cfg *cfg, char *err); /* patch size, depth, heads | embed dim */
int vit_patch_size(const backbone_cfg *cfg);
/* Pieces of the ViT for methods that run its layers on their own token sets (MAE's encoder on the
 * visible patches and its decoder), with timm's names and initialization:
 * vit_blocks: `scope`.0 .. `scope`.(depth-1) timm Blocks (MLP ratio 4) on tokens as rows t [N*T, D];
 * vit_linear: Linear `name` on rows [R, in] -> [R, out]; vit_layernorm: LayerNorm eps 1e-6. */
int vit_blocks(mbuild *mb, const char *scope, int t, int64_t N, int64_t T, int64_t D, int64_t heads, int64_t depth);
int vit_linear(mbuild *mb, const char *name, int x, int64_t in, int64_t out);
int vit_layernorm(mbuild *mb, const char *name, int x, int64_t dim);
/* patch_embed.proj on images [N, C, S, S] -> patch tokens [N, L, D] (no class token, no position) */
int vit_patch_tokens(mbuild *mb, const backbone_cfg *cfg, int x);
/* the parameters cls_token [1, 1, D] and pos_embed [1, L+1, D] (class token's row first) */
void vit_token_params(mbuild *mb, const backbone_cfg *cfg, int *cls, int *pos);

#endif
