/* Projector / predictor heads shared by the methods, named like the torch.nn modules of PySSL
 * (nn.Sequential indices), under the scope the caller gives. */
#ifndef SSLC_HEADS_H
#define SSLC_HEADS_H
#include "mbuild.h"

/* One layer of an MLP head: a Linear, optionally followed by BatchNorm1d and ReLU. Module
 * paths are relative to the head's scope and may contain dots ("layer1.0"). */
typedef struct {
    const char *linear; /* module path of the Linear */
    int64_t out;        /* its output features */
    int bias;           /* Linear bias */
    const char *bn;     /* module path of the BatchNorm1d(out), or NULL */
    int bn_affine;      /* BatchNorm1d affine (weight and bias) */
    int relu;           /* ReLU after (the BatchNorm of) this layer */
} head_layer;

/* Enters / leaves a dotted scope path ("target_encoder.1"): pushes each part, so that
 * ir_scope_pop-based helpers inside see ordinary one-part scopes. */
void head_scope_enter(ir_graph *g, const char *path);
void head_scope_leave(ir_graph *g, const char *path);

/* x [N, in] through the layers under scope `scope` (NULL: the current scope). */
int head_mlp(mbuild *mb, const char *scope, int x, int64_t in, const head_layer *layers, int n);

/* Sequential(Linear(in,hidden), ReLU, Linear(hidden,out)) named layer1.0 / layer1.2
 * (SimCLR, SupCon). */
int head_linear_relu_linear(mbuild *mb, const char *scope, int x, int64_t in, int64_t hidden, int64_t out);

/* layer1 = Sequential(Linear(in,hidden), BatchNorm1d(hidden), ReLU), then Linear(hidden,out)
 * at `last` ("layer2.0" for BYOL's MLP, "layer2" for SimSiam's predictor). */
int head_linear_bn_relu_linear(mbuild *mb, const char *scope, int x, int64_t in, int64_t hidden, int64_t out,
                               const char *last);

/* n_layers >= 2 layers layerK = Sequential(Linear, BatchNorm1d, ReLU) with hidden features,
 * the last Linear(hidden, out) followed by BatchNorm1d(out) when last_bn (SimCLRv2, SimSiam,
 * Barlow Twins without bias and without the last BatchNorm). */
int head_linear_bn_stack(mbuild *mb, const char *scope, int x, int64_t in, int64_t hidden, int64_t out, int n_layers,
                         int bias, int last_bn);

#endif
