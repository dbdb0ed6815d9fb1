/* An augmentation pipeline as plain data, shared by the compile side (frontend/augment_build.h:
 * recipes, the augmentation subgraph, plan options) and the run time (runtime/augment.h: binding
 * and drawing the per-sample parameters). The compile side writes a pipeline into the plan in
 * its text form and the run time reads it back, so both meet here and nowhere else.
 *
 * A pipeline is an ordered list of torchvision transforms (RandomResizedCrop, RandomHorizontalFlip,
 * RandomApply(ColorJitter), RandomGrayscale, RandomApply(GaussianBlur), RandomSolarize) followed by
 * Normalize. Every random choice of view V is a per-sample graph input aug.<V>.<param>:
 *   aug.V.box      i32 [B,4]  crop (top, left, height, width)  RandomResizedCrop.get_params
 *   aug.V.flip     f32 [B]    1 = flip                         RandomHorizontalFlip
 *   aug.V.jitter   f32 [B,4]  brightness, contrast, saturation, hue factors
 *   aug.V.order    i32 [B,4]  torchvision's randperm(4); -1 where a factor is None or the
 *                             RandomApply did not fire
 *   aug.V.gray     f32 [B]    1 = grayscale                    RandomGrayscale
 *   aug.V.sigma    f32 [B]    blur sigma, 0 = not applied      RandomApply(GaussianBlur)
 *   aug.V.solarize f32 [B]    1 = solarize (threshold 128/255) RandomSolarize */
#ifndef SSLC_AUG_PIPELINE_H
#define SSLC_AUG_PIPELINE_H
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

#define AUG_MAX_STEPS 8
#define AUG_MAX_VIEWS 16
#define AUG_TEXTLEN 256 /* fits a plan option value */

typedef enum { AUG_CROP, AUG_FLIP, AUG_JITTER, AUG_GRAY, AUG_BLUR, AUG_SOLARIZE, AUG__KINDS } aug_kind;

typedef struct {
    aug_kind kind;
    double p;    /* probability; JITTER/BLUR: RandomApply p (>= 1: always, no draw) */
    double a[4]; /* CROP: scale min, max, ratio min, max; JITTER: brightness, contrast, saturation,
                    hue strengths as ColorJitter's arguments; BLUR: sigma min, max */
    int bicubic; /* CROP: bicubic instead of bilinear interpolation */
} aug_step;

typedef struct {
    int nsteps;
    aug_step steps[AUG_MAX_STEPS];
    int local; /* multi-crop local view: output int(image_size * 3/7) */
} aug_pipeline;

/* "crop", "flip", ... as the text form spells them; NULL for a kind out of range */
const char *aug_kind_name(aug_kind k);

/* Text form, stored in plan files: "crop(scale=0.2:1,ratio=0.75:1.333...,bilinear) flip(p=0.5)
 * jitter(p=0.8,b=0.8,c=0.8,s=0.8,h=0.2) gray(p=0.2) blur(p=0.5,sigma=0.1:2) solarize(p=0.2)";
 * "local" inside crop(...) marks a local view. Parse errors: one line in err. */
int aug_pipeline_format(const aug_pipeline *p, char *buf, size_t n); /* -1 if it does not fit */
int aug_pipeline_parse(const char *s, aug_pipeline *p, char *err);
int aug_pipeline_check(const aug_pipeline *p, char *err); /* ranges as torchvision checks them */

/* the per-sample parameters, one graph input each */
typedef enum { AP_BOX, AP_FLIP, AP_JITTER, AP_ORDER, AP_GRAY, AP_SIGMA, AP_SOLARIZE, AP__COUNT } aug_param;

/* The graph input of parameter k of view `view` at batch B: its name aug.<view>.<param> (into
 * name, n bytes), dtype and shape, as the subgraph creates it and the binding looks it up.
 * -1 for a parameter out of range. */
int aug_param_input(int view, aug_param k, int64_t B, char *name, size_t n, ir_dtype *dt, ir_shape *shape);

#endif
