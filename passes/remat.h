/* Rematerialization: forward activations that the backward pass reads again are recomputed
 * there from values it keeps anyway, instead of being kept alive from the forward pass to the
 * backward pass.
 *
 * A candidate is a large value y made by elementwise ops (ReLU(BatchNorm(x)), GELU(h), the
 * residual sum...) that is read both before and after the loss. Its chain is the elementwise
 * DAG back to anchors: leaves, small values (per-channel statistics), and large values the
 * backward pass reads anyway (the convolution output x that BatchNorm's gradient needs).
 * Backward readers of y get a copy of the chain, emitted just before the first of them, so y
 * dies after its last forward reader; fusion then folds the copy into the consumer's kernel or
 * writes it once for a library consumer (ConvGradWeight). The copy runs the same ops on the
 * same inputs, so results are unchanged. Per conv-BN-ReLU layer of a ResNet this keeps one
 * tensor across the step instead of two.
 *
 * The forward/backward boundary is the producer of the loss autodiff started from (the value
 * flagged VF_FORWARD_LOSS: in a data-parallel graph the rank's own loss, not the mean over ranks
 * made after the backward pass); a graph without one is copied unchanged. */
#ifndef SSLC_REMAT_H
#define SSLC_REMAT_H
#include "../ir/ir.h"

typedef struct {
    int values;    /* values recomputed in the backward pass */
    int nodes;     /* nodes added (the chain copies) */
    int64_t bytes; /* their total size */
} remat_stats;

/* out = in with the rematerialization applied; st may be NULL. 0, or -1 with err set. */
int remat_graph(const ir_graph *in, ir_graph *out, remat_stats *st, char *err);

#endif
