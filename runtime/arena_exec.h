/* Arena executor: runs a planned step list with every materialized value at its planned
 * location (one allocation for the arena, one for the persistent region), then applies the
 * graph's updates. STEP_NODE steps run the op table's f32 reference kernels; STEP_KERNEL steps
 * go to a callback a backend provides. With the reference kernels it computes bit-for-bit what
 * the reference interpreter computes when the plan is safe, which is how plans are tested. */
#ifndef SSLC_ARENA_EXEC_H
#define SSLC_ARENA_EXEC_H
#include "../ir/ir.h"
#include "../passes/exec.h"
#include "../passes/memplan.h"

/* Runs one STEP_KERNEL step: in[k]/out[k] describe st->in[k]/st->out[k] at their planned
 * storage. Returns 0 or -1 with err (IR_ERRLEN) set. */
typedef int (*arena_kernel_fn)(void *ctx, const ir_graph *g, const exec_step *st, const ref_tensor *in,
                               const ref_tensor *out, char *err);

typedef struct {
    const ir_graph *g;
    const exec_step *steps;
    int nsteps;
    const memplan *mp;
    unsigned char *arena, *persist;
    ref_tensor *t; /* per value: its storage (data NULL for LOC_NONE) */
    arena_kernel_fn kernel;
    void *kernel_ctx;
    int poison; /* fill the arena with 0xFF (NaN) before each run: stale or unwritten reads show */
} arena_exec;

/* Allocates the arena and the persistent region (zeroed; constants copied in). The graph,
 * steps and plan must outlive the executor. f32 values only as floats (no f64 storage). */
int arena_exec_init(arena_exec *ax, const ir_graph *g, const exec_step *steps, int nsteps, const memplan *mp,
                    char *err);
void arena_exec_free(arena_exec *ax);
/* storage of value v (numel * dtype size bytes), NULL if not materialized */
void *arena_exec_data(const arena_exec *ax, int v);
/* Runs every step in order, then applies the updates (sources staged first, as the
 * interpreter does). Returns 0 or -1 with err set. */
int arena_exec_run(arena_exec *ax, char *err);

#endif
