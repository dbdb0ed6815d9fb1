/* Lowering: rewrites composite ops (BatchNormalization and its gradient, Softmax, LogSoftmax
 * and their gradients, GlobalAveragePool, ReduceMean) into elementwise ops and ReduceSum /
 * ReduceMax, so that fusion can group statistics, normalization and activations into one
 * kernel. The lowered graph computes the same values (up to rounding) and keeps every named
 * value, output and update. */
#ifndef SSLC_LOWER_H
#define SSLC_LOWER_H
#include "../ir/ir.h"

int lower_graph(const ir_graph *in, ir_graph *out, char *err);

#endif
