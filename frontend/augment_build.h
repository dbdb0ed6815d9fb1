/* The compile-time half of augmentation: recipes (the pipeline of each view of a method, as
 * PySSL's builders give them: BYOL's augment1/augment2, DINO/SwAV global and local crops, ...),
 * the augmentation subgraph in front of a method graph, and the plan options that record each
 * view's pipeline for the run time (runtime/augment.h binds and draws from them).
 *
 * In the step graph, input `images` (u8 [B,C,H,W]) goes through ToFloat and one op per transform
 * (ir/ops/augment.c) to each normalized view; every random choice is a per-sample graph input
 * aug.<view>.<param> (aug_pipeline.h). */
#ifndef SSLC_AUGMENT_BUILD_H
#define SSLC_AUGMENT_BUILD_H
#include <stdint.h>

#include "../ir/ir.h"
#include "../runtime/aug_pipeline.h"
#include "../runtime/planfile.h"

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

#endif
