/* The trained encoder for inference (`sslc export`, `sslc features`): where it comes from, its
 * eval-mode forward graph (rebuilt from the plan's options through the backbone builders with
 * training = 0: BatchNorm uses the running statistics) and its weights.
 *
 * SOURCE is a checkpoint file X/checkpoint.safetensors (with X/plan.plan beside it), a plan
 * file (weights from --params P.safetensors, or the plan's initialization
 * without), or a directory holding plan.plan and checkpoint.safetensors (a run directory). */
#ifndef SSLC_ENCODER_H
#define SSLC_ENCODER_H
#include <stdint.h>

#include "../methods/method.h"
#include "../runtime/checkpoint.h"
#include "../runtime/engine.h"
#include "../runtime/interp.h"
#include "../runtime/planfile.h"
#include "augment_build.h"
#include "onnx.h"

#define ENCODER_PLAN_IN_DIR "plan.plan"
#define ENCODER_CHECKPOINT_IN_DIR "checkpoint.safetensors"

typedef struct {
    sslc_plan plan;
    char plan_path[4096];
    char params_path[4096]; /* "" : the plan's initial values */
    ckpt_file weights;      /* params_path read and verified by encoder_open (checksum, NaN / Inf) */
    const method_def *method;
    double val[METHOD_MAX_OPTS]; /* the method's options as the plan records them */
    backbone_cfg backbone;
    onnx_model *imported; /* backbone "onnx": the model decoded from the plan's copy (plan.backbone_onnx) */
    backbone_ext ext;
} encoder_source;

/* Opens SOURCE (see above); params, when not NULL, overrides where the weights come from. The
 * weights file is read and verified here, as `run --resume` reads it (runtime/checkpoint.h): a
 * corrupted checkpoint or one holding NaN is refused before anything is compiled or evaluated. */
int encoder_open(encoder_source *s, const char *source, const char *params, char *err);
void encoder_close(encoder_source *s);

/* Builds the eval-mode encoder into g (ir_graph_init'ed): input "images" [batch, C, H, W] f32;
 * outputs: the backbone features [batch, F], then with with_projector the method's projection. */
int encoder_build(const encoder_source *s, int64_t batch, int with_projector, ir_graph *g, char *err);

/* As encoder_build, but "images" holds pixels in [0, 1] (u8 / 255) and the graph first normalizes
 * them with the plan's mean and std, (x - mean) / std (constants normalize.mean / normalize.std,
 * [1, C, 1, 1]). */
int encoder_build_pixels(const encoder_source *s, int64_t batch, int with_projector, ir_graph *g, char *err);

/* The images a dataset gives become encoder inputs as the training views do at their core,
 * without the random parts: ToFloat (u8 / 255), a bilinear resize of the whole image when its
 * size differs from the plan's image size, Normalize with the plan's mean and std. */
typedef enum { ENCODER_FEATURES, ENCODER_PIXELS } encoder_output;

/* The Normalize the plan's augmentation used (options aug.mean / aug.std; plans compiled with
 * --augment none record none: PySSL's defaults, aug_default_norm). */
int encoder_norm(const encoder_source *s, aug_norm *norm, char *err);
/* The size of the u8 images the plan trained on (its `images` input; the image size for plans
 * without augmentation). */
void encoder_source_size(const encoder_source *s, int64_t *h, int64_t *w);

/* Builds the eval graph from u8 images into g (ir_graph_init'ed): input "images" u8
 * [batch, C, src_h, src_w], the preprocessing above, then the encoder with the outputs of
 * encoder_build (ENCODER_FEATURES: features, then with with_projector the projection) or the
 * normalized pixels flattened to [batch, C*H*W] (ENCODER_PIXELS, output "pixels"). */
int encoder_build_images(const encoder_source *s, int64_t batch, int64_t src_h, int64_t src_w, encoder_output what,
                         int with_projector, ir_graph *g, char *err);

/* Fills the parameters and state of it->g: the plan's initialization, then every tensor the graph
 * reads from the weights file (which must have them all, with matching shapes). */
int encoder_load_weights(const encoder_source *s, interp *it, char *err);
/* The same for an engine built from graph g (values matched by name). */
int encoder_load_engine(const encoder_source *s, const ir_graph *g, engine *e, char *err);

#endif
