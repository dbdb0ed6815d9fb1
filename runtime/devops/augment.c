/* The augmentation ops of ir/ops/augment.c on the device (kernels: augment.cuh): ToFloat,
 * ResizedCrop, HorizontalFlip, ColorJitter, Grayscale, GaussianBlur, Solarize, Normalize, on f32
 * images (the cuda backend's float width; ToFloat from u8). */
#include <stdio.h>
#include <string.h>

#include "../devops.h"
#include "augment.cuh"

static void aug_launch(devop_launch *l, const char *kernel, int64_t n) {
    memset(l, 0, sizeof *l);
    l->kernel = kernel;
    l->args.n = n;
}

/* input k and the output f32, input 0 an f32 [B,C,H,W] batch; 0 or -1 with err */
static int aug_check(const ref_call *c, int nparams, const int *param_k, const ir_dtype *param_dt, char *err) {
    const char *op = ir_optable[c->node->op]->name;
    if (c->in[0].dtype != DT_F32 || c->out[0].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "%s on %s images has no device kernel (f32 only)", op, ir_dtype_name(c->in[0].dtype));
        return -1;
    }
    if (c->in[0].shape.ndim != 4) {
        snprintf(err, IR_ERRLEN, "%s on rank-%d images has no device kernel ([B,C,H,W] only)", op, c->in[0].shape.ndim);
        return -1;
    }
    for (int j = 0; j < nparams; j++)
        if (c->in[param_k[j]].dtype != param_dt[j]) {
            snprintf(err, IR_ERRLEN, "%s with %s input %d has no device kernel (%s only)", op,
                     ir_dtype_name(c->in[param_k[j]].dtype), param_k[j], ir_dtype_name(param_dt[j]));
            return -1;
        }
    return 0;
}

#define DIMS(k)                                                                                                    \
    int64_t B = c->in[k].shape.d[0], C = c->in[k].shape.d[1], H = c->in[k].shape.d[2], W = c->in[k].shape.d[3];     \
    (void)B, (void)C, (void)H, (void)W

static int to_float_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    if (c->in[0].dtype != DT_U8 || c->out[0].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "ToFloat from %s to %s has no device kernel (u8 to f32 only)",
                 ir_dtype_name(c->in[0].dtype), ir_dtype_name(c->out[0].dtype));
        return -1;
    }
    aug_launch(l, "ToFloat", c->out[0].numel);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->out[0].data;
    return 1;
}

static int resized_crop_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    if (aug_check(c, 1, (int[]){1}, (ir_dtype[]){DT_I32}, err)) return -1;
    DIMS(0);
    int64_t interp = ir_get_i(c->node, "interpolation");
    if (interp != 0 && interp != 1) {
        snprintf(err, IR_ERRLEN, "ResizedCrop with interpolation %lld has no device kernel (0 bilinear, 1 bicubic)",
                 (long long)interp);
        return -1;
    }
    aug_launch(l, "ResizedCrop", c->out[0].numel);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->out[0].data;
    int64_t *a = l->args.i;
    a[0] = B, a[1] = C, a[2] = H, a[3] = W, a[4] = c->out[0].shape.d[2], a[5] = c->out[0].shape.d[3];
    a[6] = interp;
    return 1;
}

static int hflip_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    if (aug_check(c, 1, (int[]){1}, (ir_dtype[]){DT_F32}, err)) return -1;
    DIMS(0);
    aug_launch(l, "HorizontalFlip", c->out[0].numel);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->out[0].data;
    l->args.i[0] = C * H * W, l->args.i[1] = W;
    return 1;
}

static int64_t color_jitter_scratch(const ref_call *c) { return c->in[0].shape.d[0] * 4 * (int64_t)sizeof(float); }

static int color_jitter_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    if (aug_check(c, 2, (int[]){1, 2}, (ir_dtype[]){DT_F32, DT_I32}, err)) return -1;
    DIMS(0);
    if (C != 1 && C != 3) {
        snprintf(err, IR_ERRLEN, "ColorJitter on %lld channels has no device kernel (1 or 3)", (long long)C);
        return -1;
    }
    aug_launch(&l[0], "ColorJitterMean", B);
    aug_launch(&l[1], "ColorJitter", B * H * W);
    for (int k = 0; k < 2; k++) {
        devop_args *a = &l[k].args;
        a->p[0] = c->in[0].data, a->p[1] = c->in[1].data, a->p[2] = c->in[2].data, a->p[3] = c->out[0].data;
        a->p[4] = ws;
        a->i[0] = C, a->i[1] = H * W;
    }
    return 2;
}

