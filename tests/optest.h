/* Test kit for ops: forward checks against plain C references and finite-difference gradient
 * checks in float64 through the reference interpreter. */
#ifndef SSLC_OPTEST_H
#define SSLC_OPTEST_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/builder.h"
#include "ir/ir.h"

/* One entry per op: the op name, a forward test and a gradient test (NULL where the op is
 * OPF_GRAD_ONLY or OPF_NO_GRAD; the enumeration test enforces this). Return 0 on success. */
typedef struct {
    const char *op;
    int (*fwd)(void);
    int (*grad)(void);
} op_test;

/* Families export a {NULL}-terminated table; tests/test_ops.c lists the families. */
#define OPTEST_FAMILY(name) const op_test optests_##name[]

/* Builds the function under test: create differentiable inputs with ir_param (their init
 * recipe sets the random distribution used by the check), everything else as constants.
 * Returns the output value to check. */
typedef int (*gc_build_fn)(ir_graph *g, void *ctx);

/* Finite-difference check: loss = sum(out * R) for a fixed random R; central differences
 * with step h on every element of every param, compared with autodiff in float64.
 * Fails if max |fd - ad| > tol * max(1, max|ad|). Prints a line either way. */
int gradcheck(const char *label, gc_build_fn build, void *ctx, double tol);

/* Runs the graph built by `build` in float32 and copies output into out (numel floats). */
int run_forward_f32(gc_build_fn build, void *ctx, float *out, int64_t numel);

/* random helpers (deterministic) */
void test_fill_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed);
/* The SimCLR train graph on a full-width backbone at size x size, 3 channels, views as inputs,
 * SGD lr 0.05; `set` is one method option ("projection_dim=16") or NULL. 0, or -1 with err. */
int test_simclr_graph(ir_graph *g, const char *backbone, int size, int64_t batch, const char *set, char *err);
/* max |a-b| / max(1e-12, max|b|) */
double rel_err(const float *a, const float *b, int64_t n);
double max_abs_diff(const float *a, const float *b, int64_t n);

/* ops seen in any graph built by gradcheck (forward + backward), for coverage of GRAD_ONLY ops */
extern unsigned char optest_ops_seen[OP__COUNT];

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                   \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fprintf(stderr, "\n");                                                                                 \
            return 1;                                                                                              \
        }                                                                                                          \
    } while (0)

#endif
