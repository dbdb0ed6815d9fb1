/* Augmentation recipes, the augmentation subgraph and host-side parameter sampling.
 *
 * A pipeline is an ordered list of torchvision transforms (RandomResizedCrop, RandomHorizontalFlip,
 * RandomApply(ColorJitter), RandomGrayscale, RandomApply(GaussianBlur), RandomSolarize) followed by
 * Normalize; a recipe gives the pipeline of each view of a method, as PySSL's builders do (BYOL's
 * augment1/augment2, DINO/SwAV global and local crops, ...).
 *
 * In the step graph, input `images` (u8 [B,C,H,W]) goes through ToFloat and one op per transform
 * (ir/ops/augment.c) to each normalized view; every random choice is a per-sample tensor input
 * named aug.<view>.<param>:
 *   aug.V.box      i32 [B,4]  crop (top, left, height, width)  RandomResizedCrop.get_params
 *   aug.V.flip     f32 [B]    1 = flip                         RandomHorizontalFlip
 *   aug.V.jitter   f32 [B,4]  brightness, contrast, saturation, hue factors
 *   aug.V.order    i32 [B,4]  torchvision's randperm(4); -1 where a factor is None or the
 *                             RandomApply did not fire
 *   aug.V.gray     f32 [B]    1 = grayscale                    RandomGrayscale
 *   aug.V.sigma    f32 [B]    blur sigma, 0 = not applied      RandomApply(GaussianBlur)
 *   aug.V.solarize f32 [B]    1 = solarize (threshold 128/255) RandomSolarize
 * The host draws them per step with aug_draw: sample b of view V at step s uses its own PCG32
 * stream seeded from (seed, s, V, b), so a step's augmentation is a pure function of the seed
 * and step, independent of threads and batch order. Draws follow torchvision's algorithms
 * (10 attempts then the central-crop fallback, Python's round-half-even, factor ranges
 * [max(0, 1-x), 1+x] and [-h, h], RandomApply's `p < rand` test), not its random stream. */
#ifndef SSLC_AUGMENT_H
#define SSLC_AUGMENT_H
#include <stdint.h>

#include "interp.h"
#include "ir/ir.h"
#include "planfile.h"
#include "rng.h"

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

typedef struct {
    const char *name; /* the method whose builder this follows */
    const aug_pipeline *view0, *view1, *local; /* local: views >= 2 (NULL: no local views) */
} aug_recipe;

const aug_recipe *aug_recipe_find(const char *name); /* NULL if unknown */
int aug_recipe_count(void);
const aug_recipe *aug_recipe_at(int i);
const char *aug_recipe_choices(void); /* "barlow_twins, byol, ..." */
/* pipeline of view v: view0, view1, or local for v >= 2 (view1 when there is no local one) */
const aug_pipeline *aug_recipe_view(const aug_recipe *r, int v);

/* Text form, stored in plan files: "crop(scale=0.2:1,ratio=0.75:1.333...,bilinear) flip(p=0.5)
 * jitter(p=0.8,b=0.8,c=0.8,s=0.8,h=0.2) gray(p=0.2) blur(p=0.5,sigma=0.1:2) solarize(p=0.2)";
 * "local" inside crop(...) marks a local view. Parse errors: one line in err. */
int aug_pipeline_format(const aug_pipeline *p, char *buf, size_t n); /* -1 if it does not fit */
int aug_pipeline_parse(const char *s, aug_pipeline *p, char *err);
int aug_pipeline_check(const aug_pipeline *p, char *err); /* ranges as torchvision checks them */

/* PySSL's kernel size for GaussianBlur: image_size // 20 * 2 + 1 */
int64_t aug_blur_kernel(int64_t image_size);

/* Normalize's mean and std (n values each, 1 or C) */
typedef struct {
    int nmean, nstd;
    double mean[3], std[3];
} aug_norm;
/* PySSL's default mean (0.5,) and std (0.229, 0.224, 0.225); one channel: std 0.226 (their
 * mean; PySSL's 3-value std would broadcast a 1-channel image to 3 channels) */
aug_norm aug_default_norm(int channels);
/* "0.5" or "0.485,0.456,0.406" into mean or std; -1 with err */
int aug_parse_floats(const char *s, double *v, int *n, const char *what, char *err);

