/* The executor core of the arena backends (cpu now, cuda next): every materialized value at
 * its memory plan's location (one arena for the step's intermediates and workspaces, one
 * persistent region for inputs, parameters, state and constants), the step loop, and the update
 * phase (runtime/updates.h). A backend supplies two things: the callback that runs a fused
 * kernel, and its library-op table (runtime/backend.h); a STEP_NODE step whose op has no entry
 * runs the op table's f32 reference kernel. With the reference kernels and the C twin of every
 * fused kernel it computes bit for bit what the reference interpreter computes when the plan is
 * safe, which is how plans are tested. */
#ifndef SSLC_ARENA_EXEC_H
#define SSLC_ARENA_EXEC_H
#include "../ir/ir.h"
#include "../passes/exec.h"
#include "../passes/memplan.h"
#include "backend.h"
#include "updates.h"

typedef struct arena_exec arena_exec;

/* Where a device backend's storage lives: its regions come from alloc (zeroed), constants go in
 * through upload, and the update phase copies with copy, all on the backend's stream. The host
 * backends pass none (host memory, memcpy). With device storage a library step whose op has no
 * entry in the backend's table is an error, not the host reference kernel. */
typedef struct {
    void *ctx;
    void *(*alloc)(void *ctx, size_t bytes, char *err);
    void (*release)(void *ctx, void *p);
    int (*upload)(void *ctx, void *dst, const void *src, size_t bytes, char *err);
    int (*copy)(void *ctx, void *dst, const void *src, size_t bytes, char *err);
} arena_mem;

/* Runs the fused kernel of STEP_KERNEL step `step` (its values through arena_exec_data).
 * 0, or -1 with err (IR_ERRLEN) set. */
typedef int (*arena_kernel_fn)(void *ctx, const arena_exec *ax, int step, char *err);

struct arena_exec {
    const ir_graph *g;
    const exec_step *steps;
    int nsteps;
    const int *root;       /* per value: the value whose storage it shares (views), -1: never materialized; NULL: itself */
    const memplan *mp;     /* NULL: every value an allocation of its own (kernel-by-kernel tests) */
    const int64_t *ws_off; /* per step: its workspace's arena offset, or -1; NULL: no workspaces */
    const arena_mem *mem;  /* NULL: host memory */
    unsigned char *arena, *persist;
    unsigned char *owned;  /* without a memory plan: values with an allocation of their own */
    ref_tensor *t;         /* per value: storage in its own shape and dtype (views: their root's bytes) */
    arena_kernel_fn kernel;
    void *kernel_ctx;
    libop_table lib;
    updates_stage stage;
    struct exec_profile *prof; /* SSLC_PROFILE */
    struct exec_trace *trace;  /* SSLC_TRACE (runtime/trace.h): owned, closed by arena_exec_free; NULL: untraced */
    int trace_runs;            /* training steps traced so far */
    /* the communicator whose nonblocking collectives (AllReduceStart) the step loop lets advance
     * after every step while some are pending (ir/comm.h: progress); NULL: none */
    const struct ir_comm *comm;
    int poison; /* fill the arena with 0xFF (NaN) before each run: stale or unwritten reads show */
};

/* Places every value (constants copied in, everything else zeroed). The graph, steps, root, plan
 * and offsets must outlive the executor. Float values are float32 (no f64 storage). */
int arena_exec_init(arena_exec *ax, const ir_graph *g, const exec_step *steps, int nsteps, const int *root,
                    const memplan *mp, const int64_t *ws_off, char *err);
/* the same on a device backend's memory (mp required) */
int arena_exec_init_mem(arena_exec *ax, const ir_graph *g, const exec_step *steps, int nsteps, const int *root,
                        const memplan *mp, const int64_t *ws_off, const arena_mem *mem, char *err);
void arena_exec_free(arena_exec *ax);
/* storage of value v (numel * dtype size bytes), NULL if not materialized */
void *arena_exec_data(const arena_exec *ax, int v);
/* the reference-kernel call of node n on the executor's storage */
ref_call arena_exec_call(const arena_exec *ax, const ir_node *n, char *err);
/* runs step s alone (kernel-by-kernel tests) */
int arena_exec_step(arena_exec *ax, int s, char *err);
/* Runs every step in order, then the update phase. 0, or -1 with err set. */
int arena_exec_run(arena_exec *ax, char *err);

#endif
