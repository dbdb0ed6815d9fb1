/* Builder API: small functions that add one node and return its (first) output value id.
 * All of them propagate failure: an input id of -1 or a shape error yields -1 and latches
 * g->err, so callers check g->failed once after building. */
#ifndef SSLC_BUILDER_H
#define SSLC_BUILDER_H
#include "ir.h"

/* node `op` on inputs with default attributes; returns output 0 or -1 */
int ir_simple(ir_graph *g, int op, const int *in, int nin);

/* leaves */
int ir_input(ir_graph *g, const char *name, ir_dtype dt, ir_shape s);
/* Parameter named scope + leaf, trainable unless VF_FROZEN is in flags. */
int ir_param(ir_graph *g, const char *leaf, ir_shape s, ir_init init, unsigned flags);
int ir_state(ir_graph *g, const char *leaf, ir_dtype dt, ir_shape s, ir_init init);
int ir_const(ir_graph *g, ir_dtype dt, ir_shape s, const void *data); /* copies data */
int ir_scalar(ir_graph *g, double v);                                  /* f32 [] */
ir_init ir_init_const(double v);
ir_init ir_init_normal(double mean, double std);
ir_init ir_init_uniform(double lo, double hi);
ir_init ir_init_copy(int src);
/* normal(mean, std) draws, then every vector along axis 0 scaled to unit L2 norm:
 * F.normalize(torch.randn(D, K), dim=0) for mean 0, std 1 (MoCo's queue) */
ir_init ir_init_normal_l2(double mean, double std);
/* normal draws, each row (vector along the last axis) scaled to unit L2 norm: F.normalize(x, dim=-1) */
ir_init ir_init_normal_l2_rows(double mean, double std);

/* elementwise, numpy broadcasting */
int ir_add(ir_graph *g, int a, int b);
int ir_sub(ir_graph *g, int a, int b);
int ir_mul(ir_graph *g, int a, int b);
int ir_div(ir_graph *g, int a, int b);
int ir_pow(ir_graph *g, int a, int b);
int ir_max(ir_graph *g, int a, int b);
int ir_neg(ir_graph *g, int x);
int ir_exp(ir_graph *g, int x);
int ir_log(ir_graph *g, int x);
int ir_sqrt(ir_graph *g, int x);
int ir_relu(ir_graph *g, int x); /* gradient: Where0(y, gy) */
int ir_gelu(ir_graph *g, int x); /* exact (erf) GELU, as torch.nn.GELU() */
int ir_identity(ir_graph *g, int x);
int ir_stop_gradient(ir_graph *g, int x);
int ir_add_scalar(ir_graph *g, int x, double s);
int ir_mul_scalar(ir_graph *g, int x, double s);
/* Where0(cond, x): x where cond > 0 else 0 (mask for ReLU/Max gradients) */
int ir_where0(ir_graph *g, int cond, int x);

/* reductions (axes may be negative; n == 0 means all axes) */
int ir_reduce_sum(ir_graph *g, int x, const int64_t *axes, int n, int keepdims);
int ir_reduce_mean(ir_graph *g, int x, const int64_t *axes, int n, int keepdims);
int ir_reduce_max(ir_graph *g, int x, const int64_t *axes, int n, int keepdims);
int ir_expand(ir_graph *g, int x, ir_shape to);
/* Sums x down to shape `to` (inverse of broadcasting): used by gradient rules. */
int ir_sum_to(ir_graph *g, int x, ir_shape to);

/* shape */
int ir_concat(ir_graph *g, const int *xs, int n, int axis);
int ir_slice(ir_graph *g, int x, int axis, int64_t start, int64_t end); /* step 1 */
int ir_pad(ir_graph *g, int x, const int64_t *pads_begin, const int64_t *pads_end); /* zeros */
int ir_transpose(ir_graph *g, int x, const int64_t *perm, int n);
int ir_reshape(ir_graph *g, int x, ir_shape to);
int ir_flatten(ir_graph *g, int x, int axis);

/* linear algebra */
int ir_matmul(ir_graph *g, int a, int b); /* numpy matmul, batched */
/* alpha * op(A) op(B) + beta * C; C may be -1; C broadcast to [M,N] */
int ir_gemm(ir_graph *g, int a, int b, int c, int trans_a, int trans_b, double alpha, double beta);

