/* Method-building context: parameter sharing between calls of the same module (two views
 * through one encoder), state threading (each BatchNorm call updates the running statistics
 * that the next call reads, as sequential PyTorch forwards do), and layer helpers that name
 * parameters like torch.nn modules. */
#ifndef SSLC_MBUILD_H
#define SSLC_MBUILD_H
#include "../ir/builder.h"

typedef struct {
    ir_graph *g;
    int *cur; /* cur[state id] = value holding its latest content in this step, or -1 */
    int cap;
    int training;
    /* > 0: training-mode BatchNorm over the global batch of that many ranks (--sync-bn), built
     * from plain ops and AllReduce; 1 gives a one-rank run the same formulation (the reference
     * an N-rank run is compared with) */
    int sync_ranks;
    /* > 1: training-mode BatchNorm normalizes each of that many consecutive splits of the batch on
     * its own, with the op one rank runs, as that many ranks without --sync-bn do; the running
     * statistics follow the first split, as rank 0 keeps its own (MoCo's bn_splits: one process
     * computing what a shuffle-BN job computes). 0 or 1: the whole batch */
    int bn_splits;
    /* EMA mode (teacher / momentum encoders), see mb_ema_begin */
    char ema_target[128], ema_online[128];
    int ema_momentum; /* value id of the momentum scalar, -1 when inactive */
} mbuild;

void mb_init(mbuild *mb, ir_graph *g, int training);
void mb_free(mbuild *mb);
/* Parameter with the scoped name; returns the existing one when already created (shared
 * weights), failing if its shape differs. */
int mb_param(mbuild *mb, const char *leaf, ir_shape s, ir_init init, unsigned flags);
/* State tensor (get-or-create); returns the state value id. */
int mb_state(mbuild *mb, const char *leaf, ir_dtype dt, ir_shape s, ir_init init);
int mb_cur(mbuild *mb, int state);             /* latest value of a state */
void mb_advance(mbuild *mb, int state, int v); /* v becomes its latest value */
/* Adds graph updates state <- latest value for every state that changed. */
void mb_finish(mbuild *mb);

/* EMA mode: while active, mb_param (and mb_state) under the scope prefix `target_prefix`
 * create the teacher copy of the online tensor whose name has `online_prefix` instead: a
 * state initialized as a copy of it. For parameters the value used is the EMA update
 * m*t + (1-m)*online (online behind StopGradient), taken once per step before the first use and
 * written back as a state update; BatchNorm buffers follow the teacher's own forward passes.
 * Example (BYOL): mb_ema_begin(mb, "target_encoder.0", "backbone", tau_input). */
void mb_ema_begin(mbuild *mb, const char *target_prefix, const char *online_prefix, int momentum);
void mb_ema_end(mbuild *mb);

/* torch.nn.Linear(in, out, bias): weight [out,in], U(-1/sqrt(in), 1/sqrt(in)) init. */
int mb_linear(mbuild *mb, const char *name, int x, int64_t in, int64_t out, int bias);
/* torch.nn.Conv2d without bias, kaiming_normal_(mode='fan_out', relu) as torchvision ResNet. */
int mb_conv(mbuild *mb, const char *name, int x, int64_t cin, int64_t cout, int k, int stride, int pad);
/* torch.nn.BatchNorm1d/2d(C, affine): batch statistics when training (running stats and
 * num_batches_tracked updated), running statistics otherwise. */
int mb_batchnorm(mbuild *mb, const char *name, int x, int64_t c, int affine);

#endif
