/* What an op family file (ir/ops/<family>.c) needs. Those files are compiled twice: once
 * with `real` = float (reference kernels *_f32 plus the op definitions) and once with
 * SSLC_REF_F64 (`real` = double, kernels *_f64 only), so gradient checks can run in float64. */
#ifndef SSLC_OPKIT_H
#define SSLC_OPKIT_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "ir.h"

#ifdef SSLC_REF_F64
typedef double real;
#define KN(x) x##_f64
#else
typedef float real;
#define KN(x) x##_f32
#endif

#define REF_PROTO(x)                                                                                               \
    int x##_f32(const ref_call *c);                                                                                \
    int x##_f64(const ref_call *c)
#define REF(x) .ref_f32 = x##_f32, .ref_f64 = x##_f64

/* Shorthands for kernels: typed data pointers of inputs/outputs. */
#define IN(k) ((const real *)c->in[k].data)
#define OUT(k) ((real *)c->out[k].data)
#define IN_I64(k) ((const int64_t *)c->in[k].data)

/* numpy broadcasting of two shapes; -1 if incompatible */
int ir_broadcast_shape(const ir_shape *a, const ir_shape *b, ir_shape *out);
/* element strides of `in` laid out against `out` (right-aligned), 0 where broadcast */
void ir_bcast_strides(const ir_shape *in, const ir_shape *out, int64_t *strides);
/* row-major strides */
void ir_strides(const ir_shape *s, int64_t *strides);
/* normalizes a possibly negative axis; -1 if out of range */
int ir_norm_axis(int64_t axis, int ndim);

/* Slice's attributes normalized per dim of x (shape xs): the output takes x[start + i*step],
 * i < cnt, along every dim (ir/ops/shape.c; the device kernels use it too). 0, or -1 with err
 * (n bytes). */
int ir_slice_plan(const ir_node *node, const ir_shape *xs, int64_t *start, int64_t *step, int64_t *cnt, char *err,
                  size_t n);

/* shape inference helpers shared by families */
int ir_infer_same(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od);      /* out0 = in0 */
int ir_infer_broadcast(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od); /* out0 = bcast(in0,in1) */

#include "gemm.h"
#define REF_GEMM KN(ref_gemm)


static inline const ir_value *ir_val(const ir_graph *g, int v) { return &g->vals[v]; }

#endif
