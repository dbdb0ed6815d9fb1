/* The linear probe: multinomial logistic regression on frozen features, itself a small graph
 * compiled by sslc (DESIGN "Eval"). The graph — input `features` f32 [B, F] and `labels` i64
 * [B], parameters probe.weight [C, F] and probe.bias [C], Gemm + softmax cross-entropy — goes
 * through autodiff and the optimizer pass like a method's train graph and runs on an engine
 * (cpu: fused JIT kernels) over seeded shuffled mini-batches for a fixed number of epochs, with
 * a cosine learning-rate decay fed by the host. Features are standardized with the training
 * set's per-dimension mean and deviation first (the model keeps them for prediction). */
#ifndef SSLC_PROBE_H
#define SSLC_PROBE_H
#include <stdint.h>

#include "../passes/optimizer.h"
#include "../runtime/engine.h"

typedef struct {
    int epochs;
    int batch;
    double lr;           /* peak learning rate, cosine-decayed to 0 over all steps */
    opt_config opt;      /* AdamW by default; bias excluded from weight decay */
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
