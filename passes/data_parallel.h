/* The data-parallel pass: makes one rank's train graph a member of a job of `ranks` ranks.
 * After autodiff and before the optimizer it averages every parameter gradient over the ranks
 * (AllReduce(mean): each rank's loss is over its batch of B, so the mean over ranks is the loss
 * of the global batch of ranks x B), and reports the loss as that mean too.
 *
 * Gradients are flattened into buckets of about `bucket_elems` elements, filled in the order
 * backward produces them (the last layers' first); each bucket is one Concat -> AllReduce ->
 * Slice group that depends on its own gradients only. With `overlap` the AllReduce is split
 * into AllReduceStart -> AllReduceWait (ir/ops/collective.c), and the cpu pipeline's scheduler
 * (passes/schedule.h) issues each start as soon as its bucket's last gradient exists and each
 * wait just before the first step that reads the bucket, so the communication overlaps the rest
 * of the backward pass; without it (SSLC_DP_OVERLAP=0) each bucket is one blocking AllReduce,
 * with bit-identical sums. Nodes stay in creation order (a plan requires it): the reference
 * interpreter runs the buckets after the backward pass. The reduced gradients take the names grad.<param>; the local ones
 * become grad.<param>.local; bucket k's reduced values are dp.bucket.k. */
#ifndef SSLC_DATA_PARALLEL_H
#define SSLC_DATA_PARALLEL_H
#include <stdint.h>

#include "../ir/ir.h"

#define DP_BUCKET_ELEMS_DEFAULT (1 << 20) /* 4 MiB of float32 per bucket */

/* grads[i] (value ids, -1: no gradient) are replaced by the reduced ones; *loss by the mean
 * loss. *nbuckets receives the bucket count. 0, or -1 with g->err. */
int dp_allreduce_grads(ir_graph *g, int *loss, int *grads, int np, int ranks, int64_t bucket_elems, int overlap,
                       int *nbuckets);

/* the rank count a graph was built for: the `ranks` of its collectives (1 without any); -1 if
 * two collectives disagree */
int dp_graph_ranks(const ir_graph *g);

#endif
