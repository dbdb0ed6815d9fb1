#ifndef SSLC_AUTODIFF_H
#define SSLC_AUTODIFF_H
#include "../ir/ir.h"

/* Reverse-mode differentiation of the scalar `loss` with respect to `params`. Appends the
 * backward nodes to g; grads[i] receives the gradient of params[i], named "grad.<name>", or -1
 * when the loss does not depend on it. StopGradient and branches without trainable inputs
 * produce no backward nodes. Returns 0, or -1 with g->err set. */
int autodiff(ir_graph *g, int loss, const int *params, int nparams, int *grads);

/* Trainable parameters of g (VK_PARAM without VF_FROZEN) in creation order; caller frees. */
int ir_trainable_params(const ir_graph *g, int **out);

#endif
