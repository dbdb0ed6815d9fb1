/* Multi-crop views (DINO, SwAV) and parameters that a method replaces at the start of each
 * step (SwAV's normalized prototypes). See method.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "method.h"

int method_local_size(int image_size) { return (int)floor(3.0 * image_size / 7.0 + 0.5); }

int method_local_crop_size(const backbone_cfg *backbone) {
    int p = backbone_patch_size(backbone);
    if (p <= 0) return method_local_size(backbone->image_size);
    return p * (int)floor(3.0 * backbone->image_size / (7.0 * p) + 0.5);
}

int method_check_num_crops(const method_ctx *ctx, char *err) {
    double v = mopt(ctx, "num_crops");
    if (v < 0 || v > METHOD_MAX_VIEWS - 2) {
        snprintf(err, IR_ERRLEN, "num_crops must be in [0, %d], got %g", METHOD_MAX_VIEWS - 2, v);
        return -1;
    }
    int local = method_local_crop_size(&ctx->backbone), patch = backbone_patch_size(&ctx->backbone);
    if (v > 0 && patch > 0 && local < patch) {
        snprintf(err, IR_ERRLEN,
                 "num_crops = %g needs local crops of at least one %dx%d patch, but --image-size %d gives %dx%d "
                 "(3/7 * image size rounded to whole patches); use a smaller --patch-size, a larger image or "
                 "num_crops=0",
                 v, patch, patch, ctx->backbone.image_size, local, local);
        return -1;
    }
    if (v > 0 && local < 4) {
        snprintf(err, IR_ERRLEN,
                 "num_crops = %g needs local crops of at least 4x4, but --image-size %d gives %dx%d "
                 "(round(3/7 * image size)); use a larger image or num_crops=0",
                 v, ctx->backbone.image_size, local, local);
        return -1;
    }
    return 0;
}

int method_multicrop_views(method_ctx *ctx, int64_t num_crops) {
    ir_graph *g = ctx->g;
    int64_t b = ctx->batch, c = ctx->backbone.channels, s = ctx->backbone.image_size,
            l = method_local_crop_size(&ctx->backbone);
    if (num_crops < 0 || num_crops > METHOD_MAX_VIEWS - 2)
        return ir_fail(g, "num_crops must be in [0, %d], got %lld", METHOD_MAX_VIEWS - 2, (long long)num_crops);
    ctx->nviews = (int)(2 + num_crops);
    for (int v = 0; v < ctx->nviews; v++) {
        char name[32];
        snprintf(name, sizeof name, "views.%d", v);
        int64_t hw = v < 2 ? s : l;
        ctx->views[v] = ir_input(g, name, DT_F32, IR_SHAPE(b, c, hw, hw));
    }
    return g->failed ? -1 : 0;
}

int grad_mask(ir_graph *g, int x, int mask) {
    /* (x - sg(x)) * mask + sg(x): x - x is exactly 0, so the forward value is exactly x */
    int sg = ir_stop_gradient(g, x);
    return ir_add(g, ir_mul(g, ir_sub(g, x, sg), mask), sg);
}

int method_param_current(method_ctx *ctx, int param, int value) {
    ir_graph *g = ctx->g;
    if (g->failed) return -1;
    if (param < 0 || param >= g->nvals || g->vals[param].kind != VK_PARAM || value < 0 || value >= g->nvals)
        return ir_fail(g, "method_param_current: not a parameter and a value");
    if (!ir_shape_eq(&g->vals[param].shape, &g->vals[value].shape) || g->vals[value].dtype != g->vals[param].dtype)
        return ir_fail(g, "method_param_current: the value of '%s' has another shape or dtype", g->vals[param].name);
    for (int u = 0; u < g->nupdates; u++)
        if (g->updates[u].dst == param)
            return ir_fail(g, "method_param_current: '%s' already has a current value", g->vals[param].name);
    ir_add_update(g, param, value);
    return 0;
}

int method_param_use(method_ctx *ctx, int param, int value, int mask) {
    ir_graph *g = ctx->g;
    /* (p - sg(p)) [* mask] + sg(value): exactly `value`, with d/dp = mask * incoming gradient */
    int d = ir_sub(g, param, ir_stop_gradient(g, param));
    if (mask >= 0) d = ir_mul(g, d, mask);
    return ir_add(g, d, ir_stop_gradient(g, value));
}
