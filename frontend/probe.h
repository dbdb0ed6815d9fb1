/* The linear probe: multinomial logistic regression on frozen features, itself a small graph
 * compiled by sslc (DESIGN "Eval"). The graph — input `features` f32 [B, F] and `labels` i64
 * [B], parameters probe.weight [C, F] and probe.bias [C], Gemm + softmax cross-entropy — goes
 * through autodiff and the optimizer pass like a method's train graph and runs on an engine
 * (cpu: fused JIT kernels) over seeded shuffled mini-batches for a fixed number of epochs, with
 * a cosine learning-rate decay fed by the host. Features are standardized with the training
 * set's per-dimension mean and deviation first (the model keeps them for prediction).
 *
 * The L2 weight decay matters (raw pixels want some, weak features want none, few noisy samples
 * want a lot), so it is chosen from a log grid on a seeded validation split of the training set
 * (10 %): one shorter fit per candidate on the other 90 %, the best validation top-1 wins (the
 * smaller decay on a tie), then the final fit on the whole training set. The test split is never
 * seen. The step size is relative to the curvature: lr / (the top eigenvalue of the standardized
 * features' covariance), so correlated features (pixels) do not make SGD oscillate. SGD with
 * Nesterov momentum and coupled decay (torch.optim.SGD) this way comes within 0.2 % of an
 * L-BFGS fit of the same objective on Fashion-MNIST pixels and random-encoder features. */
#ifndef SSLC_PROBE_H
#define SSLC_PROBE_H
#include <stdint.h>

#include "../passes/optimizer.h"
#include "../runtime/engine.h"

#define PROBE_MAX_WD 8

typedef struct {
    int epochs;
    int batch;
    double lr;           /* peak learning rate, cosine-decayed to 0 over all steps; in units of
                            1 / (the top eigenvalue of the standardized features' covariance)
                            when lr_relative */
    int lr_relative;
    int64_t min_steps;   /* small data sets train for more epochs to get at least this many */
    int select_epochs;   /* epochs of each fit of the weight-decay selection */
    opt_config opt;      /* SGD, momentum 0.9, Nesterov; the bias is excluded from weight decay */
    int nwd;             /* weight-decay candidates (1: no selection, wd[0] is used) */
    double wd[PROBE_MAX_WD];
    double val_fraction; /* of the training set, for the selection */
    uint64_t seed;       /* the mini-batch order */
    engine_kind device;
    int verbose;         /* a summary line on stderr */
} probe_opts;

probe_opts probe_defaults(void);

typedef struct {
    int64_t dim;
    int classes;
    float *mean, *std; /* [dim] standardization */
    float *w, *b;      /* [classes, dim], [classes] on standardized features */
    double train_loss; /* mean loss of the last epoch */
    double weight_decay;            /* the chosen one */
    double val_top1[PROBE_MAX_WD];  /* per candidate, percent (when selected) */
    int64_t nval;                   /* validation samples (0: no selection) */
    int64_t epochs;                 /* of the final fit (more than asked on small data: min_steps) */
} probe_model;

/* Builds the probe's train graph (forward, loss, gradients, optimizer) into g (ir_graph_init'ed).
 * Returns 0 or -1 with err. */
int probe_build(ir_graph *g, int64_t batch, int64_t dim, int classes, const opt_config *opt, char *err);

/* Fits the probe on x [n, dim] with labels y in [0, classes). 0 or -1 with err. */
int probe_fit(const probe_opts *o, const float *x, const int64_t *y, int64_t n, int64_t dim, int classes,
              probe_model *m, char *err);
/* Predicted classes of x [n, dim] (standardized on the fly; host sgemm). 0 or -1 (memory). */
int probe_predict(const probe_model *m, const float *x, int64_t n, int64_t *pred, char *err);
void probe_free(probe_model *m);

#endif
