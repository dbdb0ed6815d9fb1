/* The backend interface: what every engine kind (ref, cpu, cuda) implements, so that
 * runtime/engine.c and its callers never know which one runs a step. docs/ARCHITECTURE.md
 * ("The backend interface") says how a backend is added.
 *
 * Values are addressed by the value ids of the graph the backend was built for (for the arena
 * backends, the lowered graph of the compiled step). Storage is the backend's own: host memory,
 * device memory, float64 in the reference interpreter. Callers move data only through upload
 * and download, in the value's graph dtype (float32 for float values, whatever the storage). */
#ifndef SSLC_BACKEND_H
#define SSLC_BACKEND_H
#include <stddef.h>
#include <stdint.h>

#include "../ir/ir.h"
#include "planfile.h"

typedef struct {
    const char *name; /* "ref", "cpu", "cuda" */
    /* bytes: numel * size of the value's graph dtype; 0, or -1 with err (IR_ERRLEN) */
    int (*upload)(void *self, int v, const void *src, size_t bytes, char *err);
    int (*download)(void *self, int v, void *dst, size_t bytes, char *err);
    /* a float value at full storage precision (float64 for the float64 reference) */
    int (*download_f64)(void *self, int v, double *dst, char *err);
    /* whether v has storage (parameters, state, inputs, outputs always have) */
    int (*has_value)(void *self, int v);
    /* one training step: every node or compiled step, then the graph's updates */
    int (*run)(void *self, char *err);
    /* waits until every queued step and copy is done (a no-op on the host backends) */
    int (*sync)(void *self, char *err);
    void (*free)(void *self);
} backend_ops;

/* What a backend is built from: the plan's train graph (g), and the plan itself when there is
 * one (a stored compiled step and its kernels). */
typedef struct {
    const ir_graph *g;       /* the graph to run (must outlive the backend) */
    const sslc_plan *plan;   /* NULL: a bare graph (probe, features, tests) */
    int f64;                 /* float values in float64 (the reference backend only) */
    int tf32;                /* TF32 tensor cores allowed (the cuda backend only) */
    const struct ir_comm *comm; /* the collectives' communicator (ir/comm.h); NULL: one rank */
    char *info;              /* optional one-line summary of what was built */
    size_t info_len;
} backend_args;

/* A backend instance: its table and its state. `graph` is the graph whose value ids it uses. */
typedef struct {
    const backend_ops *ops;
    void *self;
    const ir_graph *graph;
} backend;

/* The check every upload and download makes first: v names a value with storage (has_storage),
 * and bytes is numel * the size of its graph dtype. 0, or -1 with one line in err. */
int backend_value_check(const ir_graph *g, int v, int has_storage, size_t bytes, const char *backend, char *err);

/* The constructors (one per backend; each returns 0 and fills b, or -1 with err). */
int backend_ref_new(const backend_args *a, backend *b, char *err);
int backend_cpu_new(const backend_args *a, backend *b, char *err);
/* Whether this CPU has the AVX-512 bf16 instructions the cpu backend's bf16 plans need
 * (SSLC_CPU_BF16=0: pretend it has not, a test hook). */
int backend_cpu_has_bf16(void);
int backend_cuda_new(const backend_args *a, backend *b, char *err);

/* Library ops: the STEP_NODE steps of a compiled step (Conv, Gemm, ...) that a backend runs with
 * a library of its own instead of the op table's reference kernels. A backend's table has one
 * entry per op (NULL: the reference kernel runs the step, on host storage). ws is the step's
 * workspace in the arena (NULL when the step has none). 0, or -1 with err. */
typedef int (*libop_fn)(void *ctx, int step, const ref_call *c, void *ws, char *err);
typedef struct {
    void *ctx;
    libop_fn op[OP__COUNT];
} libop_table;

#endif