static int grayscale_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    if (aug_check(c, 1, (int[]){1}, (ir_dtype[]){DT_F32}, err)) return -1;
    DIMS(0);
    aug_launch(l, "Grayscale", c->out[0].numel);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->out[0].data;
    l->args.i[0] = C, l->args.i[1] = H * W;
    return 1;
}

/* kernel weights [B,K], then the rows pass [B,C,H,W] */
static int64_t gaussian_blur_scratch(const ref_call *c) {
    DIMS(0);
    return (B * ir_get_i(c->node, "kernel_size") + c->in[0].numel) * (int64_t)sizeof(float);
}

static int gaussian_blur_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    if (aug_check(c, 1, (int[]){1}, (ir_dtype[]){DT_F32}, err)) return -1;
    DIMS(0);
    int64_t K = ir_get_i(c->node, "kernel_size");
    if (K < 1 || K % 2 == 0 || K / 2 >= H || K / 2 >= W) {
        snprintf(err, IR_ERRLEN, "GaussianBlur with kernel size %lld on %lldx%lld images has no device kernel",
                 (long long)K, (long long)H, (long long)W);
        return -1;
    }
    aug_launch(&l[0], "GaussianBlurKernel", B * K);
    aug_launch(&l[1], "GaussianBlurRows", c->out[0].numel);
    aug_launch(&l[2], "GaussianBlurCols", c->out[0].numel);
    for (int k = 0; k < 3; k++) {
        devop_args *a = &l[k].args;
        a->p[0] = c->in[0].data, a->p[1] = c->in[1].data, a->p[2] = c->out[0].data;
        a->p[3] = ws, a->p[4] = (float *)ws + B * K;
        a->i[0] = C, a->i[1] = H, a->i[2] = W, a->i[3] = K;
    }
    return 3;
}

static int solarize_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    if (aug_check(c, 1, (int[]){1}, (ir_dtype[]){DT_F32}, err)) return -1;
    DIMS(0);
    aug_launch(l, "Solarize", c->out[0].numel);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->out[0].data;
    l->args.i[0] = C * H * W;
    l->args.f[0] = ir_get_f(c->node, "threshold");
    return 1;
}

static int normalize_prepare(const ref_call *c, void *ws, devop_launch *l, char *err) {
    (void)ws;
    if (aug_check(c, 2, (int[]){1, 2}, (ir_dtype[]){DT_F32, DT_F32}, err)) return -1;
    DIMS(0);
    aug_launch(l, "Normalize", c->out[0].numel);
    l->args.p[0] = c->in[0].data, l->args.p[1] = c->in[1].data, l->args.p[2] = c->in[2].data;
    l->args.p[3] = c->out[0].data;
    l->args.i[0] = C, l->args.i[1] = H * W, l->args.i[2] = c->in[1].numel, l->args.i[3] = c->in[2].numel;
    return 1;
}

static const devop_def defs[] = {
    {OP_ToFloat, NULL, to_float_prepare},
    {OP_ResizedCrop, NULL, resized_crop_prepare},
    {OP_HorizontalFlip, NULL, hflip_prepare},
    {OP_ColorJitter, color_jitter_scratch, color_jitter_prepare},
    {OP_Grayscale, NULL, grayscale_prepare},
    {OP_GaussianBlur, gaussian_blur_scratch, gaussian_blur_prepare},
    {OP_Solarize, NULL, solarize_prepare},
    {OP_Normalize, NULL, normalize_prepare},
    {0},
};
static const devop_twin twins[] = {
    {"ToFloat", sslc_ToFloat},
    {"ResizedCrop", sslc_ResizedCrop},
    {"HorizontalFlip", sslc_HorizontalFlip},
    {"ColorJitterMean", sslc_ColorJitterMean},
    {"ColorJitter", sslc_ColorJitter},
    {"Grayscale", sslc_Grayscale},
    {"GaussianBlurKernel", sslc_GaussianBlurKernel},
    {"GaussianBlurRows", sslc_GaussianBlurRows},
    {"GaussianBlurCols", sslc_GaussianBlurCols},
    {"Solarize", sslc_Solarize},
    {"Normalize", sslc_Normalize},
    {0},
};
const devop_family devops_augment = {defs, twins};
