/* Shared pieces of the MoCo family (moco.c, mocov2.c, mocov3.c). */
#ifndef SSLC_MOCO_H
#define SSLC_MOCO_H
#include "method.h"

/* Options of the queue-based MoCo v1/v2, PySSL's names and defaults. */
#define MOCO_QUEUE_OPTS                                                                                            \
    {"projection_dim", MO_INT, 128, "output size of the projector (queue entry size)"},                           \
        {"K", MO_INT, 65536, "queue length (negative keys); must be divisible by the batch size"},                 \
        {"m", MO_FLOAT, 0.999, "key encoder EMA momentum (per-step input sched.m)"},                               \
        {"temperature", MO_FLOAT, 0.07, "InfoNCE temperature"},                                                   \
        {"shuffle_bn", MO_BOOL, 0,                                                                                  \
         "shuffle-BN: the key encoder runs on a seeded permutation of the global batch, each rank on its block, "  \
         "and its keys are put back in order (the reference's _batch_shuffle_ddp); off by default (notes)"},       \
        {"bn_splits", MO_INT, 1,                                                                                    \
         "BatchNorm over that many consecutive splits of each rank's batch, running statistics from the first: "   \
         "one process computes what that many ranks without --sync-bn compute"}

/* `sslc methods` notes of MoCo v1/v2: the data-parallel queue and shuffle-BN */
#define MOCO_QUEUE_NOTES                                                                                           \
    "data-parallel: the queue takes every rank's keys in rank order (AllGather), as the reference's "              \
    "concat_all_gather; K must divide by the global batch. shuffle-BN (shuffle_bn=1): the key encoder runs on "     \
    "its rank's block of a seeded permutation of the global batch, drawn on the host per step from the run's "      \
    "seed (resume repeats it), and its keys are gathered and put back in order, as the reference's "                \
    "_batch_shuffle_ddp/_batch_unshuffle_ddp; it costs two gathers (the key images and the keys) per step. The "   \
    "reference always shuffles (it runs under DDP only); sslc's default is off because it follows PySSL, which "    \
    "has one device and no shuffle (on one device it would only reorder the rows of one BatchNorm batch), and "    \
    "because --sync-bn is the other cure for BatchNorm's leak across ranks (the two together are refused): turn "   \
    "it on over ranks without --sync-bn to train as the reference does. bn_splits=S computes on one process what "  \
    "S ranks without --sync-bn compute (each split normalized alone, running statistics from the first split as "   \
    "rank 0's; the MoCo CIFAR demo's SplitBatchNorm averages them instead)"

/* Builds the projector named `name` in the current scope: h [N, f] -> [N, projection_dim]. */
typedef int (*moco_projector_fn)(method_ctx *ctx, const char *name, int h);

/* temperature > 0, m in [0, 1], projection_dim >= 1 */
int moco_check_common(const method_ctx *ctx, char *err);
int moco_queue_validate(const method_ctx *ctx, char *err);
/* MoCo v1/v2: query encoder backbone + projector, key encoder encoder_k = EMA copy
 * (encoder_k.0 = backbone, encoder_k.1 = projector), InfoNCE of q against its key and the
 * queue, then the keys enqueued at queue_ptr. */
int moco_queue_build(method_ctx *ctx, moco_projector_fn projector);

/* Key encoder as an EMA copy of backbone + projector: runs x through encoder_k (momentum m,
 * the per-step input) and returns its output (not normalized, behind StopGradient). */
int moco_key_encoder(method_ctx *ctx, int x, int m, moco_projector_fn projector);

/* heads.c: MoCo v3 heads as PySSL (SimCLRv2-style projector, BYOL-style predictor) */
/* layer1..3 = Sequential(Linear, BatchNorm1d[, ReLU]): in -> hidden -> hidden -> out */
int mocov3_projector(mbuild *mb, const char *name, int x, int64_t in, int64_t hidden, int64_t out);
/* layer1 = Sequential(Linear(in, hidden), BatchNorm1d, ReLU), layer2 = Sequential(Linear(hidden, out)) */
int mocov3_predictor(mbuild *mb, const char *name, int x, int64_t in, int64_t hidden, int64_t out);

/* losses.c */
/* PySSL MoCo infonce_loss: logits [q.k, q.queue] / temperature, positive at index 0, mean CE.
 * q, k: [N, D] L2-normalized; queue [D, K]. */
int infonce_queue_loss(ir_graph *g, int q, int k, int queue, double temperature);
/* PySSL MoCo v3 infonce_loss: q, k L2-normalized here, logits q k^T / temperature, labels
 * arange(N), mean CE. */
int infonce_inbatch_loss(ir_graph *g, int q, int k, double temperature);

#endif
