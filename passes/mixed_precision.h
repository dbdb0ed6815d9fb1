/* bf16 mixed precision (`--precision bf16`): the products of the train graph (Conv and its two
 * gradients, MatMul, Gemm) take bfloat16 operands and accumulate and write float32.
 *
 * The pass rewrites the finished train graph (after autodiff and the optimizer): each float32
 * operand of a product is replaced by Cast(x, bf16), one cast per value and side of the
 * forward/backward boundary (parameters included: a weight's bf16 copy does not live through the
 * loss). share_activations makes one cast of an activation serve both sides, keeping its bf16
 * copy alive into the backward pass; it saves nothing while the float32 original also stays for
 * the gradients of BatchNorm and the activations (every method's arena grows, by 6-50 %), so sslc
 * does not use it. Nothing
 * else changes dtype: BatchNorm and its statistics, softmax and normalizations, losses, the
 * optimizer, parameters (the master weights) and state stay float32, so checkpoints are float32.
 * Biases stay float32 (added to the float32 accumulator). */
#ifndef SSLC_MIXED_PRECISION_H
#define SSLC_MIXED_PRECISION_H
#include "../ir/ir.h"

typedef struct {
    int products; /* product nodes given bf16 operands */
    int casts;    /* Cast nodes inserted */
} bf16_stats;

/* out = in with bf16 operands for every product; st may be NULL. 0, or -1 with err set. */
int bf16_graph(const ir_graph *in, int share_activations, ir_graph *out, bf16_stats *st, char *err);

/* out = the float32 graph in of a bf16 graph: every Cast to bf16 removed (its readers take its
 * input), for comparing the two memory plans (sslc inspect). 0, or -1 with err set. */
int bf16_strip(const ir_graph *in, ir_graph *out, char *err);

#endif
