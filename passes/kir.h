/* Kernel IR: one fused group as an iteration domain, loads with index maps, an expression DAG,
 * reductions and stores. Both emitters (C with OpenMP, CUDA C for NVRTC) read it.
 *
 * A kernel iterates over `dom`. Axes in `redmask` are reduced: for every outer index o (the
 * non-reduced axes, row-major) the reductions run in phases over the inner index i (the reduced
 * axes), each phase a loop; then outer-level expressions (functions of reductions and of
 * tensors indexed by o) are evaluated once, and a final loop over i evaluates and stores the
 * full-level expressions. Without reductions the kernel is one flat loop over all elements.
 *
 * Fusion produces it, so it lives with the passes; the emitters (codegen/emit.h) only read it. */
#ifndef SSLC_KIR_H
#define SSLC_KIR_H
#include <stdint.h>

#include "../ir/ir.h"

#define KIR_MAX_LOADS 48
#define KIR_MAX_STORES 48
#define KIR_MAX_EXPRS 512
#define KIR_MAX_REDS 8

typedef enum { KX_LOAD, KX_CONST, KX_UNARY, KX_BINARY, KX_RED } kx_kind;
typedef enum { LV_FULL, LV_OUTER } kx_level; /* per element of dom, or per outer index */

typedef struct {
    kx_kind kind;
    kx_level level;
    int op;     /* KX_UNARY/KX_BINARY: the ir op (OP_Add, OP_Exp, OP_Where0 ...) */
    int a, b;   /* operand expressions */
    int ge;     /* OP_Where0: compare >= 0 instead of > 0 */
    int load;   /* KX_LOAD: index into loads */
    double c;   /* KX_CONST */
    int red;    /* KX_RED: reduction whose result this is */
} kx_expr;

typedef struct {
    int value;                    /* materialized value read (storage root) */
    int64_t stride[IR_MAX_DIMS];  /* element stride per domain axis (0 = broadcast); LV_FULL loads */
    kx_level level;               /* LV_OUTER: indexed by the outer index o directly */
    int scalar;                   /* one element: always index 0 */
} k_load;

typedef struct {
    int is_max; /* sum otherwise */
    int expr;   /* LV_FULL expression reduced over the inner index */
    int phase;  /* loop in which it is computed (after the reductions it reads) */
} k_red;

typedef struct {
    int value; /* materialized value written, contiguous */
    int expr;
} k_store;

typedef struct {
    ir_shape dom;
    int64_t counter_by; /* nonzero: an int64 counter kernel, S0 = L0 + counter_by */
    unsigned redmask;
    int nloads, nexprs, nreds, nstores, nphases;
    k_load loads[KIR_MAX_LOADS];
    kx_expr exprs[KIR_MAX_EXPRS];
    k_red reds[KIR_MAX_REDS];
    k_store stores[KIR_MAX_STORES];
} kir;

/* outer and inner element counts of a kernel */
int64_t kir_outer(const kir *k);
int64_t kir_inner(const kir *k);

#endif
