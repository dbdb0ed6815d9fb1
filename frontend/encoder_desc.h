/* What a program outside sslc needs to run a trained encoder: the backbone as built (auto choices
 * resolved), the input it expects, and the preprocessing the plan trained with. Written as
 * backbone.json into every run directory (read by the Python package in python/, which does not
 * need sslc) and as metadata_props of `sslc export`'s ONNX models. */
#ifndef SSLC_ENCODER_DESC_H
#define SSLC_ENCODER_DESC_H
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"

#define BACKBONE_JSON "backbone.json"
#define BACKBONE_JSON_FORMAT "sslc-backbone"
#define BACKBONE_JSON_VERSION 1

typedef struct {
    char method[64], backbone[32]; /* backbone: resnet18 ... vit-small, or onnx (imported) */
    double width;
    int64_t feat_dim;
    int image_size, channels;
    int64_t source_h, source_w; /* the u8 images the plan trained on, before its resize */
    int cifar_stem;             /* ResNets: 1 or 0; -1 for other backbones */
    int patch_size, depth;      /* ViTs; 0 for other backbones */
    double mean[3], std[3];     /* per channel */
} encoder_desc;

int encoder_describe(const encoder_source *s, encoder_desc *d, char *err);
/* "0.5,0.5,0.5" (channels values) into out */
void encoder_desc_floats(const double *v, int n, char *out, size_t size);
/* backbone.json's text (one JSON object, newline-terminated); -1 when it does not fit */
int encoder_desc_json(const encoder_desc *d, char *out, size_t size);
/* Describes the encoder of the plan at plan_path into path (written atomically). 0, or -1 with one
 * line in err. */
int backbone_json_write(const char *plan_path, const char *path, char *err);

#endif