/* Adds the augmentation of one view to g: ToFloat(images) (shared between views) through the
 * pipeline's ops to Normalize, output [B,C,out_h,out_w] f32; creates the view's aug.<view>.*
 * inputs. image_size (the global view size) sets the blur kernel as PySSL does. A pipeline
 * without a crop needs out_h x out_w = the images' size. Returns the view or -1 (g->err). */
int aug_build_view(ir_graph *g, const aug_pipeline *p, int view, int images, int64_t out_h, int64_t out_w,
                   int64_t image_size, const aug_norm *norm);

/* Places the augmentation in front of a method graph: builds `images` (u8 [B,C,src_h,src_w],
 * C and B from the views) and the view of every views.<k> input of `method` (pipeline
 * aug_recipe_view(r, k), output size = that input's), then appends `method` to g with views.<k>
 * replaced by the augmented views (which take the names views.<k>). map (method->nvals
 * entries) receives the method's value ids in g. Returns 0 or -1 with err. */
int aug_attach(ir_graph *g, const ir_graph *method, const aug_recipe *r, int64_t src_h, int64_t src_w,
               int64_t image_size, const aug_norm *norm, int *map, char *err);
/* Records the pipeline of every view k of g (values views.<k>) as plan option aug.view.<k>. */
int aug_plan_options(sslc_plan *p, const ir_graph *g, const aug_recipe *r, char *err);

/* ---- host side: binding a compiled graph's aug.* inputs and drawing them ---- */
typedef enum { AP_BOX, AP_FLIP, AP_JITTER, AP_ORDER, AP_GRAY, AP_SIGMA, AP_SOLARIZE, AP__COUNT } aug_param;

typedef struct {
    char name[40];  /* aug.<view>.<param> */
    int value;      /* graph value id */
    int view;       /* index into the binding's views */
    aug_param param;
    ir_dtype dtype; /* DT_I32 or DT_F32 */
    int64_t numel;
    void *data;     /* host buffer (int32_t or float), filled by aug_draw */
} aug_input;

typedef struct {
    int nviews;
    int view_id[AUG_MAX_VIEWS]; /* the <view> of aug.<view>.* */
    aug_pipeline pipe[AUG_MAX_VIEWS];
    int64_t batch, src_c, src_h, src_w; /* from `images` */
    int images;                         /* value id of `images` */
    int slot[AUG_MAX_VIEWS][AP__COUNT]; /* index into in[] of each view's parameter, -1 if none */
    int ninputs;
    aug_input in[AUG_MAX_VIEWS * AP__COUNT];
} aug_binding;

/* Binds the aug.* inputs of g to pipelines (view_ids[i] uses pipes[i]); every aug.* input
 * must belong to a given view and every step's inputs must exist with the right shape. */
int aug_bind(aug_binding *b, const ir_graph *g, const aug_pipeline *const *pipes, const int *view_ids, int n,
             char *err);
/* Same for the plan's train graph, with the pipelines of its options aug.view.<k>; a graph
 * without aug.* inputs binds to nothing (b->nviews = 0). */
int aug_bind_plan(aug_binding *b, const sslc_plan *p, char *err);
void aug_unbind(aug_binding *b);
/* Draws every bound input for (seed, step) into its host buffer. */
int aug_draw(aug_binding *b, uint64_t seed, int64_t step, char *err);
/* Copies the host buffers into the interpreter's inputs. */
int aug_feed_interp(const aug_binding *b, interp *it, char *err);

/* The per-sample samplers (torchvision's get_params), exposed for tests. */
void aug_sample_crop(sslc_rng *r, int64_t H, int64_t W, const double scale[2], const double ratio[2], int32_t box[4]);
/* one sample of every step of p: writes the parameters of each kind present (NULL: not wanted) */
void aug_sample(sslc_rng *r, const aug_pipeline *p, int64_t H, int64_t W, int32_t box[4], float *flip,
                float jitter[4], int32_t order[4], float *gray, float *sigma, float *solarize);
/* the generator of sample b of view `view` at `step` */
void aug_rng(sslc_rng *r, uint64_t seed, int64_t step, int view, int64_t b);

#endif