/* nn */
int ir_softmax(ir_graph *g, int x, int axis);
int ir_log_softmax(ir_graph *g, int x, int axis);
/* mean over rows of -log_softmax(logits)[i, labels[i]]; labels i64 [N] */
int ir_softmax_ce(ir_graph *g, int logits, int labels);
int ir_conv(ir_graph *g, int x, int w, int b, int stride, int pad, int groups);
int ir_maxpool(ir_graph *g, int x, int kernel, int stride, int pad);
int ir_global_avg_pool(ir_graph *g, int x); /* [N,C,H,W] -> [N,C,1,1] */
/* Training mode: batch statistics; *new_mean / *new_var receive the running-stat outputs
 * (momentum 0.1 by default, unbiased variance) when non-NULL. scale/bias may be -1 (no affine).
 * Eval mode (training = 0): running statistics, no new stats. Works for [N,C] and [N,C,H,W]. */
int ir_batchnorm(ir_graph *g, int x, int scale, int bias, int mean, int var, double eps, double momentum,
                 int training, int *new_mean, int *new_var);
int ir_increment(ir_graph *g, int x); /* integer +1 (num_batches_tracked) */
/* ONNX LayerNormalization / torch.nn.LayerNorm: normalizes over the dims from `axis` (may be
 * negative; -1 = last) with the biased variance; scale and bias have shape x.shape[axis:].
 * scale -1: ones (no affine); bias -1: none. torch's default eps is 1e-5, timm's ViT uses 1e-6. */
int ir_layernorm(ir_graph *g, int x, int scale, int bias, int axis, double eps);

/* comparison and conversion */
int ir_equal(ir_graph *g, int a, int b); /* a == b -> bool, numpy broadcasting, one dtype */
/* Cast to f32, f64, i32, i64, u8 or bool (ONNX Cast; float -> integer truncates, saturating);
 * differentiable between float types */
int ir_cast(ir_graph *g, int x, ir_dtype to);

/* index of the first maximum along axis -> i64 (not differentiable) */
int ir_argmax(ir_graph *g, int x, int axis, int keepdims);
/* data[indices] along axis 0: [K, ...] and i64 indices -> indices.shape + data.shape[1:] */
int ir_gather(ir_graph *g, int data, int indices);

/* queue state (MoCo): writes the N rows of keys [N,D] into queue at the pointer (one i64
 * element p) and returns the new queue; *new_ptr receives (p + N) mod K. axis 1: queue [D,K]
 * with entries as columns (PySSL's layout); axis 0: queue [K,D] with entries as rows. */
int ir_queue_write(ir_graph *g, int queue, int keys, int ptr, int axis, int *new_ptr);

/* collectives (ir/ops/collective.c) over a job of `ranks` ranks, along axis 0 where they split */
int ir_all_reduce(ir_graph *g, int x, int ranks, int mean); /* sum, or mean over ranks */
/* an AllReduce in two: the start begins the sum, the wait (reading the start's output) finishes it */
int ir_all_reduce_start(ir_graph *g, int x, int ranks);
int ir_all_reduce_wait(ir_graph *g, int started, int ranks, int mean);
int ir_all_gather(ir_graph *g, int x, int ranks);           /* [n,...] -> [ranks*n,...] */
int ir_reduce_scatter(ir_graph *g, int x, int ranks);       /* [ranks*n,...] -> [n,...], summed */
int ir_broadcast(ir_graph *g, int x, int ranks, int root);

/* augmentation (ir/ops/augment.c): images float [B,C,H,W] in [0,1], per-sample parameters as
 * tensors; torchvision 0.14 tensor semantics. Flags are float [B] (nonzero = apply). */
int ir_to_float(ir_graph *g, int x_u8); /* u8 -> f32 / 255 */
/* box i32 [B,4] = (top, left, height, width) inside the image; output [B,C,out_h,out_w] */
int ir_resized_crop(ir_graph *g, int x, int box, int64_t out_h, int64_t out_w, int bicubic);
int ir_hflip(ir_graph *g, int x, int flag);
/* factors [B,4] = brightness, contrast, saturation, hue; order i32 [B,4] of 0..3 (the adjust_*
 * functions in that order) or -1 (skipped) */
int ir_color_jitter(ir_graph *g, int x, int factors, int order);
int ir_grayscale(ir_graph *g, int x, int flag);                    /* 3 output channels; C=1: no-op */
int ir_gaussian_blur(ir_graph *g, int x, int sigma, int kernel_size); /* sigma [B]; <= 0: no blur */
int ir_solarize(ir_graph *g, int x, int flag, double threshold);
int ir_normalize(ir_graph *g, int x, int mean, int std); /* mean, std: [C] or [1] consts */

#endif
